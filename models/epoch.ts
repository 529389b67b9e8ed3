/**
 * Training and evaluation loops. Steps are recorded into few, large submits; the only readback
 * is of the device-side totals, a few times a second for progress, which also keeps at most two
 * chunks of steps in flight.
 */
import type { Dispatch } from "../engine/backend.ts";
import type { CompiledModel } from "./model.ts";
import type { DeviceDataSet } from "./dataset.ts";

/** What one pass over a data set gave. */
export interface PassResult {
  /** Mean per-sample loss over the pass. */
  readonly loss: number;
  /** Correct predictions over samples. */
  readonly accuracy: number;
  /** Samples seen. */
  readonly samples: number;
  /** Batches run. */
  readonly steps: number;
  /** Wall time of the pass. */
  readonly seconds: number;
  /** Command-buffer submits the pass made (0 on the CPU). */
  readonly submits: number;
}

/**
 * Called a few times a second during a pass: steps done of all, seconds so far, and the pass's totals so
 * far (the loss sum only where the pass was asked to read it).
 */
export type Progress = (stepsDone: number, steps: number, seconds: number, totals: PassTotals) => void;

/** A pass's device-side totals so far. */
export interface PassTotals {
  /** Correct predictions so far. */
  readonly correct: number;
  /** Samples seen so far. */
  readonly samples: number;
  /** Sum of the per-sample losses; NaN unless the pass reads it (TrainEpochOptions.readLoss). */
  readonly lossSum: number;
}

/** How a training pass reports and where it may stop short. */
export interface TrainEpochOptions {
  /** Called a few times a second, as the pass reads its totals back. */
  readonly onProgress?: Progress;
  /** Train at most this many steps of the epoch's (a short run). */
  readonly maxSteps?: number;
  /** At most this many steps per submit, so that progress comes at least that often (a live curve). */
  readonly maxChunkSteps?: number;
  /** Read the loss sum with each progress readback too, for a live loss curve. */
  readonly readLoss?: boolean;
  /** Asked after each chunk: true ends the pass there (its result counts the steps run). */
  readonly shouldStop?: () => boolean;
}

/** Most steps recorded into one submit; and the wall time a chunk should take at most. */
const MAX_CHUNK_STEPS = 4096;
const TARGET_CHUNK_SECONDS = 1;

/** One epoch of plain SGD over `data` in `order` (or its first `options.maxSteps` steps). */
export function trainEpoch(
  model: CompiledModel,
  data: DeviceDataSet,
  learningRate: number,
  order: Uint32Array,
  options: TrainEpochOptions = {},
): Promise<PassResult> {
  data.setOrder(order);
  model.setLearningRate(learningRate);
  const steps = Math.min(data.steps(model.batch), options.maxSteps ?? Infinity);
  return runPass(model, model.trainStep(data.gatherFor(model)), steps, options);
}

/** Loss and accuracy over `data` in its stored order, without training. */
export function evaluate(
  model: CompiledModel,
  data: DeviceDataSet,
  onProgress?: Progress,
): Promise<PassResult> {
  return runPass(model, model.evaluationStep(data.gatherFor(model)), data.steps(model.batch), { onProgress });
}

async function runPass(
  model: CompiledModel,
  step: readonly Dispatch[],
  steps: number,
  options: TrainEpochOptions,
): Promise<PassResult> {
  const { backend } = model;
  const { onProgress, readLoss, shouldStop } = options;
  const maxChunk = Math.max(1, Math.min(options.maxChunkSteps ?? MAX_CHUNK_STEPS, MAX_CHUNK_STEPS));
  model.resetTotals();
  const submitsBefore = backend.submits;
  const start = performance.now();
  let done = 0, chunk = Math.min(8, maxChunk), lastRead = start;
  const readTotals = () =>
    Promise.all([backend.read(model.stats), readLoss ? backend.read(model.lossSum) : undefined]);
  const totalsOf = ([stats, lossSum]: Awaited<ReturnType<typeof readTotals>>): PassTotals => ({
    correct: stats[1],
    samples: stats[2],
    lossSum: lossSum ? lossSum[0] + lossSum[1] : NaN,
  });
  let pending: ReturnType<typeof readTotals> | undefined;
  while (done < steps) {
    const count = Math.min(chunk, steps - done);
    backend.run(step, count);
    done += count;
    if (pending) {
      const totals = await pending;
      const now = performance.now();
      onProgress?.(totals[0][0], steps, (now - start) / 1000, totalsOf(totals));
      if ((now - lastRead) / 1000 < TARGET_CHUNK_SECONDS) chunk = Math.min(chunk * 2, maxChunk);
      lastRead = now;
    }
    pending = readTotals();
    if (shouldStop?.()) break;
  }
  const [totals, lossSum] = [await pending!, await backend.read(model.lossSum)];
  const stats = totals[0];
  const seconds = (performance.now() - start) / 1000;
  onProgress?.(stats[0], steps, seconds, totalsOf(totals));
  if (stats[0] !== done) throw new Error(`ran ${stats[0]} of ${done} steps`);
  const samples = stats[2];
  return {
    loss: (lossSum[0] + lossSum[1]) / samples,
    accuracy: stats[1] / samples,
    samples,
    steps: done,
    seconds,
    submits: backend.submits - submitsBefore,
  };
}
