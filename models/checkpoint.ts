/**
 * Checkpoints as safetensors bytes, with the names, shapes and layouts of PyTorch's state_dict.
 * Files are the Deno side's business (io/checkpoint_file.ts); here a checkpoint is a Uint8Array.
 */
import { UserError } from "../engine/errors.ts";
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
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
  for (const [name, tensor] of decoded.tensors) {
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
  const { tensors, metadata } = decoded;
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
