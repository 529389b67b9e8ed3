/**
 * Measuring a model the way the lab did, and more carefully: inference time per batch on each
 * path (each figure named by its clock), and memory from the engine's own ledger.
 */
import { type Dispatch, SLICE_ALIGNMENT_BYTES } from "../engine/backend.ts";
import type { DeviceDataSet } from "../models/dataset.ts";
import { ActivationLayer } from "../models/layers/activation.ts";
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
  /** ms per batch, batches run back to back with one readback per chunk (STREAMED_CLOCK). */
  readonly streamed: Distribution;
  /** ms for one batch including the readback of its logits (LATENCY_CLOCK); Deno's ~10 ms poll dominates it on the GPU. */
  readonly latency: Distribution;
}

/** The fewest batches in one streamed chunk, and the most chunks a stream is cut into. */
const STREAM_CHUNK_MIN = 10, STREAM_CHUNKS_MAX = 10;
/** The most single batches timed for the latency. */
const LATENCY_BATCHES = 30;
export const STREAMED_CLOCK = "wall clock (performance.now): the timed batches in chunks of at least " +
  `${STREAM_CHUNK_MIN}, each chunk run back to back (one submit on the GPU) and its last logits read back; ` +
  "a chunk's time divided by its batches";
export const LATENCY_CLOCK = "wall clock (performance.now): one batch run and its logits read back, " +
  `up to ${LATENCY_BATCHES} batches one after another`;

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
    const chunkSize = Math.max(STREAM_CHUNK_MIN, Math.ceil(timed.length / STREAM_CHUNKS_MAX));
    const streamed: number[] = [];
    for (let first = 0; first < timed.length; first += chunkSize) {
      const chunk = timed.slice(first, first + chunkSize);
      const start = performance.now();
      backend.run(chunk.flat());
      await backend.read(model.logits.value);
      streamed.push((performance.now() - start) / chunk.length);
    }
    const latencies: number[] = [];
    for (const program of timed.slice(0, LATENCY_BATCHES)) {
      const start = performance.now();
      backend.run(program);
      await backend.read(model.logits.value);
      latencies.push(performance.now() - start);
    }
    return {
      perBatch: distribution(kernel.msPerProgram),
      clock: kernel.clock,
      streamed: distribution(streamed),
      latency: distribution(latencies),
    };
  } finally {
    release();
  }
}

/** The memory figures of a model, as the lab counted them and as the ledger saw them. */
export interface MemoryFigures {
  /** Bytes of all parameters (param_bytes). */
  readonly parameterBytes: number;
  /** Bytes of the input and every layer's output for one batch, as our fused kernels hold them. */
  readonly activationBytes: number;
  /** What the lab measured: bytes the operators of one inference batch allocate (op_bytes; see opBytes). */
  readonly opBytes: number;
}

/** A compiled model's memory figures. */
export function memoryFigures(model: CompiledModel): MemoryFigures {
  const parameterBytes = model.parameters.reduce((sum, p) => sum + p.value.length * 4, 0);
  const activationBytes = model.activations().reduce((sum, t) => sum + t.length * 4, 0);
  return { parameterBytes, activationBytes, opBytes: opBytes(model) };
}

/**
 * op_bytes, the lab's memory figure: the bytes allocated by the operators of one inference batch,
 * counted as PyTorch's profiler counts them (`profile_memory=True`, the sum of the top-level operators'
 * allocations): every tensor an operator writes that is not a view. So the padded input counts (F.pad
 * writes a new tensor), flattening does not (a view), and each layer's output counts, float32.
 *
 * Fused kernels are counted as the separate operators PyTorch runs: our conv2d and dense kernels apply
 * tanh or ReLU as they write their output, where PyTorch's conv2d or linear writes its output and then
 * tanh or relu writes another tensor of the same size; such a layer counts its output twice. op_bytes is
 * thus a property of the network and the batch, the same on both paths and in PyTorch, and what our own
 * kernels write is less (activation_bytes). Checked against PyTorch 1.13's profiler at batch 4:
 * LeNet-5 250016 bytes, mlp-300 9760, mlp-1024 32928 (lab/peers/pytorch_op_bytes.py).
 */
export function opBytes(model: CompiledModel): number {
  const bytes = (tensor: { length: number }) => tensor.length * 4;
  let total = model.spec.pad > 0 ? bytes(model.input.value) : 0;
  model.layers.forEach((layer, i) => {
    const fused = !(layer instanceof ActivationLayer) && "activation" in layer &&
      layer.activation !== "identity";
    total += bytes(model.outputs[i]) * (fused ? 2 : 1);
  });
  return total;
}
