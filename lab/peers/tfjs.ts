/**
 * TensorFlow.js 4.22 as a peer: the same workloads as our engine (LeNet-5, MLPs, a matMul), written
 * with tfjs-core ops (no tfjs-layers), timed the way we time ours, on TF.js's webgpu or cpu backend.
 */
// TF.js is named here, not in deno.json's imports: only the bench needs it, and the offline bundle
// (io/bundle.ts) carries what deno.json's imports reach and placeholders for the rest.
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// The Node entry of tfjs-core registers no gradients; the union bundle does so for the shared registry.
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { UserError } from "../../engine/errors.ts";
import { prepareWebGpuEnvironment } from "../../io/webgpu.ts";

// Production mode only silences TF.js's console advice (e.g. to install tfjs-node) in the bench output.
tf.enableProdMode();

/** "lenet5", or the hidden sizes of an MLP 784 -> h1 (ReLU) [-> h2 (ReLU)] -> 10, e.g. [300, 100]. */
export type PeerModel = "lenet5" | number[];
/** TF.js's backends: webgpu, its plain-JS cpu, and wasm (XNNPACK kernels, SIMD where the runtime has it). */
export type PeerBackend = "webgpu" | "cpu" | "wasm";
export interface PeerTrainResult {
  imagesPerSecond: number;
  steps: number;
  seconds: number;
}
export interface PeerInferResult {
  streamedMsPerBatch: number;
  latencyMs: { median: number; p10: number; p90: number };
  kernelMsPerBatch?: number;
}

const LEARNING_RATE = 0.0005;
const CLASSES = 10;
const WARMUP_STEPS = 3;
/** Distinct resident batches cycled through, so a step does not always see the same tensor. */
const INPUT_POOL = 4;
const PROFILED_BATCHES = 10;

let webgpuAdapterName = "";

/** The deferred-submit batch size TF.js's webgpu backend starts with (dispatches per submit). */
export const TFJS_DEFAULT_DEFERRED_SUBMIT = 15;
let wasmLine = "";

/**
 * tfjs-backend-wasm, loaded on first use from an inline npm specifier (the bench alone needs it). Deno
 * has no Web Workers with shared memory for Emscripten's pthreads, so TF.js picks its single-threaded
 * build (WASM_HAS_MULTITHREAD_SUPPORT is false); SIMD is used where the runtime has it.
 */
async function loadWasmBackend(): Promise<void> {
  if (wasmLine) return;
  // Inline, not in deno.json's imports: only the bench needs it, and commands that never run the bench
  // must not need the package (nor the network to fetch it).
  // deno-lint-ignore no-import-prefix
  await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
  wasmLine = `tfjs-backend-wasm 4.22.0, SIMD ${simd ? "on" : "off"}, ` +
    (threads ? "multithreaded" : "one thread (no multithread support in this runtime)");
}

/** What TF.js's wasm backend runs with, once it has been started; "" before that. */
export function tfjsWasmLine(): string {
  return wasmLine;
}

/** Sets TF.js webgpu's deferred-submit batch size (dispatches recorded before a submit); others ignore it. */
function useDeferredSubmit(backend: PeerBackend, batchSize: number | undefined): void {
  if (backend === "webgpu") {
    tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", batchSize ?? TFJS_DEFAULT_DEFERRED_SUBMIT);
  }
}

async function useBackend(backend: PeerBackend): Promise<void> {
  if (backend === "wasm") await loadWasmBackend();
  if (tf.getBackend() === backend) return;
  if (backend === "webgpu") prepareWebGpuEnvironment();
  // TF.js asks for a high-performance adapter; Deno still hands out llvmpipe (a fallback adapter) when
  // it is the only one, so nothing has to be forced.
  if (!(await tf.setBackend(backend))) {
    throw new UserError(
      `TF.js could not start its ${backend} backend; for webgpu run with --unstable-webgpu and XDG_RUNTIME_DIR=/tmp`,
    );
  }
  await tf.ready();
  if (backend === "webgpu" && !webgpuAdapterName) {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    const info = adapter?.info;
    if (info) webgpuAdapterName = info.description + (info.isFallbackAdapter ? " (software adapter)" : "");
  }
}

/** What TF.js's webgpu backend runs on, once it has been started; "" before that. */
export function tfjsAdapterName(): string {
  return webgpuAdapterName;
}

/** Live TF.js tensors, to check that the peer frees what it creates. */
export function tfjsTensorCount(): number {
  return tf.engine().state.numTensors;
}

type Forward = (images: tf.Tensor) => tf.Tensor2D;
interface Network {
  inputShape: number[]; // per image
  variables: tf.Variable[];
  forward: Forward;
}

/** PyTorch's default initialisation: weights and biases uniform in +-1/sqrt(fan_in). */
function parameter(shape: number[], fanIn: number): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  // tidy frees the initial value; the variable keeps its own reference to the data.
  return tf.tidy(() => tf.variable(tf.randomUniform(shape, -bound, bound)));
}

function dense(inputs: number, outputs: number) {
  const weights = parameter([inputs, outputs], inputs);
  const bias = parameter([outputs], inputs);
  return {
    variables: [weights, bias],
    apply: (x: tf.Tensor2D) => tf.add(tf.matMul(x, weights), bias) as tf.Tensor2D,
  };
}

function conv5x5(inChannels: number, outChannels: number) {
  const filter = parameter([5, 5, inChannels, outChannels], inChannels * 25);
  const bias = parameter([outChannels], inChannels * 25);
  return {
    variables: [filter, bias],
    apply: (x: tf.Tensor4D) => tf.add(tf.conv2d(x, filter as tf.Tensor4D, 1, "valid"), bias) as tf.Tensor4D,
  };
}

/**
 * LeNet-5 in TF.js's native NHWC layout. Flattening NHWC instead of NCHW only permutes the inputs of
 * the first dense layer, the same function up to a relabelling of its weights, and costs no transpose.
 */
function lenet5(): Network {
  const conv1 = conv5x5(1, 6), conv2 = conv5x5(6, 16);
  const fc1 = dense(400, 120), fc2 = dense(120, 84), fc3 = dense(84, CLASSES);
  const forward = (images: tf.Tensor) => {
    const c1 = tf.maxPool(tf.tanh(conv1.apply(images as tf.Tensor4D)), 2, 2, "valid");
    const c2 = tf.maxPool(tf.tanh(conv2.apply(c1)), 2, 2, "valid");
    const flat = tf.reshape(c2, [images.shape[0], 400]) as tf.Tensor2D;
    return fc3.apply(tf.tanh(fc2.apply(tf.tanh(fc1.apply(flat)))));
  };
  const layers = [conv1, conv2, fc1, fc2, fc3];
  return { inputShape: [32, 32, 1], variables: layers.flatMap((layer) => layer.variables), forward };
}

function mlp(hidden: number[]): Network {
  const sizes = [784, ...hidden, CLASSES];
  const layers = sizes.slice(1).map((outputs, i) => dense(sizes[i], outputs));
  const forward = (images: tf.Tensor) =>
    layers.reduce(
      (x, layer, i) => (i < layers.length - 1 ? tf.relu(layer.apply(x)) : layer.apply(x)),
      images as tf.Tensor2D,
    );
  return { inputShape: [784], variables: layers.flatMap((layer) => layer.variables), forward };
}

function buildNetwork(model: PeerModel): Network {
  if (model === "lenet5") return lenet5();
  if (model.length < 1 || model.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new UserError(`MLP hidden sizes must be positive integers, got [${model}]`);
  }
  return mlp(model);
}

/** Random normalised images and one-hot labels, created once so they stay resident on the backend. */
function residentBatches(network: Network, batch: number) {
  return Array.from({ length: INPUT_POOL }, () =>
    tf.tidy(() => ({
      images: tf.randomNormal([batch, ...network.inputShape]),
      labels: tf.oneHot(tf.randomUniform([batch], 0, CLASSES, "int32") as tf.Tensor1D, CLASSES),
    })));
}

function disposeAll(network: Network, batches: ReturnType<typeof residentBatches>): void {
  tf.dispose(network.variables);
  for (const { images, labels } of batches) tf.dispose([images, labels]);
}

function checkCounts(...counts: number[]): void {
  for (const count of counts) {
    if (!Number.isInteger(count) || count < 1) {
      throw new UserError(`expected a positive integer, got ${count}`);
    }
  }
}

async function readAndDispose(tensor: tf.Tensor): Promise<void> {
  await tensor.data();
  tensor.dispose();
}

/** Trains with plain SGD; the loss is read back once, at the end, as our engine does. */
export async function tfjsTrain(
  model: PeerModel,
  backend: PeerBackend,
  batch: number,
  steps: number,
  deferredSubmit?: number,
): Promise<PeerTrainResult> {
  checkCounts(batch, steps);
  await useBackend(backend);
  useDeferredSubmit(backend, deferredSubmit);
  const network = buildNetwork(model);
  const batches = residentBatches(network, batch);
  const optimizer = tf.train.sgd(LEARNING_RATE);
  // One SGD step on resident batch `index`; returns its loss, a scalar the caller disposes.
  const step = (index: number) => {
    const { images, labels } = batches[index % INPUT_POOL];
    return optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, network.forward(images)) as tf.Scalar,
      true,
      network.variables,
    )!;
  };
  try {
    for (let i = 1; i < WARMUP_STEPS; i++) step(i).dispose();
    await readAndDispose(step(0)); // drains the queue before the clock starts
    const start = performance.now();
    let loss = step(0);
    for (let i = 1; i < steps; i++) {
      loss.dispose(); // frees the handle only; queued GPU work still runs
      loss = step(i);
    }
    const finalLoss = (await loss.data())[0];
    const seconds = (performance.now() - start) / 1000;
    loss.dispose();
    if (!Number.isFinite(finalLoss)) throw new Error(`TF.js ${backend} training diverged: loss ${finalLoss}`);
    return { imagesPerSecond: (batch * steps) / seconds, steps, seconds };
  } finally {
    optimizer.dispose();
    disposeAll(network, batches);
  }
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/**
 * Inference per batch: streamed (batches back to back, logits read once at the end), latency (one
 * batch including its readback, repeated) and, where TF.js's profiler reports it, kernel time.
 */
export async function tfjsInfer(
  model: PeerModel,
  backend: PeerBackend,
  batch: number,
  batches: number,
  deferredSubmit?: number,
): Promise<PeerInferResult> {
  checkCounts(batch, batches);
  await useBackend(backend);
  useDeferredSubmit(backend, deferredSubmit);
  const network = buildNetwork(model);
  const inputs = residentBatches(network, batch);
  const predict = (index: number) => tf.tidy(() => network.forward(inputs[index % INPUT_POOL].images));
  try {
    for (let i = 1; i < WARMUP_STEPS; i++) predict(i).dispose();
    await readAndDispose(predict(0)); // warm-up: compile the shaders, let the JIT settle
    const start = performance.now();
    let logits = predict(0);
    for (let i = 1; i < batches; i++) {
      logits.dispose();
      logits = predict(i);
    }
    await logits.data();
    const streamedMsPerBatch = (performance.now() - start) / batches;
    logits.dispose();

    const latencies: number[] = [];
    for (let i = 0; i < batches; i++) {
      const begin = performance.now();
      const output = predict(i);
      await output.data();
      latencies.push(performance.now() - begin);
      output.dispose();
    }
    latencies.sort((a, b) => a - b);
    // TF.js's profiler: GPU timestamp queries on webgpu (where the adapter has them), per-kernel wall clock on cpu.
    const profiled = Math.min(batches, PROFILED_BATCHES);
    const profile = await tf.time(() => {
      for (let i = 0; i < profiled; i++) tf.dispose(predict(i));
    });
    return {
      streamedMsPerBatch,
      latencyMs: {
        median: percentile(latencies, 0.5),
        p10: percentile(latencies, 0.1),
        p90: percentile(latencies, 0.9),
      },
      ...(typeof profile.kernelMs === "number" ? { kernelMsPerBatch: profile.kernelMs / profiled } : {}),
    };
  } finally {
    disposeAll(network, inputs);
  }
}

/** GFLOP/s of [batch x n] x [n x n], repeated, with one readback at the end. */
export async function tfjsMatmulGflops(
  n: number,
  batch: number,
  backend: PeerBackend,
  repeats: number,
  deferredSubmit?: number,
): Promise<number> {
  checkCounts(n, batch, repeats);
  await useBackend(backend);
  useDeferredSubmit(backend, deferredSubmit);
  const left = tf.randomNormal([batch, n]);
  const right = tf.randomNormal([n, n]);
  try {
    await readAndDispose(tf.matMul(left, right)); // warm-up: compile the shader
    const start = performance.now();
    let product = tf.matMul(left, right);
    for (let i = 1; i < repeats; i++) {
      product.dispose();
      product = tf.matMul(left, right);
    }
    await product.data();
    const seconds = (performance.now() - start) / 1000;
    product.dispose();
    return (2 * batch * n * n * repeats) / seconds / 1e9;
  } finally {
    tf.dispose([left, right]);
  }
}
