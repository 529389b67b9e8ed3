/** What the bench measures and records: its fixed settings, the plan of a run, the rows of its tables. */
import { learningRateForEpoch } from "../protocol.ts";

export const TRAINING_BATCHES = [4, 64];
export const INFERENCE_BATCH = 4;
/** The lab's learning rate in its first epochs. */
export const LEARNING_RATE = learningRateForEpoch(1);
export const SEED = 0;
/** The dense benchmark: one dispatch of [B x 4096] x [4096 x 4096]^T. */
export const DENSE_SIZE = 4096;

/** How long to measure: a pass's step count is calibrated so that it takes about `passSeconds`. */
export interface Plan {
  readonly name: "quick" | "full";
  /** Timed repeats per figure; the figure is their median. */
  readonly repeats: number;
  readonly passSeconds: number;
  readonly maxSteps: number;
  /** Wall time after which a peer's cell stops adding repeats (each peer call pays its own warm-up). */
  readonly peerCellSeconds: number;
  /** A peer cpu-path cell whose single call is projected to take longer than this is skipped. */
  readonly skipPeerCallSeconds: number;
  /** Fixed steps per pass and batches per inference repeat (--steps), instead of calibrating. */
  readonly fixedSteps?: number;
}

/**
 * jax-js's version as the labels name it: written here, not imported from lab/peers/jaxjs.ts, so that
 * reading the bench's rows never loads jax-js (a test holds it equal to JAXJS_VERSION).
 */
export const JAXJS_LABEL_VERSION = "0.1.25";

export type PathId =
  | "ours-webgpu"
  | "ours-webgpu-fixed"
  | "ours-cpu"
  | "tfjs-webgpu"
  | "tfjs-cpu"
  | "tfjs-wasm"
  | "jaxjs-webgpu"
  | "jaxjs-wasm"
  | "jaxjs-cpu"
  | "pytorch-cpu"
  | "pytorch-cuda";
/** The JavaScript peers: the strongest of them, in each cell, is what ours is held against (issue 23). */
export const JS_PEERS: readonly PathId[] = [
  "tfjs-webgpu",
  "tfjs-wasm",
  "tfjs-cpu",
  "jaxjs-webgpu",
  "jaxjs-wasm",
  "jaxjs-cpu",
];
export const PATH_LABELS: Record<PathId, string> = {
  "ours-webgpu": "ours webgpu",
  "ours-webgpu-fixed": "ours webgpu, today's kernels (--kernels fixed)",
  "ours-cpu": "ours cpu",
  "tfjs-webgpu": "TF.js webgpu",
  "tfjs-cpu": "TF.js cpu",
  "tfjs-wasm": "TF.js wasm",
  "jaxjs-webgpu": `jax-js ${JAXJS_LABEL_VERSION} webgpu (jit)`,
  "jaxjs-wasm": `jax-js ${JAXJS_LABEL_VERSION} wasm (jit)`,
  "jaxjs-cpu": `jax-js ${JAXJS_LABEL_VERSION} cpu (jit)`,
  "pytorch-cpu": "PyTorch cpu",
  "pytorch-cuda": "PyTorch cuda",
};

/** A cell that was not measured says why; every cell says how long it took, warm-up included. */
export interface Outcome {
  skipped?: string;
  error?: string;
  cellSeconds?: number;
  /**
   * A peer's setting the cell chose, the best of those tried in this run, e.g. "threads 2" (PyTorch
   * cpu) or "deferred submit 32" (TF.js webgpu); `tried` has each value's figure from its trial pass.
   */
  setting?: string;
  tried?: Record<string, number>;
}

export interface TrainingRow extends Outcome {
  model: string;
  path: PathId;
  batch: number;
  imagesPerSecond?: number;
  /** Images per second of each repeat. */
  samples?: number[];
  /** Timed steps per repeat. */
  steps?: number;
  secondsPerStep?: number;
  submitsPerStep?: number;
  dispatchesPerStep?: number;
  /** The variant each layer kernel ran and the tuner's timings (engine/tuner.ts describeChoices). */
  kernelChoices?: string[];
}

export interface InferenceRow extends Outcome {
  model: string;
  path: PathId;
  batch: number;
  /** ms per batch: GPU kernel time (timestamps), the CPU twins' wall time, or a peer's profiler. */
  kernelMs?: number;
  kernelClock?: string;
  /** ms per batch, many batches back to back and one readback. */
  streamedMs?: number;
  /** ms for one batch including the readback of its logits. */
  latencyMs?: number;
  batches?: number;
  repeats?: number;
}

export interface DenseRow extends Outcome {
  path: PathId;
  /** Our kernel's entry point, or the peer's op. */
  kernel?: string;
  batch: number;
  size: number;
  gflops?: number;
  samples?: number[];
  clock?: string;
}

export interface Ratio {
  measure: string;
  model?: string;
  batch: number;
  ours: PathId;
  other: PathId;
  /** How many times faster `ours` is than `other` (> 1: ours is faster). */
  times: number;
}

export interface Target {
  target: string;
  threshold: number;
  times?: number;
  pass?: boolean;
  why?: string;
  /** The same measure of the same path of ours against the strongest peer measured (lowest ratio). */
  strongestPeer?: PathId;
  strongestTimes?: number;
  /** Against the strongest JavaScript peer (issue 23): our faster path, the peer and its setting. */
  oursPath?: PathId;
  jsPeer?: PathId;
  jsPeerSetting?: string;
}

// ---------- statistics ----------

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Steps for one timed pass of about plan.passSeconds, at least one. */
export function stepsForPass(secondsPerStep: number, plan: Plan): number {
  return clamp(Math.round(plan.passSeconds / secondsPerStep), 1, plan.maxSteps);
}

export async function timed<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - start) / 1000 };
}
