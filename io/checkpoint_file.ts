/** Checkpoint and safetensors files: the bytes-level codecs of the library, read and written atomically. */
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "../engine/safetensors.ts";
import { decodeCheckpoint, encodeCheckpoint, loadDecodedCheckpoint } from "../models/checkpoint.ts";
import type { CompiledModel } from "../models/model.ts";
import { readFileBytes, writeFileAtomic } from "./files.ts";

/** Writes a safetensors file atomically: readers never see a half-written file. */
export async function saveSafetensors(
  path: string,
  tensors: NamedTensor[],
  metadata: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and checks a float32 safetensors file; a bad file is a one-line UserError. */
export async function loadSafetensors(path: string): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFileBytes(path), path);
}

/** Saves a model's parameters to `path` (atomically), with `metadata` and the model's name. */
export async function saveCheckpoint(
  model: CompiledModel,
  path: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(model, metadata));
}

/**
 * Loads a checkpoint file into a compiled model; returns the file's metadata. `decoded` is the file
 * already read (e.g. to check it before any work), else it is read from `path`.
 */
export async function loadCheckpoint(
  model: CompiledModel,
  path: string,
  decoded?: DecodedSafetensors,
): Promise<Record<string, string>> {
  if (decoded) return loadDecodedCheckpoint(model, decoded, path);
  return decodeCheckpoint(model, await readFileBytes(path), path);
}
