/** The bench's peers, TensorFlow.js and PyTorch, run on the same workloads as our engine. */
import type { ModelSpec } from "../../models/model.ts";
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

export interface Peer {
  readonly path: PathId;
  /** A cpu path: its slowest cells may be skipped under --quick. */
  readonly onCpu: boolean;
  readonly kernelClock?: string;
  train(model: PeerModel, batch: number, steps: number): Promise<PeerTrainResult>;
  infer(model: PeerModel, batch: number, batches: number): Promise<PeerInferResult>;
  matmulGflops?(batch: number, repeats: number): Promise<number>;
}

export async function tfjsPeers(): Promise<Peer[]> {
  const tfjs = await import("../peers/tfjs.ts");
  return (["webgpu", "cpu"] as const).map((backend) => ({
    path: `tfjs-${backend}` as const,
    onCpu: backend === "cpu",
    kernelClock: backend === "webgpu"
      ? "TF.js profiler (tf.time kernelMs: GPU timestamp queries where the adapter has them)"
      : "TF.js profiler (tf.time kernelMs: wall clock per kernel)",
    train: (model, batch, steps) => tfjs.tfjsTrain(model, backend, batch, steps),
    infer: (model, batch, batches) => tfjs.tfjsInfer(model, backend, batch, batches),
    ...(backend === "webgpu"
      ? {
        matmulGflops: (batch: number, repeats: number) =>
          tfjs.tfjsMatmulGflops(DENSE_SIZE, batch, backend, repeats),
      }
      : {}),
  }));
}

export function pytorchPeer(device: PytorchDevice): Peer {
  return {
    path: `pytorch-${device}`,
    onCpu: device === "cpu",
    train: (model, batch, steps) => pytorchBench({ workload: "train", model, device, batch, steps }),
    infer: (model, batch, batches) => pytorchBench({ workload: "infer", model, device, batch, batches }),
    matmulGflops: async (batch, repeats) =>
      (await pytorchBench({ workload: "matmul", device, n: DENSE_SIZE, batch, repeats })).gflops,
  };
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
    if (steps === 1) first = calibration;
    else spent = calibration.seconds;
  }
  const results = await peerRepeats(() => peer.train(model, batch, steps), plan, spent, first);
  const samples = results.map((r) => r.imagesPerSecond);
  return {
    imagesPerSecond: median(samples),
    samples,
    steps,
    secondsPerStep: median(results.map((r) => r.seconds / r.steps)),
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
  const results = await peerRepeats(() => peer.infer(model, INFERENCE_BATCH, batches), plan);
  const kernel = results.flatMap((r) => r.kernelMsPerBatch ?? []);
  return {
    ...(kernel.length ? { kernelMs: median(kernel), kernelClock: peer.kernelClock } : {}),
    streamedMs: median(results.map((r) => r.streamedMsPerBatch)),
    latencyMs: median(results.map((r) => r.latencyMs.median)),
    batches,
    repeats: results.length,
  };
}

export async function peerDense(peer: Peer, batch: number, plan: Plan): Promise<Partial<DenseRow>> {
  const samples = await peerRepeats(() => peer.matmulGflops!(batch, MATMULS_PER_PEER_CALL), plan);
  return {
    kernel: "matMul",
    gflops: median(samples),
    samples,
    clock: `wall clock over ${MATMULS_PER_PEER_CALL} back-to-back matMuls, one readback at the end`,
  };
}
