/**
 * Checkpoints as safetensors bytes, with the names, shapes and layouts of PyTorch's state_dict.
 * Files are the Deno side's business (io/checkpoint.ts); here a checkpoint is a Uint8Array.
 */
import { UserError } from "../engine/errors.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../engine/safetensors.ts";
import type { CompiledModel } from "./model.ts";

/** The model's parameters as safetensors bytes, the model's name in the metadata with `metadata`. */
export async function encodeCheckpoint(
  model: CompiledModel,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const tensors: NamedTensor[] = [];
  for (const parameter of model.parameters) {
    tensors.push({
      name: parameter.name,
      shape: [...parameter.shape],
      data: (await model.backend.read(parameter.value)) as Float32Array,
    });
  }
  return encodeSafetensors(tensors, { model: model.spec.name, ...metadata });
}

/**
 * Loads checkpoint bytes into a compiled model and returns their metadata; every tensor must be
 * there, with the model's shapes. `path` names the bytes' origin in error messages.
 */
export function decodeCheckpoint(
  model: CompiledModel,
  bytes: Uint8Array,
  path = "the checkpoint",
): Record<string, string> {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
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
