/**
 * Checkpoints as safetensors bytes, with the names, shapes and layouts of PyTorch's state_dict.
 * Files are the Deno side's business (io/checkpoint_file.ts); here a checkpoint is a Uint8Array.
 *
 * A quantized checkpoint (quantizeCheckpoint) stores tensors as I8 / U8 / I16 / I32 / F16, each one's
 * format, scales and zero points in the metadata key "quantization" (docs/compression.md gives the
 * schema); loading it into a float model dequantizes it (dequantizeCheckpoint).
 */
import { UserError } from "../engine/errors.ts";
import {
  affineParamsFromRange,
  fixedPointScale,
  formatName,
  halfBits,
  halfFromBits,
  integerRange,
  parseQuantFormat,
  type QuantFormat,
  quantizeValue,
} from "../engine/quantization.ts";
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
  type StoredDType,
  type StoredTensor,
} from "../engine/safetensors.ts";
import type { CompiledModel } from "./model.ts";

/**
 * The model's parameters as safetensors bytes, the model's name in the metadata with `metadata`.
 * Weights that are not all finite are refused: decodeCheckpoint would refuse them, and a save never
 * writes what cannot be read back.
 */
export async function encodeCheckpoint(
  model: CompiledModel,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const tensors: NamedTensor[] = [];
  for (const parameter of model.parameters) {
    const data = (await model.backend.read(parameter.value)) as Float32Array;
    const problem = nonFinite(data);
    if (problem) {
      throw new UserError(
        `not saving ${model.spec.name}: its ${parameter.name} holds ${problem}; ` +
          `the training diverged, lower the learning rate (--lr-schedule)`,
      );
    }
    tensors.push({ name: parameter.name, shape: [...parameter.shape], data });
  }
  return encodeSafetensors(tensors, { model: model.spec.name, ...metadata });
}

/** "NaN at index 3" for the first value that is not finite, or undefined. */
function nonFinite(data: Float32Array): string | undefined {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) return `${data[i]} at index ${i}`;
  }
  return undefined;
}

/**
 * Refuses a checkpoint whose metadata names another model than `modelName`: the one check that
 * `train --weights`, `eval` and decodeCheckpoint share. A checkpoint without a name passes (PyTorch's
 * own files carry none); its tensors are checked against the model when it loads.
 */
export function checkSavedFor(metadata: Record<string, string>, modelName: string, path: string): void {
  const savedFor = Object.hasOwn(metadata, "model") ? metadata.model : undefined;
  if (savedFor !== undefined && savedFor !== modelName) {
    throw new UserError(
      `${path} is a checkpoint of ${savedFor}, not ${modelName}: name the model it was saved for`,
    );
  }
}

/**
 * What can be checked of a checkpoint before any model exists: saved for `modelName` (checkSavedFor),
 * and every weight finite (one line naming the first tensor that is not).
 */
export function checkCheckpoint(decoded: DecodedSafetensors, modelName: string, path: string): void {
  checkSavedFor(decoded.metadata, modelName, path);
  for (const [name, tensor] of asFloat(decoded, path).tensors) {
    const problem = nonFinite(tensor.data);
    if (problem) {
      throw new UserError(
        `${path}: tensor ${name} holds ${problem}; a model with weights that are not finite ` +
          `cannot be trained or evaluated, use a checkpoint saved before training diverged`,
      );
    }
  }
}

/**
 * Loads checkpoint bytes into a compiled model and returns their metadata: saved for this model
 * (checkSavedFor), every tensor there with the model's shapes and no other, every weight finite.
 * `path` names the bytes' origin in error messages.
 */
export function decodeCheckpoint(
  model: CompiledModel,
  bytes: Uint8Array,
  path = "the checkpoint",
): Record<string, string> {
  return loadDecodedCheckpoint(model, decodeSafetensors(bytes, path), path);
}

/** decodeCheckpoint for a file already decoded (e.g. to check it before any work). */
export function loadDecodedCheckpoint(
  model: CompiledModel,
  decoded: DecodedSafetensors,
  path = "the checkpoint",
): Record<string, string> {
  checkCheckpoint(decoded, model.spec.name, path);
  const { tensors, metadata } = asFloat(decoded, path);
  const values = new Map<string, Float32Array>();
  const expected = new Set(model.parameters.map((p) => p.name));
  const unexpected = [...tensors.keys()].filter((name) => !expected.has(name));
  const savedFor = metadata.model ? ` (it was saved for ${metadata.model})` : "";
  if (unexpected.length > 0) {
    throw new UserError(
      `${path} is not a checkpoint of ${model.spec.name}${savedFor}: it has ${
        unexpected[0]
      }, which the model lacks`,
    );
  }
  for (const parameter of model.parameters) {
    const tensor = tensors.get(parameter.name);
    if (!tensor || tensor.shape.join("x") !== parameter.shape.join("x")) {
      const found = tensor ? `shape ${tensor.shape.join("x")}` : "nothing";
      throw new UserError(
        `${path} is not a checkpoint of ${model.spec.name}${savedFor}: ${parameter.name} should be ` +
          `${parameter.shape.join("x")}, found ${found}`,
      );
    }
    values.set(parameter.name, tensor.data);
  }
  model.loadParameters(values);
  return metadata;
}

// ---------- quantized checkpoints ----------

/** The metadata key of a quantized checkpoint: a JSON object, tensor name -> `TensorQuantization`. */
export const QUANTIZATION_KEY = "quantization";

/** How one stored tensor maps back to floats: x = (q - zero_points[c]) * scales[c], c its index along `axis`. */
export interface TensorQuantization {
  /** `formatName`'s name: "int8", "uint4", "q6.10", "f16". */
  readonly format: string;
  /** 0 where each output channel (a weight's first dimension) has its own scale; absent per tensor. */
  readonly axis?: number;
  /** One per tensor, or one per channel; absent for f16. */
  readonly scales?: number[];
  /** Alongside scales. */
  readonly zero_points?: number[];
}

/** What quantizeCheckpoint takes besides the format. */
export interface CheckpointQuantizationOptions {
  /** A scale and zero point per output channel (intB weights only); else one per tensor. */
  readonly perChannel?: boolean;
}

/**
 * A float checkpoint's tensors in `format`, as safetensors bytes with the float file's metadata and the
 * quantization key. intB (2 to 8 bits, in I8, or U8 when unsigned): the weights (tensors of two or more
 * dimensions), scales from their min-max range, per tensor or per output channel; biases stay float32,
 * as in PyTorch's quantized Linear and Conv2d. Qm.n (I8 / I16 / I32 by width) and f16: every tensor.
 * Values round to nearest even and saturate at the format's range.
 */
export function quantizeCheckpoint(
  float: DecodedSafetensors,
  format: QuantFormat,
  options: CheckpointQuantizationOptions = {},
): Uint8Array {
  if ((float.stored?.size ?? 0) > 0 || Object.hasOwn(float.metadata, QUANTIZATION_KEY)) {
    throw new UserError("this checkpoint is quantized already: convert the float checkpoint it came from");
  }
  if (options.perChannel && format.kind !== "integer") {
    throw new UserError(
      `per-channel scales apply to intB formats, not ${
        formatName(format)
      }: drop --per-channel or use int2 to int8`,
    );
  }
  const tensors: (NamedTensor | StoredTensor)[] = [];
  const quantization: Record<string, TensorQuantization> = {};
  for (const tensor of float.tensors.values()) {
    if (format.kind === "integer" && tensor.shape.length < 2) {
      tensors.push(tensor);
      continue;
    }
    const { stored, info } = quantizeTensor(tensor, format, options.perChannel === true);
    tensors.push(stored);
    quantization[tensor.name] = info;
  }
  return encodeSafetensors(tensors, { ...float.metadata, [QUANTIZATION_KEY]: JSON.stringify(quantization) });
}

function quantizeTensor(
  tensor: NamedTensor,
  format: QuantFormat,
  perChannel: boolean,
): { stored: StoredTensor; info: TensorQuantization } {
  const { name, shape, data } = tensor;
  const formatText = formatName(format);
  if (format.kind === "f16") {
    return {
      stored: { name, shape, dtype: "F16", data: Uint16Array.from(data, halfBits) },
      info: { format: formatText },
    };
  }
  const channels = perChannel ? shape[0] : 1;
  const inner = data.length / Math.max(channels, 1);
  const scales: number[] = [], zeroPoints: number[] = [];
  for (let c = 0; c < channels; c++) {
    if (format.kind === "fixed") {
      scales.push(fixedPointScale(format));
      zeroPoints.push(0);
      continue;
    }
    let low = Infinity, high = -Infinity;
    for (let i = c * inner; i < (c + 1) * inner; i++) {
      low = Math.min(low, data[i]);
      high = Math.max(high, data[i]);
    }
    const { scale, zeroPoint } = affineParamsFromRange(inner > 0 ? low : 0, inner > 0 ? high : 0, format);
    scales.push(scale);
    zeroPoints.push(zeroPoint);
  }
  const range = integerRange(format);
  const dtype = storedDTypeFor(format);
  const values = new STORED_INTEGERS[dtype](data.length);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner);
    values[i] = quantizeValue(data[i], scales[c], zeroPoints[c], range);
  }
  const info: TensorQuantization = {
    format: formatText,
    ...(perChannel ? { axis: 0 } : {}),
    scales,
    zero_points: zeroPoints,
  };
  return { stored: { name, shape, dtype, data: values } as StoredTensor, info };
}

const STORED_INTEGERS = { I8: Int8Array, U8: Uint8Array, I16: Int16Array, I32: Int32Array } as const;

/** The narrowest safetensors integer dtype that holds the format's values. */
function storedDTypeFor(format: Exclude<QuantFormat, { kind: "f16" }>): Exclude<StoredDType, "F16"> {
  if (format.kind === "integer") return format.signed ? "I8" : "U8";
  const bits = format.integerBits + format.fractionBits;
  return bits <= 8 ? "I8" : bits <= 16 ? "I16" : "I32";
}

/**
 * A quantized checkpoint's tensors as float32 (x = (q - zero point) * scale, in float32; f16 exactly),
 * its float tensors as they are; the metadata without the quantization key. A float checkpoint comes
 * back unchanged. A stored tensor without its quantization entry, or an entry that does not fit its
 * tensor, is refused in one line naming it.
 */
export function dequantizeCheckpoint(
  decoded: DecodedSafetensors,
  path = "the checkpoint",
): DecodedSafetensors {
  const stored = decoded.stored ?? new Map();
  if (stored.size === 0) return decoded;
  const fail = (why: string) =>
    new UserError(
      `${path} is not a readable quantized checkpoint: ${why}; re-convert it from its float checkpoint`,
    );
  let entries: Record<string, TensorQuantization>;
  try {
    entries = JSON.parse(decoded.metadata[QUANTIZATION_KEY] ?? "null");
  } catch {
    throw fail(`its "${QUANTIZATION_KEY}" metadata is not JSON`);
  }
  if (typeof entries !== "object" || entries === null) throw fail(`it has no "${QUANTIZATION_KEY}" metadata`);
  const tensors = new Map(decoded.tensors);
  for (const tensor of stored.values()) {
    const info = Object.hasOwn(entries, tensor.name) ? entries[tensor.name] : undefined;
    if (!info) throw fail(`tensor ${tensor.name} is ${tensor.dtype} without a quantization entry`);
    tensors.set(tensor.name, {
      name: tensor.name,
      shape: tensor.shape,
      data: dequantizeTensor(tensor, info, fail),
    });
  }
  const metadata = { ...decoded.metadata };
  delete metadata[QUANTIZATION_KEY];
  return { tensors, metadata, stored: new Map() };
}

function dequantizeTensor(
  tensor: StoredTensor,
  info: TensorQuantization,
  fail: (why: string) => UserError,
): Float32Array {
  let format: QuantFormat;
  try {
    format = parseQuantFormat(String(info.format));
  } catch (error) {
    throw fail(`tensor ${tensor.name}: ${(error as Error).message}`);
  }
  if (format.kind === "f16") {
    if (tensor.dtype !== "F16") throw fail(`tensor ${tensor.name} is f16 but stored as ${tensor.dtype}`);
    return Float32Array.from(tensor.data, halfFromBits);
  }
  if (tensor.dtype === "F16") throw fail(`tensor ${tensor.name} is ${info.format} but stored as F16`);
  const channels = info.axis === undefined ? 1 : tensor.shape[0];
  const { scales, zero_points: zeroPoints } = info;
  if (
    info.axis !== undefined && info.axis !== 0 || !Array.isArray(scales) || !Array.isArray(zeroPoints) ||
    scales.length !== channels || zeroPoints.length !== channels ||
    !scales.every((s) => typeof s === "number" && s > 0) || !zeroPoints.every(Number.isInteger)
  ) {
    throw fail(
      `tensor ${tensor.name}: its scales and zero points do not fit ${channels} channel(s) along axis 0`,
    );
  }
  const inner = tensor.data.length / Math.max(channels, 1);
  const values = new Float32Array(tensor.data.length);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner);
    values[i] = (tensor.data[i] - zeroPoints[c]) * scales[c];
  }
  return values;
}

/** The checkpoint as float32 tensors: dequantized if it is quantized. */
function asFloat(decoded: DecodedSafetensors, path: string): DecodedSafetensors {
  return decoded.stored?.size ? dequantizeCheckpoint(decoded, path) : decoded;
}
