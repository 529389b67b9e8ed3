/**
 * jax-js 0.1.25 as a peer: the lab's workloads (LeNet-5, MLPs) written with jax-js's numpy, nn and lax
 * ops, trained with `jit` over the whole SGD step (value, gradient and update in one compiled
 * program), timed the way tfjs.ts times TF.js, on jax-js's webgpu, wasm or cpu device.
 */
// jax-js is named here, not in deno.json's imports: only the bench (and its tests) need it, and the
// offline bundle (cli/bundle.ts) carries what deno.json's imports reach and placeholders for the rest.
// deno-lint-ignore no-import-prefix
import * as jax from "npm:@jax-js/jax@0.1.25";
import { UserError } from "../../engine/errors.ts";
import { prepareWebGpuEnvironment } from "../../io/webgpu.ts";
// Types only (erased when run): the jax-js peer returns what the TF.js peer returns, without loading TF.js.
import type { PeerInferResult, PeerModel, PeerTrainResult } from "./tfjs.ts";

const { jit, lax, nn, numpy: np, random, tree, valueAndGrad } = jax;
type JaxArray = jax.numpy.Array;

export const JAXJS_VERSION = "0.1.25";
/** jax-js's devices that can run here: webgpu (llvmpipe under --unstable-webgpu), wasm, and its plain-JS cpu. */
export type JaxjsBackend = "webgpu" | "wasm" | "cpu";
/**
 * Steps (or inference batches) between readbacks of the loss (or logits), tried in each cell: jax-js
 * is lazy, so a readback is also what submits the recorded work; between readbacks it only records.
 */
export const JAXJS_READBACK_INTERVALS = [1, 10, 50];
/** The name of that setting, as the bench's tables show it ("<name> <value>": "read back every 10"). */
export const JAXJS_READBACK_SETTING = "read back every";

/** The bench's learning rate (lab/bench/rows.ts LEARNING_RATE, learningRateForEpoch(1)). */
const LEARNING_RATE = 0.0005;
const CLASSES = 10;
const WARMUP_STEPS = 3;
/** Distinct resident batches cycled through, as tfjs.ts does. */
const INPUT_POOL = 4;
const PROFILED_BATCHES = 10;
/** The initial weights come from this jax-js random key unless a caller names another. */
const DEFAULT_SEED = 0;

export interface JaxjsTrainResult extends PeerTrainResult {
  /** What ran, for the bench's tables and JSON: version, device, jit, readback interval. */
  settings: string;
  readbackInterval: number;
  /** Loss of resident batch 0 before the timed steps (read after the warm-up), and of the last timed step. */
  firstLoss: number;
  finalLoss: number;
}

export interface JaxjsInferResult extends PeerInferResult {
  settings: string;
  readbackInterval: number;
}

// ---------- devices ----------

const started = new Set<JaxjsBackend>();
let webgpuAdapterName = "";

/** Starts jax-js's device `backend` (once) and makes it the default for new arrays. */
async function useBackend(backend: JaxjsBackend): Promise<void> {
  if (!started.has(backend)) {
    if (backend === "webgpu") prepareWebGpuEnvironment();
    const available = await jax.init(backend);
    if (!available.includes(backend)) {
      throw new UserError(
        `jax-js could not start its ${backend} device` +
          (backend === "webgpu" ? "; run with --unstable-webgpu (and XDG_RUNTIME_DIR=/tmp)" : ""),
      );
    }
    if (backend === "webgpu") {
      // jax-js asks for a high-performance adapter, as TF.js does; Deno hands out llvmpipe when it is the only one.
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
      const info = adapter?.info;
      if (info) webgpuAdapterName = info.description + (info.isFallbackAdapter ? " (software adapter)" : "");
    }
    started.add(backend);
  }
  jax.defaultDevice(backend);
}

/** What jax-js's webgpu device runs on, once it has been started; "" before that. */
export function jaxjsAdapterName(): string {
  return webgpuAdapterName;
}

/**
 * One line on what a jax-js device runs with. Its wasm device runs each kernel on a pool of Web
 * Workers sharing one WebAssembly memory (as many as navigator.hardwareConcurrency) when the runtime
 * has SharedArrayBuffer and Worker, as Deno has; its kernels use 128-bit SIMD.
 */
export function jaxjsBackendLine(backend: JaxjsBackend): string {
  const version = `jax-js ${JAXJS_VERSION} ${backend}`;
  if (backend === "wasm") {
    const pooled = typeof SharedArrayBuffer !== "undefined" && typeof Worker !== "undefined";
    return `${version} (${
      pooled ? `${navigator.hardwareConcurrency} worker threads, shared memory` : "one thread"
    }, SIMD kernels)`;
  }
  if (backend === "webgpu") return `${version}${webgpuAdapterName ? ` on ${webgpuAdapterName}` : ""}`;
  return `${version} (interpreted JavaScript)`;
}

function settingsLine(backend: JaxjsBackend, what: string, readbackInterval: number): string {
  return `${jaxjsBackendLine(backend)}, ${what}, ${JAXJS_READBACK_SETTING} ${readbackInterval}`;
}

// ---------- networks ----------

/**
 * Parameters in PyTorch's order and layout (state_dict order: weight then bias per layer; a dense
 * weight is [out, in], a convolution's [out, in, 5, 5]), so they load from our engine or PyTorch as they are.
 */
type Parameters = JaxArray[];
/** Each function takes ownership of its arguments, as jax-js's own functions do. */
interface Network {
  /** Per image, after padding: [1, 32, 32] or [784]. */
  inputShape: number[];
  /** Every parameter's shape and fan-in, in order. */
  shapes: { shape: number[]; fanIn: number }[];
  forward(parameters: Parameters, images: JaxArray): JaxArray;
}

/** x [B, in] times a PyTorch-layout weight [out, in], plus bias: x W^T + b (the transpose is a view). */
function dense(x: JaxArray, weight: JaxArray, bias: JaxArray): JaxArray {
  return np.dot(x, weight.transpose()).add(bias);
}

function denseShapes(sizes: number[]) {
  return sizes.slice(1).flatMap((outputs, i) => [
    { shape: [outputs, sizes[i]], fanIn: sizes[i] },
    { shape: [outputs], fanIn: sizes[i] },
  ]);
}

function mlp(hidden: number[]): Network {
  const sizes = [784, ...hidden, CLASSES];
  const layers = sizes.length - 1;
  return {
    inputShape: [784],
    shapes: denseShapes(sizes),
    forward(parameters, images) {
      let x = images;
      for (let i = 0; i < layers; i++) {
        x = dense(x, parameters[2 * i], parameters[2 * i + 1]);
        if (i < layers - 1) x = nn.relu(x);
      }
      return x;
    },
  };
}

/** A 5x5 valid convolution in NCHW with an OIHW filter (PyTorch's layouts, and lax.conv's defaults). */
function conv5x5(x: JaxArray, filter: JaxArray, bias: JaxArray): JaxArray {
  return lax.conv(x, filter, [1, 1], "VALID").add(bias.reshape([-1, 1, 1]));
}

function maxPool2x2(x: JaxArray): JaxArray {
  return lax.reduceWindow(x, np.max, [2, 2], [2, 2]);
}

/** LeNet-5 as models/lenet5.ts builds it: 32x32 input, tanh, 2x2 max pooling, NCHW flattening. */
function lenet5(): Network {
  return {
    inputShape: [1, 32, 32],
    shapes: [
      { shape: [6, 1, 5, 5], fanIn: 25 },
      { shape: [6], fanIn: 25 },
      { shape: [16, 6, 5, 5], fanIn: 150 },
      { shape: [16], fanIn: 150 },
      ...denseShapes([400, 120, 84, CLASSES]),
    ],
    forward([c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b, f3w, f3b], images) {
      const batch = images.shape[0];
      const c1 = maxPool2x2(np.tanh(conv5x5(images, c1w, c1b)));
      const c2 = maxPool2x2(np.tanh(conv5x5(c1, c2w, c2b)));
      const flat = c2.reshape([batch, 400]);
      return dense(np.tanh(dense(np.tanh(dense(flat, f1w, f1b)), f2w, f2b)), f3w, f3b);
    },
  };
}

function buildNetwork(model: PeerModel): Network {
  if (model === "lenet5") return lenet5();
  if (model.length < 1 || model.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new UserError(`MLP hidden sizes must be positive integers, got [${model}]`);
  }
  return mlp(model);
}

/** PyTorch's default initialisation, weights and biases uniform in +-1/sqrt(fan_in), from one jax-js key. */
function initialParameters(network: Network, seed: number): Parameters {
  const keys = random.split(random.key(seed), network.shapes.length);
  const parameters = network.shapes.map(({ shape, fanIn }, i) => {
    const bound = 1 / Math.sqrt(fanIn);
    return random.uniform(keys.ref.slice(i), shape, { minval: -bound, maxval: bound });
  });
  keys.dispose();
  return parameters;
}

/** Softmax cross-entropy averaged over the batch, labels one-hot: what TF.js's and our loss compute. */
function meanCrossEntropy(logits: JaxArray, oneHotLabels: JaxArray): JaxArray {
  const batch = logits.shape[0];
  return nn.logSoftmax(logits).mul(oneHotLabels).sum().mul(-1 / batch);
}

type TrainStep = (parameters: Parameters, images: JaxArray, labels: JaxArray) => [Parameters, JaxArray];

/**
 * The whole SGD step as one jit-compiled program: loss, gradients and p - lr * g for every parameter.
 * Takes ownership of its arguments (the caller passes `.ref`s of what it keeps) and returns the new
 * parameters and the step's loss, both still to be computed (jax-js is lazy).
 */
function trainStep(network: Network, learningRate: number) {
  const loss = (parameters: Parameters, images: JaxArray, labels: JaxArray) =>
    meanCrossEntropy(network.forward(parameters, images), labels);
  return jit((parameters: Parameters, images: JaxArray, labels: JaxArray): [Parameters, JaxArray] => {
    const [value, gradients] = valueAndGrad(loss)(tree.ref(parameters), images, labels);
    return [parameters.map((p, i) => p.sub(gradients[i].mul(learningRate))), value];
  });
}

/** Random normal images and one-hot labels, made once from `seed` so they stay resident on the device. */
function residentBatches(network: Network, batch: number, seed: number) {
  const keys = random.split(random.key(seed + 1), 2 * INPUT_POOL);
  const batches = Array.from({ length: INPUT_POOL }, (_, i) => ({
    images: random.normal(keys.ref.slice(2 * i), [batch, ...network.inputShape]),
    labels: nn.oneHot(
      random.randint(keys.ref.slice(2 * i + 1), { minval: 0, maxval: CLASSES, shape: [batch] }),
      CLASSES,
    ),
  }));
  keys.dispose();
  return batches;
}

function checkCounts(...counts: number[]): void {
  for (const count of counts) {
    if (!Number.isInteger(count) || count < 1) {
      throw new UserError(`expected a positive integer, got ${count}`);
    }
  }
}

async function readScalar(array: JaxArray): Promise<number> {
  return (await array.data())[0];
}

// ---------- training ----------

/**
 * Trains with plain SGD, the whole step under `jit`, reading the loss back every `readbackInterval`
 * steps (and after the last). Reading back is also what submits jax-js's recorded work, so the
 * interval sets how much is recorded before it runs; the best interval depends on device and shape.
 */
export async function jaxjsTrain(
  model: PeerModel,
  backend: JaxjsBackend,
  batch: number,
  steps: number,
  readbackInterval = JAXJS_READBACK_INTERVALS[1],
  options: { seed?: number; learningRate?: number } = {},
): Promise<JaxjsTrainResult> {
  checkCounts(batch, steps, readbackInterval);
  const network = buildNetwork(model);
  await useBackend(backend);
  const seed = options.seed ?? DEFAULT_SEED;
  let parameters = initialParameters(network, seed);
  const batches = residentBatches(network, batch, seed);
  const step = trainStep(network, options.learningRate ?? LEARNING_RATE);
  // One step on resident batch `index`: the parameters move on, the loss is returned to the caller.
  const run = (index: number): JaxArray => {
    const { images, labels } = batches[index % INPUT_POOL];
    const [next, loss] = step(parameters, images.ref, labels.ref);
    parameters = next;
    return loss;
  };
  try {
    // Warm-up: compiles the program and its kernels; reading the loss runs all it recorded.
    for (let i = 1; i < WARMUP_STEPS; i++) run(i).dispose();
    const firstLoss = await readScalar(run(0));
    const start = performance.now();
    let finalLoss = NaN;
    for (let i = 0; i < steps; i++) {
      const loss = run(i);
      // Disposing a loss never cancels work: the new parameters share its pending kernels.
      if ((i + 1) % readbackInterval === 0 || i === steps - 1) finalLoss = await readScalar(loss);
      else loss.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    if (!Number.isFinite(finalLoss)) {
      throw new Error(`jax-js ${backend} training diverged: loss ${finalLoss}`);
    }
    return {
      imagesPerSecond: (batch * steps) / seconds,
      steps,
      seconds,
      settings: settingsLine(backend, "jit on the whole SGD step", readbackInterval),
      readbackInterval,
      firstLoss,
      finalLoss,
    };
  } finally {
    step.dispose();
    tree.dispose(parameters);
    for (const { images, labels } of batches) tree.dispose([images, labels]);
  }
}

/**
 * One SGD step from given weights (PyTorch's order and layout, as float32 arrays) on given images
 * ([batch, ...input shape] row-major) and labels (class indices), through the same jit-compiled step
 * the bench times: the loss before the step and the parameters after it. For checking the peer's
 * workload against our engine's.
 */
export async function jaxjsSgdStep(
  model: PeerModel,
  backend: JaxjsBackend,
  weights: readonly ArrayLike<number>[],
  images: ArrayLike<number>,
  labels: readonly number[],
  learningRate: number,
): Promise<{ loss: number; parameters: Float32Array[] }> {
  const network = buildNetwork(model);
  if (weights.length !== network.shapes.length) {
    throw new UserError(`expected ${network.shapes.length} parameter arrays, got ${weights.length}`);
  }
  network.shapes.forEach(({ shape }, i) => {
    const length = shape.reduce((a, b) => a * b, 1);
    if (weights[i].length !== length) {
      throw new UserError(
        `parameter ${i} takes ${length} values (${shape.join("x")}), given ${weights[i].length}`,
      );
    }
  });
  const batch = labels.length;
  if (images.length !== batch * network.inputShape.reduce((a, b) => a * b, 1)) {
    throw new UserError(`${images.length} image values do not make ${batch} images of ${network.inputShape}`);
  }
  await useBackend(backend);
  const parameters = weights.map((values, i) =>
    np.array(Float32Array.from(values), { shape: network.shapes[i].shape })
  );
  const step = trainStep(network, learningRate);
  try {
    const [next, loss] = step(
      parameters,
      np.array(Float32Array.from(images), { shape: [batch, ...network.inputShape] }),
      nn.oneHot(np.array(Int32Array.from(labels), { dtype: np.int32 }), CLASSES),
    );
    const lossValue = await readScalar(loss);
    const after: Float32Array[] = [];
    for (const parameter of next) after.push((await parameter.data()) as Float32Array);
    return { loss: lossValue, parameters: after };
  } finally {
    step.dispose();
  }
}

// ---------- inference ----------

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** Waits until jax-js's profiler has stopped adding kernel entries (its webgpu timestamps arrive later). */
async function settledProfilerEntries(): Promise<PerformanceEntry[]> {
  let previous = -1;
  for (let quietChecks = 0; quietChecks < 3;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const count = performance.getEntriesByType("measure").length;
    quietChecks = count === previous ? quietChecks + 1 : 0;
    previous = count;
  }
  return performance.getEntriesByType("measure");
}

/** Sum of the GPU time of jax-js's webgpu kernels in `work`, from its profiler's timestamp queries. */
async function webgpuKernelMs(work: () => Promise<void>): Promise<number | undefined> {
  if (!jax.getWebGPUDevice().features.has("timestamp-query")) return undefined;
  const isKernel = (entry: PerformanceEntry) => {
    const devtools = (entry as PerformanceMeasure).detail?.devtools;
    return devtools?.trackGroup === "JAX Profiler" && devtools?.track === "webgpu";
  };
  const before = new Set((await settledProfilerEntries()).filter(isKernel));
  jax.profiler.startTrace();
  try {
    await work();
  } finally {
    jax.profiler.stopTrace();
  }
  const entries = (await settledProfilerEntries()).filter((entry) => isKernel(entry) && !before.has(entry));
  for (const entry of entries) performance.clearMeasures(entry.name);
  return entries.length ? entries.reduce((sum, entry) => sum + entry.duration, 0) : undefined;
}

/**
 * Inference per batch, `predict` under jit: streamed (batches back to back, the logits of each run of
 * `readbackInterval` batches read back together at its end), latency (one batch including the readback
 * of its logits, repeated) and, on webgpu, kernel time from jax-js's profiler (GPU timestamps).
 */
export async function jaxjsInfer(
  model: PeerModel,
  backend: JaxjsBackend,
  batch: number,
  batches: number,
  readbackInterval = JAXJS_READBACK_INTERVALS[1],
  options: { seed?: number } = {},
): Promise<JaxjsInferResult> {
  checkCounts(batch, batches, readbackInterval);
  const network = buildNetwork(model);
  await useBackend(backend);
  const seed = options.seed ?? DEFAULT_SEED;
  const parameters = initialParameters(network, seed);
  const inputs = residentBatches(network, batch, seed);
  const predict = jit((parameters: Parameters, images: JaxArray) => network.forward(parameters, images));
  const forward = (index: number) => predict(tree.ref(parameters), inputs[index % INPUT_POOL].images.ref);
  // jax-js cancels work whose outputs are all disposed before it ran, so logits are kept until read:
  // one concatenation per run of batches is read back, and needs every batch of the run computed.
  const readAll = async (logits: JaxArray[]) => void (await np.concatenate(logits).data());
  try {
    // Warm-up: compiles the program and the concatenations of both run lengths the clock will see,
    // and computes the parameters and inputs before the clock starts.
    const runLengths = new Set([
      WARMUP_STEPS,
      Math.min(readbackInterval, batches),
      batches % readbackInterval,
    ]);
    for (const length of runLengths) {
      if (length > 0) await readAll(Array.from({ length }, (_, i) => forward(i)));
    }
    const start = performance.now();
    let run: JaxArray[] = [];
    for (let i = 0; i < batches; i++) {
      run.push(forward(i));
      if (run.length === readbackInterval || i === batches - 1) {
        await readAll(run);
        run = [];
      }
    }
    const streamedMsPerBatch = (performance.now() - start) / batches;

    const latencies: number[] = [];
    for (let i = 0; i < batches; i++) {
      const begin = performance.now();
      await forward(i).data();
      latencies.push(performance.now() - begin);
    }
    latencies.sort((a, b) => a - b);

    const profiled = Math.min(batches, PROFILED_BATCHES);
    // Each batch read back on its own, so that no concatenation is counted as a kernel of the model.
    const kernelMs = backend === "webgpu"
      ? await webgpuKernelMs(async () => {
        for (let i = 0; i < profiled; i++) await forward(i).data();
      })
      : undefined;
    return {
      streamedMsPerBatch,
      latencyMs: {
        median: percentile(latencies, 0.5),
        p10: percentile(latencies, 0.1),
        p90: percentile(latencies, 0.9),
      },
      ...(kernelMs !== undefined ? { kernelMsPerBatch: kernelMs / profiled } : {}),
      settings: settingsLine(backend, "jit on predict", readbackInterval),
      readbackInterval,
    };
  } finally {
    predict.dispose();
    tree.dispose(parameters);
    for (const { images, labels } of inputs) tree.dispose([images, labels]);
  }
}

/** How the inference kernel time is clocked on each device, for the bench's tables; none on wasm and cpu. */
export const JAXJS_KERNEL_CLOCK =
  "jax-js profiler (startTrace: GPU timestamp queries per kernel, webgpu only)";
