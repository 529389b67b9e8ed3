/**
 * measured_bytes: what the operating system saw. Run as a fresh process per model and path
 * (`residentGrowth` starts it), this builds one inference-only model on one backend, runs a few
 * batches of random input through it, and prints the growth of its own resident set size (RSS, from
 * Deno.memoryUsage().rss, which is /proc/self/status VmRSS on Linux) between the moment the backend
 * exists and the largest value seen while the model was built and run, as one JSON line.
 *
 *   deno run --allow-read --allow-env --allow-sys --allow-ffi --unstable-webgpu \
 *     lab/memory_probe.ts MODEL cpu|webgpu BATCH
 *
 * On a software adapter (llvmpipe) the GPU's buffers live in this process's memory, so the growth
 * counts them along with the adapter's own copies and compiled shaders. On a discrete GPU the buffers
 * live in video memory, which WebGPU does not let a program observe: there the growth is only the
 * host side (the driver's shadow copies, staging, JS arrays), not what the GPU holds.
 */
import { fileURLToPath } from "node:url";
import type { BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { Random } from "../engine/random.ts";
import { CompiledModel } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import { runMain } from "../io/command.ts";
import { backendKind } from "./session.ts";
import { createDenoBackend } from "../io/webgpu.ts";

/** Batches run through the model after it is built. */
const PROBE_BATCHES = 3;

export interface ResidentGrowth {
  /** RSS when the backend existed and no model did. */
  readonly baselineBytes: number;
  /** The largest RSS seen while the model was built and run, less the baseline. */
  readonly measuredBytes: number;
  readonly source: string;
}

function rss(): number {
  return Deno.memoryUsage().rss;
}

async function probe(modelName: string, kind: BackendKind, batch: number): Promise<ResidentGrowth> {
  const spec = modelByName(modelName);
  const backend = await createDenoBackend(kind);
  try {
    const baselineBytes = rss();
    let highest = baselineBytes;
    const model = new CompiledModel(backend, spec, batch, 0, { training: false });
    highest = Math.max(highest, rss());
    const random = new Random(1);
    const input = new Float32Array(model.input.value.length);
    for (let i = 0; i < input.length; i++) input[i] = random.symmetric(1);
    backend.write(model.input.value, input);
    for (let i = 0; i < PROBE_BATCHES; i++) {
      backend.run(model.forward);
      await backend.read(model.logits.value);
      highest = Math.max(highest, rss());
    }
    return {
      baselineBytes,
      measuredBytes: highest - baselineBytes,
      source: "Deno.memoryUsage().rss (VmRSS), fresh process",
    };
  } finally {
    backend.destroy();
  }
}

const PROBE = fileURLToPath(import.meta.url);
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/**
 * Runs the probe in a fresh process and returns what it measured; needs --allow-run. Throws a
 * UserError saying why when the probe cannot run or fails.
 */
export async function residentGrowth(
  modelName: string,
  kind: BackendKind,
  batch: number,
): Promise<ResidentGrowth> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--config=${CONFIG}`,
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "--allow-ffi",
        "--unstable-webgpu",
        PROBE,
        modelName,
        kind,
        String(batch),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new UserError(`the memory probe could not start (${(error as Error).message.split("\n")[0]})`);
  }
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim().split("\n").at(-1) ?? "";
  if (!output.success) throw new UserError(`the memory probe failed: ${text(output.stderr) || "no output"}`);
  return JSON.parse(text(output.stdout));
}

async function main(): Promise<void> {
  const [modelName, path, batchText, ...rest] = Deno.args;
  const batch = Number(batchText);
  if (!modelName || rest.length > 0 || !Number.isInteger(batch) || batch < 1) {
    throw new UserError("usage: memory_probe.ts MODEL cpu|webgpu BATCH");
  }
  console.log(JSON.stringify(await probe(modelName, backendKind(path), batch)));
}

if (import.meta.main) await runMain(main);
