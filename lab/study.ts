/**
 * The study's models and the measurement the sweep and `deno task eval` share: a trained model's
 * accuracy, inference time and memory on one path, each path on a backend of its own.
 */
import type { BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import type { MemoryDevice } from "../engine/memory.ts";
import { DeviceDataSet } from "../models/dataset.ts";
import type { CompiledModel } from "../models/model.ts";
import { compileModel, kernelMode } from "../io/tuning_cache.ts";
import { evaluate } from "../models/epoch.ts";
import { modelByName } from "../models/zoo.ts";
import { type InferenceTiming, measureInference, type MemoryFigures, memoryFigures } from "./measure.ts";
import { residentGrowth } from "./memory_probe.ts";
import { ProgressLine } from "../io/progress.ts";
import { type ExecutionPath, FAMILIES, type Family, PATHS, type ResultRow } from "./results.ts";
import type { StudyData } from "./session.ts";
import { createDenoBackend } from "../io/webgpu.ts";

/** LeNet-5 and the lab's 30 MLPs, in the lab's order ("2058" is the lab's own size). */
export const STUDY_MODELS: readonly string[] = [
  "lenet5",
  ...[30, 60, 90, 100, 120, 150, 180, 200, 210, 240, 270, 300, 400, 512, 1024, 2058, 4096, 8192, 16384, 32768]
    .map((hidden) => `mlp-${hidden}`),
  ...["100-30", "200-70", "300-100", "400-130", "512-256", "1024-512", "2048-1024", "4096-2048", "8192-4096"]
    .map((hidden) => `mlp-${hidden}`),
  "mlp-16384-8192",
];

/** lenet5 (with either pooling), mlp1 (one hidden layer) or mlp2 (two), for any name modelByName accepts. */
export function familyOf(name: string): Family {
  if (name === "lenet5" || name === "lenet5-avg") return "lenet5";
  return name.split("-").length === 2 ? "mlp1" : "mlp2";
}

/** The hidden layer sizes of an MLP's name; none for LeNet-5. */
export function hiddenSizes(name: string): number[] {
  return name.startsWith("mlp-") ? name.slice(4).split("-").map(Number) : [];
}

/**
 * A comma list of model names and families (lenet5, mlp1, mlp2) as model names, each once, in the
 * order given; undefined selects the whole study.
 */
export function selectModels(list: string | undefined): string[] {
  if (list === undefined) return [...STUDY_MODELS];
  const names: string[] = [];
  for (const item of list.split(",").map((part) => part.trim())) {
    if ((FAMILIES as readonly string[]).includes(item)) {
      names.push(...STUDY_MODELS.filter((name) => familyOf(name) === item));
      continue;
    }
    try {
      names.push(modelByName(item).name);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`--models: ${error.message}; or a family: ${FAMILIES.join(", ")}`);
    }
  }
  return [...new Set(names)];
}

/** A comma list of paths, each once; undefined means both. */
export function selectPaths(list: string | undefined): ExecutionPath[] {
  if (list === undefined) return [...PATHS];
  const paths = list.split(",").map((part) => part.trim());
  for (const path of paths) {
    if (!(PATHS as readonly string[]).includes(path)) {
      throw new UserError(`--paths ${list}: "${path}" is not a path; use ${PATHS.join(",")} or one of them`);
    }
  }
  return [...new Set(paths as ExecutionPath[])];
}

/** Where a backend's ledger counts its bytes. */
export function memoryDevice(kind: BackendKind): MemoryDevice {
  return kind === "cpu" ? "cpu" : "gpu";
}

/** How `measureOnPath` measures. */
export interface MeasureOptions {
  /** Samples per batch. */
  readonly batchSize: number;
  /** Untimed batches before the timed ones. */
  readonly warmup: number;
  /** Timed batches. */
  readonly batches: number;
  /**
   * If set, time fewer batches (at least MIN_TIMED_BATCHES) where `batches` would take longer than
   * this, judged from the accuracy pass: the CPU path of the largest MLPs takes seconds per batch.
   */
  readonly maxTimingSeconds?: number;
  /** --kernels as given (fixed or tuned; undefined: the default for the path). */
  readonly kernels?: string;
  /** Put before the progress line, e.g. "[3/31] mlp-90 cpu". */
  readonly progressLabel?: string;
}

/** The fewest batches a distribution's 10th and 90th percentiles are worth reporting from. */
export const MIN_TIMED_BATCHES = 10;

/** A trained model measured on one path. */
export interface PathMeasurement {
  /** The path: cpu or webgpu. */
  readonly path: BackendKind;
  /** The adapter's name. */
  readonly adapter: string;
  /** Trainable values. */
  readonly parameters: number;
  /** Accuracy on the test images used. */
  readonly testAccuracy: number;
  /** Test images used. */
  readonly testImages: number;
  /** Inference time per batch. */
  readonly timing: InferenceTiming;
  /** Memory figures. */
  readonly memory: MemoryFigures;
  /**
   * The ledger's peak while the model was built, loaded and run over the test set, less the resident
   * test images, which are the same for every model and would hide the differences between small ones.
   * Taken before the timing, whose batch numbers are the instrument's, not the model's.
   */
  readonly peakInferBytes: number;
  /**
   * allocated_bytes: the ledger's peak over the whole measurement (the model built, loaded, run over the
   * test set and timed), everything the backend allocated included: readback staging, timestamp query
   * sets and their buffers, the CPU twins' scratch arrays; less the resident test images.
   */
  readonly allocatedBytes: number;
  /** measured_bytes: the growth of a fresh process's resident memory (lab/memory_probe.ts). */
  readonly measuredBytes: number | null;
  /** Why measuredBytes is null. */
  readonly measuredError?: string;
}

/**
 * Measures a trained model on a fresh backend of `kind` (so its ledger counts this model alone),
 * destroyed afterwards: an inference-only model is built, `load` fills its parameters, then the test
 * set gives the accuracy, and the timed batches the inference time.
 */
export async function measureOnPath(
  kind: BackendKind,
  modelName: string,
  load: (model: CompiledModel) => void | Promise<unknown>,
  data: StudyData,
  options: MeasureOptions,
): Promise<PathMeasurement> {
  const backend = await createDenoBackend(kind);
  const device = memoryDevice(kind);
  const progress = new ProgressLine();
  const label = options.progressLabel ? `${options.progressLabel} ` : "";
  try {
    // The test images first, so that the peak less their bytes is exactly the model's own peak.
    const test = new DeviceDataSet(backend, "test", data.mnist.test, data.stats, data.testCount);
    const dataBytes = backend.ledger.live(device);
    // A spec of its own: compiling fuses activations into the layer objects, so a spec compiles once.
    const mode = kernelMode(options.kernels, kind);
    const model = await compileModel(backend, modelByName(modelName), options.batchSize, 0, mode, {
      training: false,
    });
    await load(model);
    const tested = await evaluate(
      model,
      test,
      (done, all) => progress.update(`${label}test accuracy`, done, all),
    );
    const peakInferBytes = backend.ledger.peak(device) - dataBytes;
    const batches = timedBatches(options, (tested.seconds * 1000) / tested.steps);
    progress.update(`${label}timing ${batches} batches`, 0, 1);
    const timing = await measureInference(model, test, { warmup: options.warmup, batches });
    const allocatedBytes = backend.ledger.peak(device) - dataBytes;
    progress.update(`${label}resident memory, in a process of its own`, 0, 1);
    const resident = await residentGrowth(modelName, kind, options.batchSize).then(
      (growth) => ({ measuredBytes: growth.measuredBytes }),
      (error) => ({ measuredBytes: null, measuredError: String((error as Error)?.message ?? error) }),
    );
    return {
      path: kind,
      adapter: backend.adapter.name,
      parameters: model.parameterCount(),
      testAccuracy: tested.accuracy,
      testImages: tested.samples,
      timing,
      memory: memoryFigures(model),
      peakInferBytes,
      allocatedBytes,
      ...resident,
    };
  } finally {
    progress.clear();
    backend.destroy();
  }
}

/** The results columns of issue 11 for one measurement: null where it never ran. */
export function measuredColumns(measured?: PathMeasurement): Pick<
  ResultRow,
  | "op_bytes"
  | "allocated_bytes"
  | "measured_bytes"
  | `${"streamed" | "latency"}_ms_${"median" | "p10" | "p90"}`
> {
  const { streamed, latency } = measured?.timing ?? {};
  return {
    op_bytes: measured?.memory.opBytes ?? null,
    allocated_bytes: measured?.allocatedBytes ?? null,
    measured_bytes: measured?.measuredBytes ?? null,
    streamed_ms_median: streamed?.median ?? null,
    streamed_ms_p10: streamed?.p10 ?? null,
    streamed_ms_p90: streamed?.p90 ?? null,
    latency_ms_median: latency?.median ?? null,
    latency_ms_p10: latency?.p10 ?? null,
    latency_ms_p90: latency?.p90 ?? null,
  };
}

function timedBatches(options: MeasureOptions, msPerBatch: number): number {
  if (options.maxTimingSeconds === undefined || !(msPerBatch > 0)) return options.batches;
  const affordable = Math.floor((options.maxTimingSeconds * 1000) / msPerBatch);
  return Math.min(options.batches, Math.max(MIN_TIMED_BATCHES, affordable));
}

/** e.g. "0.0213 ms/batch (p10 0.0201, p90 0.0302; 200 batches; GPU timestamps ...)". */
export function describeTiming(timing: InferenceTiming): string {
  const { median, p10, p90, samples } = timing.perBatch;
  let text = `${formatMs(median)} ms/batch (p10 ${formatMs(p10)}, p90 ${formatMs(p90)}; ` +
    `${samples} batches; ${timing.clock})`;
  text += `; streamed ${formatMs(timing.streamed.median)} ms/batch`;
  text += `; one batch with readback ${formatMs(timing.latency.median)} ms (median)`;
  return text;
}

/** One line per path: accuracy, time and memory. */
export function describeMeasurement(measured: PathMeasurement): string {
  const { memory } = measured;
  const resident = measured.measuredBytes === null
    ? `not measured (${measured.measuredError})`
    : formatBytes(measured.measuredBytes);
  return `accuracy ${measured.testAccuracy.toFixed(4)} on ${measured.testImages} images; ` +
    `${describeTiming(measured.timing)}; op_bytes ${formatBytes(memory.opBytes)}, ` +
    `parameters ${formatBytes(memory.parameterBytes)}, allocated ${formatBytes(measured.allocatedBytes)}, ` +
    `resident growth ${resident}`;
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
