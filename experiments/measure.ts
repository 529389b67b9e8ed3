/**
 * Measuring a model the way the lab did, and more carefully: inference time per batch on each
 * path (each figure named by its clock), and memory from the engine's own ledger.
 */
import type { Dispatch } from "../engine/backend.ts";
import type { DeviceDataSet } from "../models/dataset.ts";
import type { CompiledModel } from "../models/model.ts";

export interface Distribution {
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
  readonly samples: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), samples: sorted.length };
}

export interface InferenceTiming {
  /** The figure the study plots: GPU kernel time (timestamp queries) or the CPU twins' wall time, ms/batch. */
  readonly perBatch: Distribution;
  readonly clock: string;
  /** GPU only: many batches submitted back to back, read back once, wall time divided by their number. */
  readonly streamedMs?: number;
  /** GPU only: one batch including the readback of its logits; Deno's ~10 ms poll dominates it. */
  readonly latency?: Distribution;
}

export interface InferenceOptions {
  /**
   * Batches timed, after `warmup` untimed ones. Every timed batch is the set's first: the batch
   * counter advances only with the loss kernel, which inference leaves out; timing is unaffected.
   */
  readonly batches: number;
  readonly warmup: number;
}

/** One inference of a batch: gather it (normalise, pad) from the resident test set, run the forward pass. */
export function inferenceStep(model: CompiledModel, data: DeviceDataSet): Dispatch[] {
  return [data.gatherFor(model), ...model.forward];
}

export async function measureInference(
  model: CompiledModel,
  data: DeviceDataSet,
  options: InferenceOptions,
): Promise<InferenceTiming> {
  const step = inferenceStep(model, data);
  const { backend } = model;
  backend.run(step, options.warmup);
  await backend.finish();
  const kernel = await backend.timeKernels(step, options.batches);
  if (backend.kind === "cpu") return { perBatch: distribution(kernel.msPerRepeat), clock: kernel.clock };
  const streamStart = performance.now();
  backend.run(step, options.batches);
  await backend.read(model.logits.value);
  const streamedMs = (performance.now() - streamStart) / options.batches;
  const latencies: number[] = [];
  const latencyRuns = Math.min(options.batches, 30);
  for (let i = 0; i < latencyRuns; i++) {
    const start = performance.now();
    backend.run(step);
    await backend.read(model.logits.value);
    latencies.push(performance.now() - start);
  }
  return {
    perBatch: distribution(kernel.msPerRepeat),
    clock: kernel.clock,
    streamedMs,
    latency: distribution(latencies),
  };
}

export interface MemoryFigures {
  /** Bytes of all parameters. */
  readonly parameterBytes: number;
  /** Bytes of the input and every layer's output for one batch. */
  readonly activationBytes: number;
}

export function memoryFigures(model: CompiledModel): MemoryFigures {
  const parameterBytes = model.parameters.reduce((sum, p) => sum + p.value.length * 4, 0);
  const activationBytes = model.activations().reduce((sum, t) => sum + t.length * 4, 0);
  return { parameterBytes, activationBytes };
}
