/** The bench's measurements of our own engine, on either backend. */
import { type Backend, repeated } from "../../engine/backend.ts";
import { describeChoices, type KernelMode } from "../../engine/tuner.ts";
import { compileModel } from "../../io/tuning_cache.ts";
import { Random } from "../../engine/random.ts";
import { type ByteImageSet, DeviceDataSet } from "../../models/dataset.ts";
import { Dense } from "../../models/layers/dense.ts";
import type { CompiledModel, ModelSpec } from "../../models/model.ts";
import { trainEpoch } from "../../models/epoch.ts";
import { measureInference, TIMED_BATCH_POSITIONS } from "../measure.ts";
import { dispatchesPerStep, type StudyData } from "../session.ts";
import {
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
  LEARNING_RATE,
  median,
  type Plan,
  SEED,
  stepsForPass,
  timed,
  type TrainingRow,
} from "./rows.ts";

// ---------- our engine ----------

/** The first `count` images of a set, resident on the backend (a prefix uploads only what it uses). */
export function prefixDataSet(backend: Backend, data: StudyData, which: "train" | "test", count: number) {
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

export function releaseDataSet(set: DeviceDataSet): void {
  for (const tensor of [set.images, set.labels, set.order]) set.backend.release(tensor);
}

/**
 * Seconds per training step, from ever longer runs (doubling) until one takes a quarter of a pass;
 * `first` is an already timed one-step run. Steps past the end of `set` train on padding (zero
 * gradients): the same arithmetic, so the same time.
 */
export async function calibrateStep(model: CompiledModel, set: DeviceDataSet, plan: Plan, first?: number) {
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
export async function oursTraining(
  backend: Backend,
  spec: ModelSpec,
  batch: number,
  data: StudyData,
  plan: Plan,
  kernels: KernelMode = "fixed",
): Promise<Partial<TrainingRow>> {
  const model = await compileModel(backend, spec, batch, SEED, kernels);
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
    ...(kernels === "tuned" ? { kernelChoices: describeChoices(model.kernelChoices) } : {}),
  };
}

/** measureInference, repeated; each figure is the median over repeats of each repeat's own median. */
export async function oursInference(
  backend: Backend,
  spec: ModelSpec,
  data: StudyData,
  plan: Plan,
  secondsPerBatch: number,
  kernels: KernelMode = "fixed",
): Promise<Partial<InferenceRow>> {
  const model = await compileModel(backend, spec, INFERENCE_BATCH, SEED, kernels, { training: false });
  // As many test batches as the timing goes through (measure.ts).
  const set = prefixDataSet(backend, data, "test", INFERENCE_BATCH * TIMED_BATCH_POSITIONS);
  const batches = plan.fixedSteps ?? stepsForPass(secondsPerBatch, plan);
  const timings = [];
  for (let r = 0; r < plan.repeats; r++) {
    timings.push(await measureInference(model, set, { batches, warmup: 2 }));
  }
  releaseDataSet(set);
  const streamed = timings.map((t) => t.streamed.median);
  const latency = timings.map((t) => t.latency.median);
  return {
    kernelMs: median(timings.map((t) => t.perBatch.median)),
    kernelClock: timings[0].clock,
    streamedMs: median(streamed),
    latencyMs: median(latency),
    batches,
    repeats: timings.length,
  };
}

/**
 * GFLOP/s of our dense forward kernel at [batch x 4096] x [4096 x 4096]^T + bias (2*B*IN*OUT flops): a
 * one-layer model, so that the kernel timed is the one the models dispatch.
 */
export async function oursDense(
  backend: Backend,
  batch: number,
  plan: Plan,
  kernels: KernelMode = "fixed",
): Promise<Partial<DenseRow>> {
  const n = DENSE_SIZE;
  const spec: ModelSpec = {
    name: `dense-${n}`,
    inputShape: [n],
    pad: 0,
    layers: [new Dense("fc", n, n)],
    classes: n,
  };
  const { forward } = await compileModel(backend, spec, batch, SEED, kernels, { training: false });
  backend.run(forward); // builds the pipeline
  await backend.finish();
  const times = await backend.timeKernels(repeated(forward, plan.repeats));
  const samples = times.msPerProgram.map((ms) => (2 * batch * n * n) / (ms / 1000) / 1e9);
  return {
    kernel: forward.map((dispatch) => dispatch.kernel.entry).join(" + "),
    gflops: median(samples),
    samples,
    clock: times.clock,
  };
}
