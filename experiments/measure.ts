/**
 * Measuring a model the way the lab did, and more carefully: inference time per batch on each
 * path (each figure named by its clock), and memory from the engine's own ledger.
 */
import { type Dispatch, SLICE_ALIGNMENT_BYTES } from "../engine/backend.ts";
import type { DeviceDataSet } from "../models/dataset.ts";
import type { CompiledModel } from "../models/model.ts";

/** Percentiles of a set of timings. */
export interface Distribution {
  /** The 50th percentile. */
  readonly median: number;
  /** The 10th percentile. */
  readonly p10: number;
  /** The 90th percentile. */
  readonly p90: number;
  /** How many values. */
  readonly samples: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), samples: sorted.length };
}

/** A model's inference time per batch, measured as the study does. */
export interface InferenceTiming {
  /** The figure the study plots: GPU kernel time (timestamp queries) or the CPU twins' wall time, ms/batch. */
  readonly perBatch: Distribution;
  /** What timed perBatch: "GPU timestamps" or a wall clock. */
  readonly clock: string;
  /** GPU only: many batches submitted back to back, read back once, wall time divided by their number. */
  readonly streamedMs?: number;
  /** GPU only: one batch including the readback of its logits; Deno's ~10 ms poll dominates it. */
  readonly latency?: Distribution;
}

/** How many batches `measureInference` times. */
export interface InferenceOptions {
  /** Batches timed, after `warmup` untimed ones; they go through the test set (see inferencePrograms). */
  readonly batches: number;
  /** Untimed batches first. */
  readonly warmup: number;
}

/** Distinct test batches the timing goes through, spread evenly over the set, then again. */
export const TIMED_BATCH_POSITIONS = 64;
/** One batch number per slice alignment, so that each gather can bind its own. */
const BATCH_NUMBER_STRIDE = SLICE_ALIGNMENT_BYTES / 4;

/**
 * `count` inference programs over the test set: program i gathers (normalises, pads) one batch and runs
 * the forward pass. The batches are up to TIMED_BATCH_POSITIONS spread evenly over the set, in turn;
 * each gather reads its batch number from its own slice of a small tensor, released by `release`.
 */
export function inferencePrograms(
  model: CompiledModel,
  data: DeviceDataSet,
  count: number,
): { programs: Dispatch[][]; release: () => void } {
  const { backend } = model;
  const steps = data.steps(model.batch);
  const positions = Math.max(1, Math.min(TIMED_BATCH_POSITIONS, steps, count));
  const numbers = new Uint32Array(positions * BATCH_NUMBER_STRIDE);
  for (let k = 0; k < positions; k++) numbers[k * BATCH_NUMBER_STRIDE] = Math.floor((k * steps) / positions);
  const tensor = backend.tensor("timing.batch_numbers", "u32", [numbers.length], numbers);
  const gathers = Array.from(
    { length: positions },
    (_, k) => data.gatherAt(model, { tensor, offset: k * BATCH_NUMBER_STRIDE, length: 1 }),
  );
  const programs = Array.from({ length: count }, (_, i) => [gathers[i % positions], ...model.forward]);
  return { programs, release: () => backend.release(tensor) };
}

/** Times `options.batches` inference batches over the test set, as the study does. */
export async function measureInference(
  model: CompiledModel,
  data: DeviceDataSet,
  options: InferenceOptions,
): Promise<InferenceTiming> {
  const { backend } = model;
  const { programs, release } = inferencePrograms(model, data, Math.max(options.batches, options.warmup));
  try {
    backend.run(programs.slice(0, options.warmup).flat());
    await backend.finish();
    const timed = programs.slice(0, options.batches);
    const kernel = await backend.timeKernels(timed);
    if (backend.kind === "cpu") return { perBatch: distribution(kernel.msPerProgram), clock: kernel.clock };
    const stream = timed.flat(); // every batch in one submit, read back once
    const streamStart = performance.now();
    backend.run(stream);
    await backend.read(model.logits.value);
    const streamedMs = (performance.now() - streamStart) / timed.length;
    const latencies: number[] = [];
    for (const program of timed.slice(0, 30)) {
      const start = performance.now();
      backend.run(program);
      await backend.read(model.logits.value);
      latencies.push(performance.now() - start);
    }
    return {
      perBatch: distribution(kernel.msPerProgram),
      clock: kernel.clock,
      streamedMs,
      latency: distribution(latencies),
    };
  } finally {
    release();
  }
}

/** The memory figures of a model, as the lab counted them and as the ledger saw them. */
export interface MemoryFigures {
  /** Bytes of all parameters. */
  readonly parameterBytes: number;
  /** Bytes of the input and every layer's output for one batch. */
  readonly activationBytes: number;
}

/** A compiled model's memory figures. */
export function memoryFigures(model: CompiledModel): MemoryFigures {
  const parameterBytes = model.parameters.reduce((sum, p) => sum + p.value.length * 4, 0);
  const activationBytes = model.activations().reduce((sum, t) => sum + t.length * 4, 0);
  return { parameterBytes, activationBytes };
}
