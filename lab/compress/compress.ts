/**
 * One model compressed and measured beside its float self: what `deno task compress` prints and each
 * row of `deno task compress-study`. A plain function: a model's float checkpoint, the data and the
 * method's options in; accuracy, parameter bytes, op bytes, file size and inference time per path out,
 * and the compressed checkpoint's bytes. Nothing printed.
 *
 * Stages, in order, each optional: pruning (with retraining), quantization-aware training, quantization.
 * The training stages run once, on the first path; the measurements run on every path.
 */
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { bitsPerValue, formatName, type QuantFormat } from "../../engine/quantization.ts";
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "../../engine/safetensors.ts";
import { createDenoBackend } from "../../io/webgpu.ts";
import { dequantizeCheckpoint, QUANTIZATION_KEY, quantizeCheckpoint } from "../../models/checkpoint.ts";
import {
  checkSparsity,
  pruneAndRetrain,
  type PruneOptions,
  PruningMasks,
} from "../../models/compress/prune.ts";
import {
  calibrateFakeQuant,
  qatMetadata,
  QatModel,
  type QatParams,
  trainQat,
} from "../../models/compress/qat.ts";
import { qatCalibration } from "../../models/compress/qat_convert.ts";
import { modelStoredSize } from "../../models/compress/sparse.ts";
import { DeviceDataSet } from "../../models/dataset.ts";
import { evaluate } from "../../models/epoch.ts";
import { CompiledModel } from "../../models/model.ts";
import {
  calibrate,
  compileQuantized,
  convertDynamic,
  convertStatic,
  convertWeightOnly,
  type QuantizedModel,
} from "../../models/quantized/convert.ts";
import type { ObserverKind } from "../../models/quantized/observers.ts";
import type { TrainingPlan } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import { measureInference, opBytes } from "../measure.ts";
import { parseSchedule, PROTOCOL } from "../protocol.ts";
import type { ExecutionPath } from "../results.ts";
import { deviceDataSets, type StudyData } from "../session.ts";

/** How the quantized model computes. */
export type QuantMethod = "static" | "dynamic" | "weight-only";

/** Pruning, then retraining with the masks kept. */
export interface PruneSettings extends PruneOptions {
  /** Retraining epochs after pruning (0: prune only). */
  readonly retrainEpochs: number;
  /** Prune step by step over the retraining epochs (Zhu & Gupta). */
  readonly gradual?: boolean;
}

/** What to do to the model, and how to measure it. */
export interface CompressOptions {
  /** The number format (parseQuantFormat); none: no quantization. */
  readonly format?: QuantFormat;
  /** static or dynamic (int8 only) or weight-only; static for int8 and weight-only otherwise, unless given. */
  readonly method?: QuantMethod;
  /** One weight scale per output channel. */
  readonly perChannel?: boolean;
  /** Training images the static model's ranges are observed on. */
  readonly calibrationImages?: number;
  /** How the static model's ranges are observed. */
  readonly observer?: ObserverKind;
  /** Quantization-aware training epochs before converting (int8 static only). */
  readonly qatEpochs?: number;
  /** Pruning before any quantization. */
  readonly prune?: PruneSettings;
  /** Where to measure. */
  readonly paths: readonly ExecutionPath[];
  /** Samples per batch: inference and (re)training. */
  readonly batchSize: number;
  /** Untimed batches before the timed ones. */
  readonly warmup: number;
  /** Timed batches. */
  readonly timedBatches: number;
  /** Learning-rate schedule of retraining and QAT (the lab's, unless given). */
  readonly schedule?: string;
  /** Measure the float model too (true unless false: a study measures it once per model). */
  readonly measureFloat?: boolean;
  /** A progress line now and then. */
  readonly onProgress?: (line: string) => void;
}

/** The default number of calibration images (PyTorch's tutorials calibrate on a few batches; INT8 used 1,000). */
export const DEFAULT_CALIBRATION_IMAGES = 1000;

/** One model on one path. */
export interface VariantMeasurement {
  /** "float", "compressed", or "qat-fake-quant" (the QAT model before conversion, measured where it trained). */
  readonly variant: "float" | "compressed" | "qat-fake-quant";
  readonly path: ExecutionPath;
  readonly adapter: string;
  readonly testAccuracy: number;
  readonly testImages: number;
  /** Every parameter at its stored precision (a pruned model's: its smallest sparse encoding). */
  readonly parameterBytes: number;
  /** lab/measure.ts's op_bytes, at the activations' precision (1 byte for static int8, else 4). */
  readonly opBytes: number;
  /** Bytes of the safetensors file that holds the model. */
  readonly fileBytes: number;
  /** Median inference time per batch, by `clock`; null where not timed. */
  readonly msPerBatch: number | null;
  readonly clock: string;
}

/** What `compressModel` gives back. */
export interface CompressResult {
  readonly model: string;
  /** The compression in words: "int8 static per-tensor, minmax calibration on 1000 images". */
  readonly method: string;
  readonly measurements: VariantMeasurement[];
  /** Pruning's figures, if pruned. */
  readonly pruning?: {
    readonly accuracyBeforeRetraining: number;
    readonly sparsity: Record<string, number>;
  };
  /** QAT: the fake-quantised model's accuracy and the converted one's, and the largest gap over the paths. */
  readonly qat?: {
    readonly fakeQuantAccuracy: number;
    readonly convertedAccuracy: Record<string, number>;
    readonly largestDifference: number;
    readonly params: QatParams;
  };
  /** The compressed model as a checkpoint (a quantized one where quantized): what --save writes. */
  readonly checkpoint: Uint8Array;
}

type Weights = Map<string, NamedTensor>;

interface Resolved {
  readonly format?: QuantFormat;
  readonly method?: QuantMethod;
  /** Signed intB the engine's kernels run (int8 static/dynamic, intB weight-only); else a storage round trip. */
  readonly kernels: boolean;
}

/** Checks the options before any work; one line for what does not fit. */
export function resolveMethod(
  options: Pick<CompressOptions, "format" | "method" | "qatEpochs" | "prune">,
): Resolved {
  const { format, prune } = options;
  const qatEpochs = options.qatEpochs ?? 0;
  if (prune) {
    checkSparsity(prune.sparsity);
    if (!(Number.isInteger(prune.retrainEpochs) && prune.retrainEpochs >= 0)) {
      throw new UserError(`retraining takes a whole number of epochs, 0 or more, not ${prune.retrainEpochs}`);
    }
    if (prune.gradual && prune.retrainEpochs < 1) {
      throw new UserError(
        "gradual pruning prunes over the retraining epochs: give --retrain-epochs 1 or more",
      );
    }
  }
  if (!format) {
    if (options.method) throw new UserError(`--method ${options.method} needs a format: add --quantize int8`);
    if (qatEpochs > 0) throw new UserError("quantization-aware training needs a format: add --quantize int8");
    if (!prune) throw new UserError("nothing to do: give --quantize FORMAT, --prune SPARSITY, or both");
    return { kernels: false };
  }
  const int8 = format.kind === "integer" && format.signed && format.bits === 8;
  const method = options.method ?? (int8 ? "static" : "weight-only");
  if ((method === "static" || method === "dynamic") && !int8) {
    throw new UserError(
      `--method ${method} runs int8 kernels: use --quantize int8, or --method weight-only for ${
        formatName(format)
      }`,
    );
  }
  if (qatEpochs > 0 && method !== "static") {
    throw new UserError("quantization-aware training converts to the static int8 model: use --method static");
  }
  return { format, method, kernels: format.kind === "integer" && format.signed };
}

/** The compression in words. */
export function describeMethod(options: CompressOptions): string {
  const parts: string[] = [];
  const { prune } = options;
  if (prune) {
    parts.push(
      `${prune.method} pruning to ${prune.sparsity} (${prune.scope ?? "layer"}), ` +
        `${prune.retrainEpochs} retraining epoch(s)${prune.gradual ? ", gradual" : ""}`,
    );
  }
  if ((options.qatEpochs ?? 0) > 0) parts.push(`${options.qatEpochs} QAT epoch(s)`);
  const { format, method } = resolveMethod(options);
  if (format) {
    let text = `${formatName(format)} ${method}${options.perChannel ? " per-channel" : ""}`;
    if (method === "static" && !options.qatEpochs) {
      text += `, ${observerName(options.observer)} calibration on ${
        options.calibrationImages ?? DEFAULT_CALIBRATION_IMAGES
      } images`;
    }
    parts.push(text);
  }
  return parts.join(", then ");
}

function observerName(observer?: ObserverKind): string {
  if (!observer || observer.kind === "minmax") return "min-max";
  return `percentile ${observer.percentile ?? 99.99}`;
}

/** Compresses model `name` from its float checkpoint and measures it and the float model on each path. */
export async function compressModel(
  name: string,
  checkpoint: DecodedSafetensors,
  data: StudyData,
  options: CompressOptions,
): Promise<CompressResult> {
  const resolved = resolveMethod(options);
  const method = describeMethod(options);
  const progress = options.onProgress ?? (() => {});
  const floatWeights = weightsOf(dequantizeCheckpoint(checkpoint));
  const metadata = { ...checkpoint.metadata };
  delete metadata[QUANTIZATION_KEY];
  let weights = floatWeights;
  let pruning: CompressResult["pruning"];
  let storedBytes: number | undefined;
  let qat: { accuracy: number; params: QatParams } | undefined;
  if (options.prune || (options.qatEpochs ?? 0) > 0) {
    const backend = await createDenoBackend(options.paths[0]);
    try {
      const sets = deviceDataSets(backend, data);
      if (options.prune) {
        progress(`${name}: pruning on ${options.paths[0]}`);
        ({ weights, pruning, storedBytes } = await pruneWeights({
          backend,
          name,
          weights,
          sets,
          data,
          options,
        }));
      }
      if ((options.qatEpochs ?? 0) > 0) {
        progress(`${name}: quantization-aware training on ${options.paths[0]}`);
        ({ weights, qat } = await trainQuantAware({ backend, name, weights, sets, data, options }));
      }
    } finally {
      backend.destroy();
    }
  }
  const floatFile = encodeSafetensors([...floatWeights.values()], metadata);
  const compressedDecoded = {
    tensors: weights,
    metadata: qat ? { ...metadata, ...qatMetadata(qat.params) } : metadata,
  };
  const compressedFile = resolved.format
    ? quantizeCheckpoint(compressedDecoded, resolved.format, { perChannel: options.perChannel })
    : encodeSafetensors([...weights.values()], compressedDecoded.metadata);
  const measurements: VariantMeasurement[] = [];
  for (const path of options.paths) {
    progress(`${name}: measuring on ${path}`);
    const backend = await createDenoBackend(path);
    try {
      const test = new DeviceDataSet(backend, "test", data.mnist.test, data.stats, data.testCount);
      const float = floatModel(backend, name, floatWeights, options.batchSize);
      const floatBytes = 4 * float.parameterCount();
      const floatOpBytes = opBytes(float);
      if (options.measureFloat !== false) {
        measurements.push({
          variant: "float",
          ...await measure(float, test, path, options),
          parameterBytes: floatBytes,
          opBytes: floatOpBytes,
          fileBytes: floatFile.length,
        });
      }
      const compressed = await compressedModel(backend, name, weights, data, resolved, options, qat?.params);
      measurements.push({
        variant: "compressed",
        ...await measure(compressed.model, test, path, options),
        parameterBytes: compressed.parameterBytes ?? storedBytes ?? floatBytes,
        opBytes: resolved.method === "static" ? floatOpBytes / 4 : floatOpBytes,
        fileBytes: compressedFile.length,
      });
    } finally {
      backend.destroy();
    }
  }
  return {
    model: name,
    method,
    measurements,
    ...(pruning ? { pruning } : {}),
    ...(qat ? { qat: qatSummary(qat, measurements) } : {}),
    checkpoint: compressedFile,
  };
}

function qatSummary(
  qat: { accuracy: number; params: QatParams },
  measurements: readonly VariantMeasurement[],
): NonNullable<CompressResult["qat"]> {
  const converted = measurements.filter((m) => m.variant === "compressed");
  return {
    fakeQuantAccuracy: qat.accuracy,
    convertedAccuracy: Object.fromEntries(converted.map((m) => [m.path, m.testAccuracy])),
    largestDifference: Math.max(...converted.map((m) => Math.abs(m.testAccuracy - qat.accuracy))),
    params: qat.params,
  };
}

/** The checkpoint's float tensors by name. */
function weightsOf(decoded: DecodedSafetensors): Weights {
  return new Map(decoded.tensors);
}

/** A model's parameters read back as named tensors. */
async function readWeights(model: CompiledModel): Promise<Weights> {
  const weights: Weights = new Map();
  for (const p of model.parameters) {
    const data = Float32Array.from(await model.backend.read(p.value));
    weights.set(p.name, { name: p.name, shape: [...p.shape], data });
  }
  return weights;
}

function dataOf(weights: Weights): Map<string, ArrayLike<number>> {
  return new Map([...weights].map(([name, tensor]) => [name, tensor.data]));
}

function floatModel(backend: Backend, name: string, weights: Weights, batch: number, training = false) {
  const model = new CompiledModel(backend, modelByName(name), batch, 0, { training });
  model.loadParameters(dataOf(weights));
  return model;
}

function trainingPlan(epochs: number, data: StudyData, options: CompressOptions): TrainingPlan {
  return {
    epochs,
    schedule: parseSchedule(options.schedule ?? PROTOCOL.learningRateSchedule),
    seed: PROTOCOL.seed,
    trainCount: data.trainCount,
  };
}

/** What a training stage (pruning, QAT) works on: it gives back new weights. */
interface TrainingStage {
  readonly backend: Backend;
  readonly name: string;
  readonly weights: Weights;
  readonly sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet };
  readonly data: StudyData;
  readonly options: CompressOptions;
}

async function pruneWeights(stage: TrainingStage) {
  const { backend, name, weights, sets, data, options } = stage;
  const prune = options.prune!;
  const model = floatModel(backend, name, weights, options.batchSize, true);
  const masks = new PruningMasks(model);
  const run = await pruneAndRetrain(masks, sets, trainingPlan(prune.retrainEpochs, data, options), prune, {
    gradual: prune.gradual,
  });
  const stored = await modelStoredSize(model);
  return {
    weights: await readWeights(model),
    pruning: {
      accuracyBeforeRetraining: run.accuracyBeforeRetraining,
      sparsity: Object.fromEntries(run.sparsity),
    },
    storedBytes: stored.storedBytes,
  };
}

async function trainQuantAware(stage: TrainingStage) {
  const { backend, name, weights, sets, data, options } = stage;
  const qat = new QatModel(backend, modelByName(name), options.batchSize, 0, {
    perChannel: options.perChannel,
  });
  qat.model.loadParameters(dataOf(weights));
  const count = Math.min(options.calibrationImages ?? DEFAULT_CALIBRATION_IMAGES, data.trainCount);
  const calibration = new DeviceDataSet(backend, "qat.calibration", data.mnist.train, data.stats, count);
  try {
    await calibrateFakeQuant(qat, calibration);
  } finally {
    calibration.release();
  }
  const run = await trainQat(qat, sets, trainingPlan(options.qatEpochs!, data, options));
  return { weights: await readWeights(qat.model), qat: { accuracy: run.testAccuracy, params: run.params } };
}

/** The compressed model on `backend`, and its parameter bytes where quantization sets them. */
async function compressedModel(
  backend: Backend,
  name: string,
  weights: Weights,
  data: StudyData,
  resolved: Resolved,
  options: CompressOptions,
  qatParams?: QatParams,
): Promise<{ model: CompiledModel; parameterBytes?: number }> {
  const { format, method } = resolved;
  if (!format) return { model: floatModel(backend, name, weights, options.batchSize) };
  if (!resolved.kernels) return storageRoundTrip(backend, name, weights, format, options);
  const spec = modelByName(name);
  const floats = dataOf(weights);
  const perChannel = options.perChannel ?? false;
  let quantized: QuantizedModel;
  if (method === "static") {
    const observed = await calibrate(backend, spec, floats, data.mnist.train, data.stats, {
      count: options.calibrationImages ?? DEFAULT_CALIBRATION_IMAGES,
      observer: options.observer ?? { kind: "minmax" },
    });
    const calibration = qatParams ? qatCalibration(spec, qatParams, observed) : observed;
    quantized = convertStatic(spec, floats, calibration, { perChannel });
  } else if (method === "dynamic") {
    quantized = convertDynamic(spec, floats, { perChannel });
  } else {
    quantized = convertWeightOnly(spec, floats, { bits: (format as { bits: number }).bits, perChannel });
  }
  return {
    model: compileQuantized(backend, quantized, options.batchSize),
    parameterBytes: quantized.parameterBytes,
  };
}

/**
 * Formats without kernels of a whole model here (unsigned intB, Qm.n, f16): the weights stored in the
 * format (the quantized checkpoint), read back to float32 and run by the float kernels. The parameter
 * bytes are the stored tensors' at the format's bits, plus a float32 scale and zero point per scale.
 */
function storageRoundTrip(
  backend: Backend,
  name: string,
  weights: Weights,
  format: QuantFormat,
  options: CompressOptions,
): { model: CompiledModel; parameterBytes: number } {
  const decoded = { tensors: weights, metadata: {} };
  const file = quantizeCheckpoint(decoded, format, { perChannel: options.perChannel });
  const quantized = decodeSafetensors(file, "the quantized weights");
  let parameterBytes = 0;
  for (const tensor of weights.values()) {
    const stored = quantized.stored?.get(tensor.name);
    parameterBytes += stored
      ? Math.ceil((tensor.data.length * bitsPerValue(format)) / 8)
      : 4 * tensor.data.length;
  }
  const entries = JSON.parse(quantized.metadata[QUANTIZATION_KEY] ?? "{}") as Record<
    string,
    { scales?: number[] }
  >;
  for (const entry of Object.values(entries)) parameterBytes += 8 * (entry.scales?.length ?? 0);
  const model = floatModel(backend, name, weightsOf(dequantizeCheckpoint(quantized)), options.batchSize);
  return { model, parameterBytes };
}

async function measure(
  model: CompiledModel,
  test: DeviceDataSet,
  path: ExecutionPath,
  options: CompressOptions,
): Promise<Omit<VariantMeasurement, "variant" | "parameterBytes" | "opBytes" | "fileBytes">> {
  const tested = await evaluate(model, test);
  let msPerBatch: number | null = null, clock = "not timed";
  if (options.timedBatches > 0) {
    const timing = await measureInference(model, test, {
      warmup: options.warmup,
      batches: options.timedBatches,
    });
    msPerBatch = timing.perBatch.median;
    clock = timing.clock;
  }
  return {
    path,
    adapter: model.backend.adapter.name,
    testAccuracy: tested.accuracy,
    testImages: tested.samples,
    msPerBatch,
    clock,
  };
}
