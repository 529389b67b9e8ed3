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

/** Called a few times a second during a pass: steps done of all, seconds so far. */
export type Progress = (stepsDone: number, steps: number, seconds: number) => void;

/** Most steps recorded into one submit; and the wall time a chunk should take at most. */
const MAX_CHUNK_STEPS = 4096;
const TARGET_CHUNK_SECONDS = 1;

/** One epoch of plain SGD over `data` in `order`. */
export function trainEpoch(
  model: CompiledModel,
  data: DeviceDataSet,
  learningRate: number,
  order: Uint32Array,
  onProgress?: Progress,
): Promise<PassResult> {
  data.setOrder(order);
  model.setLearningRate(learningRate);
  return runPass(model, model.trainStep(data.gatherFor(model)), data.steps(model.batch), onProgress);
}

/** Loss and accuracy over `data` in its stored order, without training. */
export function evaluate(
  model: CompiledModel,
  data: DeviceDataSet,
  onProgress?: Progress,
): Promise<PassResult> {
  return runPass(model, model.evaluationStep(data.gatherFor(model)), data.steps(model.batch), onProgress);
}

async function runPass(
  model: CompiledModel,
  step: readonly Dispatch[],
  steps: number,
  onProgress?: Progress,
): Promise<PassResult> {
  const { backend } = model;
  model.resetTotals();
  const submitsBefore = backend.submits;
  const start = performance.now();
  let done = 0, chunk = 8, lastRead = start;
  let pending: Promise<Float32Array | Uint32Array> | undefined;
  while (done < steps) {
    const count = Math.min(chunk, steps - done);
    backend.run(step, count);
    done += count;
    if (pending) {
      const stats = await pending;
      const now = performance.now();
      onProgress?.(stats[0], steps, (now - start) / 1000);
      if ((now - lastRead) / 1000 < TARGET_CHUNK_SECONDS) chunk = Math.min(chunk * 2, MAX_CHUNK_STEPS);
      lastRead = now;
    }
    pending = backend.read(model.stats);
  }
  const [stats, lossSum] = [await pending!, await backend.read(model.lossSum)];
  const seconds = (performance.now() - start) / 1000;
  onProgress?.(stats[0], steps, seconds);
  if (stats[0] !== steps) throw new Error(`ran ${stats[0]} of ${steps} steps`);
  const samples = stats[2];
  return {
    loss: (lossSum[0] + lossSum[1]) / samples,
    accuracy: stats[1] / samples,
    samples,
    steps,
    seconds,
    submits: backend.submits - submitsBefore,
  };
}
