/** Checkpoints as safetensors, with the names, shapes and layouts of PyTorch's state_dict. */
import { UserError } from "../engine/errors.ts";
import { loadSafetensors, saveSafetensors } from "../engine/safetensors.ts";
import type { CompiledModel } from "./model.ts";

export async function saveCheckpoint(
  model: CompiledModel,
  path: string,
  metadata: Record<string, string>,
): Promise<void> {
  const tensors = [];
  for (const parameter of model.parameters) {
    tensors.push({
      name: parameter.name,
      shape: [...parameter.shape],
      data: (await model.backend.read(parameter.value)) as Float32Array,
    });
  }
  await saveSafetensors(path, tensors, { model: model.spec.name, ...metadata });
}

/** Loads a checkpoint into a compiled model; every tensor must be there, with the model's shapes. */
export async function loadCheckpoint(model: CompiledModel, path: string): Promise<Record<string, string>> {
  const { tensors, metadata } = await loadSafetensors(path);
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
