/**
 * Helpers of the bad-input tests (issue 14), which sit beside the module each exercises: a task run as a
 * hostile user would run it (a subprocess with the task's permissions), the shape of a refusal (one line
 * `error: ...`, exit 2, no work done), and tiny MNIST folders and checkpoints to spoil.
 */
import assert from "node:assert/strict";
import { CpuBackend } from "../engine/cpu/backend.ts";
import { encodeSafetensors } from "../engine/safetensors.ts";
import { CompiledModel } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import { REPO_ROOT, taskArgs } from "./helpers.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Runs `deno task NAME ARGS` as a user would: from the repository, with the task's own permissions. */
export async function runTask(name: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    cwd: REPO_ROOT,
    args: [...taskArgs(name), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  }).output();
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** A refusal at the door: exit 2, one line `error: ...` matching `expected`, and no work on stdout. */
export function assertRefused(
  result: { code: number; stdout: string; stderr: string },
  expected: RegExp,
): void {
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], expected);
  assert.equal(result.code, 2, result.stderr);
  assert.doesNotMatch(result.stdout, /epoch \d|saved /, "work started before the refusal");
}

/** An IDX file: magic, dimensions, data. */
export function idxBytes(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

export const IDX_IMAGES = 0x803, IDX_LABELS = 0x801;

/** Writes a valid MNIST folder of `side` x `side` images, 8 for training and 4 for testing. */
export async function tinyMnistDir(
  options: { side?: number; pixel?: (i: number) => number } = {},
): Promise<string> {
  const side = options.side ?? 28, pixel = options.pixel ?? ((i: number) => (i * 37) % 256);
  const dir = await Deno.makeTempDir({ prefix: "bad-input-data-" });
  const set = async (prefix: string, count: number) => {
    const pixels = Uint8Array.from({ length: count * side * side }, (_, i) => pixel(i));
    await Deno.writeFile(
      `${dir}/${prefix}-images-idx3-ubyte`,
      idxBytes(IDX_IMAGES, [count, side, side], pixels),
    );
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    await Deno.writeFile(`${dir}/${prefix}-labels-idx1-ubyte`, idxBytes(IDX_LABELS, [count], labels));
  };
  await set("train", 8);
  await set("t10k", 4);
  return dir;
}

/** Flags for a short, valid train run on a tiny MNIST folder (a run the old code would have finished). */
export const shortRun = (data: string) => ["--data", data, "--backend", "cpu"];

/** Writes `dir/name`, a checkpoint of mlp-8 with every tensor present; `change` may spoil it. */
export async function mlp8Checkpoint(
  dir: string,
  name: string,
  change: (data: Map<string, Float32Array>) => void = () => {},
  metadata: Record<string, string> = { model: "mlp-8" },
): Promise<string> {
  const model = new CompiledModel(new CpuBackend(), modelByName("mlp-8"), 4, 0);
  const data = new Map(model.parameters.map((p) => [p.name, new Float32Array(p.value.length).fill(0.01)]));
  change(data);
  const tensors = model.parameters.map((p) => ({
    name: p.name,
    shape: [...p.shape],
    data: data.get(p.name)!,
  }));
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
  return path;
}
