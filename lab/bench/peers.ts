/** The bench's peers, TensorFlow.js and PyTorch, run on the same workloads as our engine. */
import type { ModelSpec } from "../../models/model.ts";
// Types only (erased when run): TF.js itself is imported by the peer's first call, not by the bench's start.
import type { PeerInferResult, PeerModel, PeerTrainResult } from "../peers/tfjs.ts";
import { pytorchBench, type PytorchDevice } from "../peers/pytorch.ts";
import {
  clamp,
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
  median,
  type PathId,
  type Plan,
  stepsForPass,
  timed,
  type TrainingRow,
} from "./rows.ts";

/** Both peers run this many untimed steps at the start of every call (tfjs.ts, pytorch_peer.py). */
export const PEER_WARMUP_STEPS = 3;
export const MATMULS_PER_PEER_CALL = 2;

// ---------- peers ----------

/** A peer setting tried in every cell, the best value kept: PyTorch's threads, TF.js webgpu's submits. */
export interface PeerSetting {
  readonly name: string;
  readonly values: readonly number[];
}

export interface Peer {
  readonly path: PathId;
  /** The library the peer runs in ("TF.js", "jax-js", "PyTorch"): the bench starts one at a time. */
  readonly library: string;
  /** A cpu path: its slowest cells may be skipped under --quick. */
  readonly onCpu: boolean;
  readonly kernelClock?: string;
  readonly setting?: PeerSetting;
  /** Why this peer's cells are not run in this bench (each is recorded as skipped, with this reason). */
  readonly skipped?: string;
  train(model: PeerModel, batch: number, steps: number, setting?: number): Promise<PeerTrainResult>;
  infer(model: PeerModel, batch: number, batches: number, setting?: number): Promise<PeerInferResult>;
  matmulGflops?(batch: number, repeats: number, setting?: number): Promise<number>;
}

/**
 * TF.js webgpu's deferred-submit size by default (dispatches per submit): written here, not imported
 * from lab/peers/tfjs.ts, so that listing the peers loads no TF.js (a test holds it equal to
 * TFJS_DEFAULT_DEFERRED_SUBMIT).
 */
export const TFJS_DEFAULT_DEFERRED_SUBMIT_SIZE = 15;
/** TF.js webgpu's deferred-submit batch sizes tried: one dispatch per submit, TF.js's default, and more. */
export const DEFERRED_SUBMIT_VALUES = [1, TFJS_DEFAULT_DEFERRED_SUBMIT_SIZE, 64];

const TFJS_BACKENDS = ["webgpu", "cpu", "wasm"] as const;

/**
 * TF.js on each of its backends. TF.js is imported by a peer's first call, so that nothing of it is
 * loaded (or started) before the bench runs its cells (an offline bundle, which carries only a
 * placeholder for it, fails there and records each cell's error).
 */
export function tfjsPeers(): Peer[] {
  const tfjs = () => import("../peers/tfjs.ts");
  return TFJS_BACKENDS.map((backend) => ({
    path: `tfjs-${backend}` as const,
    library: "TF.js",
    onCpu: backend !== "webgpu",
    kernelClock: backend === "webgpu"
      ? "TF.js profiler (tf.time kernelMs: GPU timestamp queries where the adapter has them)"
      : "TF.js profiler (tf.time kernelMs: wall clock per kernel)",
    ...(backend === "webgpu" ? { setting: { name: "deferred submit", values: DEFERRED_SUBMIT_VALUES } } : {}),
    train: async (model, batch, steps, setting) =>
      (await tfjs()).tfjsTrain(model, backend, batch, steps, setting),
    infer: async (model, batch, batches, setting) =>
      (await tfjs()).tfjsInfer(model, backend, batch, batches, setting),
    ...(backend !== "cpu"
      ? {
        matmulGflops: async (batch: number, repeats: number, setting?: number) =>
          (await tfjs()).tfjsMatmulGflops(DENSE_SIZE, batch, backend, repeats, setting),
      }
      : {}),
  }));
}

const JAXJS_BACKENDS = ["webgpu", "wasm", "cpu"] as const;

/** Why jax-js's cpu device is left out of a --quick bench. */
export const JAXJS_CPU_QUICK_SKIP = "jax-js's cpu device runs interpreted JavaScript kernels, far slower " +
  "than its wasm device; skipped under --quick, run without --quick";

/**
 * jax-js on each of its devices, with `jit` on the whole step, at the best of its readback intervals in
 * every cell. Imported here, on call, so that no command but the bench loads jax-js (and an offline
 * bundle, which carries only a placeholder for it, fails here and the bench goes on without it).
 */
export async function jaxjsPeers(quick: boolean): Promise<Peer[]> {
  const jaxjs = await import("../peers/jaxjs.ts");
  return JAXJS_BACKENDS.map((backend) => ({
    path: `jaxjs-${backend}` as const,
    library: "jax-js",
    onCpu: backend !== "webgpu",
    ...(backend === "webgpu" ? { kernelClock: jaxjs.JAXJS_KERNEL_CLOCK } : {}),
    setting: { name: jaxjs.JAXJS_READBACK_SETTING, values: jaxjs.JAXJS_READBACK_INTERVALS },
    ...(backend === "cpu" && quick ? { skipped: JAXJS_CPU_QUICK_SKIP } : {}),
    train: (model, batch, steps, interval) => jaxjs.jaxjsTrain(model, backend, batch, steps, interval),
    infer: (model, batch, batches, interval) => jaxjs.jaxjsInfer(model, backend, batch, batches, interval),
  }));
}

/** PyTorch's CPU thread counts tried: 1, 2, 4, ... up to the machine's cores, and the cores. */
export function threadCounts(cores: number): number[] {
  const counts = new Set<number>();
  for (let n = 1; n < cores; n *= 2) counts.add(n);
  counts.add(Math.max(1, cores));
  return [...counts];
}

export function pytorchPeer(device: PytorchDevice, cores = navigator.hardwareConcurrency): Peer {
  return {
    path: `pytorch-${device}`,
    library: "PyTorch",
    onCpu: device === "cpu",
    ...(device === "cpu" ? { setting: { name: "threads", values: threadCounts(cores) } } : {}),
    train: (model, batch, steps, threads) =>
      pytorchBench({ workload: "train", model, device, batch, steps, threads }),
    infer: (model, batch, batches, threads) =>
      pytorchBench({ workload: "infer", model, device, batch, batches, threads }),
    matmulGflops: async (batch, repeats, threads) =>
      (await pytorchBench({ workload: "matmul", device, n: DENSE_SIZE, batch, repeats, threads })).gflops,
  };
}

/**
 * With a peer setting, one trial call per value (`call(value)` returns the call's figure, `better`
 * says which of two figures wins); the best value and every trial's figure, or nothing to choose.
 */
export async function bestSetting(
  peer: Peer,
  call: (value: number) => Promise<number>,
  better: (a: number, b: number) => boolean,
): Promise<{ value?: number; setting?: string; tried?: Record<string, number> }> {
  if (!peer.setting) return {};
  const tried: Record<string, number> = {};
  let best: number | undefined, bestFigure = NaN;
  for (const value of peer.setting.values) {
    const figure = await call(value);
    tried[String(value)] = figure;
    if (best === undefined || better(figure, bestFigure)) [best, bestFigure] = [value, figure];
  }
  return { value: best, setting: `${peer.setting.name} ${best}`, tried };
}

export function peerModel(spec: ModelSpec): PeerModel {
  return spec.name === "lenet5" ? "lenet5" : spec.name.split("-").slice(1).map(Number);
}

/**
 * Calls `call` up to plan.repeats times: always once, then while the cell's wall time so far plus the
 * last call's would stay within its budget. `first` is a call already made (and its seconds).
 */
export async function peerRepeats<T>(
  call: () => Promise<T>,
  plan: Plan,
  spent = 0,
  first?: { result: T; seconds: number },
) {
  const results: T[] = first ? [first.result] : [];
  let lastSeconds = first?.seconds ?? 0;
  while (results.length < plan.repeats) {
    if (results.length > 0 && spent + lastSeconds > plan.peerCellSeconds) break;
    const { result, seconds } = await timed(call);
    results.push(result);
    spent += lastSeconds = seconds;
  }
  return results;
}

export async function peerTraining(
  peer: Peer,
  model: PeerModel,
  batch: number,
  plan: Plan,
  batch4ImagesPerSecond?: number,
): Promise<Partial<TrainingRow>> {
  if (peer.onCpu && batch > INFERENCE_BATCH && batch4ImagesPerSecond) {
    // Per-image cost does not grow with the batch, so the batch-4 rate bounds this cell's cost.
    const projected = ((PEER_WARMUP_STEPS + 1) * batch) / batch4ImagesPerSecond;
    if (projected > plan.skipPeerCallSeconds) {
      const call = `${PEER_WARMUP_STEPS} warm-up steps and 1 timed step`;
      return { skipped: `~${projected.toFixed(0)} s for ${call} at its batch-4 rate; run without --quick` };
    }
  }
  let steps = plan.fixedSteps, spent = 0;
  let first: { result: PeerTrainResult; seconds: number } | undefined;
  if (steps === undefined) {
    // A one-step call tells the step's cost; when a pass is a single step, it is already a repeat.
    const calibration = await timed(() => peer.train(model, batch, 1));
    steps = stepsForPass(calibration.result.seconds, plan);
    if (steps === 1 && !peer.setting) first = calibration;
    else spent = calibration.seconds;
  }
  const passSteps = steps;
  const chosen = await bestSetting(
    peer,
    async (value) => (await peer.train(model, batch, passSteps, value)).imagesPerSecond,
    (a, b) => a > b,
  );
  const results = await peerRepeats(
    () => peer.train(model, batch, passSteps, chosen.value),
    plan,
    spent,
    first,
  );
  const samples = results.map((r) => r.imagesPerSecond);
  return {
    imagesPerSecond: median(samples),
    samples,
    steps,
    secondsPerStep: median(results.map((r) => r.seconds / r.steps)),
    ...(chosen.setting ? { setting: chosen.setting, tried: chosen.tried } : {}),
  };
}

export async function peerInference(
  peer: Peer,
  model: PeerModel,
  plan: Plan,
  secondsPerBatch: number,
): Promise<Partial<InferenceRow>> {
  // The peers time every batch twice (streamed, then with a readback each), so passes are kept short.
  const batches = plan.fixedSteps ?? clamp(stepsForPass(secondsPerBatch, plan), 3, 100);
  const chosen = await bestSetting(
    peer,
    async (value) => (await peer.infer(model, INFERENCE_BATCH, batches, value)).streamedMsPerBatch,
    (a, b) => a < b,
  );
  const results = await peerRepeats(() => peer.infer(model, INFERENCE_BATCH, batches, chosen.value), plan);
  const kernel = results.flatMap((r) => r.kernelMsPerBatch ?? []);
  return {
    ...(kernel.length ? { kernelMs: median(kernel), kernelClock: peer.kernelClock } : {}),
    streamedMs: median(results.map((r) => r.streamedMsPerBatch)),
    latencyMs: median(results.map((r) => r.latencyMs.median)),
    batches,
    repeats: results.length,
    ...(chosen.setting ? { setting: chosen.setting, tried: chosen.tried } : {}),
  };
}

export async function peerDense(peer: Peer, batch: number, plan: Plan): Promise<Partial<DenseRow>> {
  const chosen = await bestSetting(
    peer,
    (value) => peer.matmulGflops!(batch, MATMULS_PER_PEER_CALL, value),
    (a, b) => a > b,
  );
  const samples = await peerRepeats(
    () => peer.matmulGflops!(batch, MATMULS_PER_PEER_CALL, chosen.value),
    plan,
  );
  return {
    kernel: "matMul",
    gflops: median(samples),
    samples,
    ...(chosen.setting ? { setting: chosen.setting, tried: chosen.tried } : {}),
    clock: `wall clock over ${MATMULS_PER_PEER_CALL} back-to-back matMuls, one readback at the end`,
  };
}
