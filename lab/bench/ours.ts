/** The bench's measurements of our own engine, on either backend. */
import { type Backend, repeated } from "../../engine/backend.ts";
import { describeChoices, type KernelMode } from "../../engine/tuner.ts";
import { compileModel } from "../../io/tuning_cache.ts";
import { Random } from "../../engine/random.ts";
import { type ByteImageSet, DeviceDataSet } from "../../models/dataset.ts";
import { Dense } from "../../models/layers/dense.ts";
import type { CompiledModel, ModelSpec } from "../../models/model.ts";
import { type PassResult, trainEpoch } from "../../models/epoch.ts";
import { secondsPerTrainingStep } from "../../models/trainer.ts";
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

/** One model of a training cell: its kernel mode, the compiled model and its timed passes. */
interface Contender {
  readonly kernels: KernelMode;
  readonly model: CompiledModel;
  readonly passes: PassResult[];
}

/**
 * Training throughput with trainEpoch on a prefix of MNIST, one row per kernel mode in `modes`, all
 * measured alike so that their ratio is the kernels' own: every model is compiled first (a tuned one
 * tuned: its tuning is not timed), the step count is calibrated once (secondsPerTrainingStep, on the
 * last mode's model: today's kernels when "fixed" is among them) and shared, each model runs one
 * untimed pass of the same set (the gather for its size is a new pipeline), and the timed passes
 * alternate between the models, in turn forwards and backwards (A B, B A, A B...), so that neither
 * is always the first to run after a pause or always the second.
 */
export async function oursTraining(
  backend: Backend,
  spec: ModelSpec,
  batch: number,
  data: StudyData,
  plan: Plan,
  modes: readonly KernelMode[] = ["fixed"],
): Promise<Partial<TrainingRow>[]> {
  const contenders: Contender[] = [];
  for (const kernels of modes) {
    contenders.push({ kernels, model: await compileModel(backend, spec, batch, SEED, kernels), passes: [] });
  }
  const reference = contenders[contenders.length - 1].model;
  const mostSteps = Math.floor(data.trainCount / batch);
  let steps = Math.min(plan.fixedSteps ?? plan.maxSteps, mostSteps);
  if (plan.fixedSteps === undefined) {
    // Steps past a set's end would gather nothing: the set holds as many steps as calibration may take.
    const calibration = prefixDataSet(backend, data, "train", steps * batch);
    try {
      steps = Math.min(
        stepsForPass(
          await secondsPerTrainingStep(reference, calibration, LEARNING_RATE, plan.passSeconds / 2),
          plan,
        ),
        mostSteps,
      );
    } finally {
      calibration.release();
    }
  }
  const set = prefixDataSet(backend, data, "train", steps * batch);
  try {
    const order = new Random(SEED).permutation(set.count);
    for (const { model } of contenders) await trainEpoch(model, set, LEARNING_RATE, order);
    for (let repeat = 0; repeat < plan.repeats; repeat++) {
      const turn = repeat % 2 === 0 ? contenders : [...contenders].reverse();
      for (const { model, passes } of turn) passes.push(await trainEpoch(model, set, LEARNING_RATE, order));
    }
  } finally {
    set.release();
  }
  return contenders.map(({ kernels, model, passes }) => {
    for (const pass of passes) {
      if (!Number.isFinite(pass.loss)) throw new Error(`training diverged: loss ${pass.loss}`);
    }
    return {
      imagesPerSecond: median(passes.map((pass) => pass.samples / pass.seconds)),
      samples: passes.map((pass) => pass.samples / pass.seconds),
      steps,
      secondsPerStep: median(passes.map((pass) => pass.seconds / pass.steps)),
      submitsPerStep: median(passes.map((pass) => pass.submits / pass.steps)),
      dispatchesPerStep: dispatchesPerStep(model),
      ...(kernels === "tuned" ? { kernelChoices: describeChoices(model.kernelChoices) } : {}),
    };
  });
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
  set.release();
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
