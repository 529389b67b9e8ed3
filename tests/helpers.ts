/**
 * Shared by the tests: the parity tolerance (stated once), one WebGPU backend for the whole run, PyTorch's
 * golden files, and the CLI runners. The kernel-check helper is tests/kernels/check.ts.
 */
import { AssertionError } from "node:assert/strict";
import type { DType } from "../engine/backend.ts";
import { CpuBackend } from "../engine/cpu/backend.ts";
import { Random } from "../engine/random.ts";
import type { CompiledModel } from "../models/model.ts";
import { WebGpuBackend } from "../engine/webgpu/backend.ts";
import { prepareWebGpuEnvironment } from "../io/webgpu.ts";

/**
 * Agreement required between the GPU and its twin, and between a twin and PyTorch: float32 sums in
 * another order differ by about 1e-6 relative; the absolute term covers values near zero and
 * cancellation, scaled by the largest magnitude in the expected array.
 */
export const TOLERANCE = { relative: 1e-5, absoluteOfMax: 1e-6 } as const;

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tolerance: { relative: number; absoluteOfMax: number } = TOLERANCE,
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  let largest = 0;
  for (let i = 0; i < expected.length; i++) largest = Math.max(largest, Math.abs(expected[i]));
  const absolute = tolerance.absoluteOfMax * Math.max(largest, 1e-30);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= absolute + tolerance.relative * Math.abs(expected[i]))) {
      throw new AssertionError({
        message: `${what}[${i}]: ${actual[i]} vs expected ${expected[i]} (error ${error.toExponential(2)}, ` +
          `allowed ${(absolute + tolerance.relative * Math.abs(expected[i])).toExponential(2)})`,
      });
    }
  }
}

let gpu: Promise<WebGpuBackend | undefined> | undefined;
let gpuCreated: WebGpuBackend | undefined;

/** One WebGPU backend shared by all tests of a module, or undefined (tests then skip, saying why). */
export function gpuBackend(): Promise<WebGpuBackend | undefined> {
  prepareWebGpuEnvironment();
  gpu ??= WebGpuBackend.create().then(
    (backend) => gpuCreated = backend,
    (error) => {
      console.warn(`WebGPU tests skipped: ${error.message}`);
      return undefined;
    },
  );
  return gpu;
}

// Each test module runs in its own worker with its own device: destroy it when the module unloads, as the
// commands do when they end, rather than leave it to the runtime's teardown.
globalThis.addEventListener("unload", () => gpuCreated?.destroy());

/** Whether Deno offers a WebGPU adapter here, asked for the way the engine asks (device.ts). */
export async function adapterOffered(): Promise<boolean> {
  if (!("gpu" in navigator)) return false;
  prepareWebGpuEnvironment();
  return (await navigator.gpu.requestAdapter()) !== null;
}

export function cpuBackend(): CpuBackend {
  return new CpuBackend();
}

export interface HostArray {
  readonly dtype: DType;
  readonly data: ArrayLike<number>;
}

export const f32 = (data: ArrayLike<number>): HostArray => ({ dtype: "f32", data });
export const u32 = (data: ArrayLike<number>): HostArray => ({ dtype: "u32", data });

export function randomArray(random: Random, length: number, scale = 1): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = random.symmetric(scale);
  return values;
}

export interface GoldenTensor {
  readonly shape: number[];
  readonly data: Float32Array | Int32Array;
}

export interface Golden {
  readonly note: string;
  readonly inputs: Record<string, GoldenTensor>;
  readonly outputs: Record<string, GoldenTensor>;
}

/**
 * The start of one golden SGD step: the golden's weights (before.NAME) loaded, its images (or `images`,
 * e.g. padded) and labels written, the totals zeroed, the learning rate set.
 */
export function startGoldenStep(
  model: CompiledModel,
  inputs: Golden["inputs"],
  learningRate: number,
  images: ArrayLike<number> = inputs.x.data,
): void {
  model.loadParameters(
    new Map(model.parameters.map((p) => [p.name, inputs[`before.${p.name}`].data as Float32Array])),
  );
  model.backend.write(model.input.value, images);
  model.backend.write(model.labels, Uint32Array.from(inputs.labels.data));
  model.resetTotals();
  model.setLearningRate(learningRate);
}

/** PyTorch's results, copied from ../shared/golden into tests/golden so the tests stand alone. */
export function loadGolden(name: string): Golden {
  const raw = JSON.parse(Deno.readTextFileSync(new URL(`./golden/${name}.json`, import.meta.url)));
  const convert = (group: Record<string, { shape: number[]; dtype: string; data: number[] }>) =>
    Object.fromEntries(
      Object.entries(group).map(([key, t]) => [key, {
        shape: t.shape,
        data: t.dtype === "i32" ? Int32Array.from(t.data) : Float32Array.from(t.data),
      }]),
    );
  return { note: raw.note, inputs: convert(raw.inputs), outputs: convert(raw.outputs) };
}

/** Runs one of the CLIs as a user would, capturing its exit code and output. */
export async function runCli(script: string, args: string[], env: Record<string, string> = {}) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", script, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
  });
  const { code, stdout, stderr } = await command.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

export const REPO_ROOT = new URL("..", import.meta.url);

/** A deno.json task's arguments after "deno": run from REPO_ROOT, it runs with the task's own permissions. */
export function taskArgs(task: string): string[] {
  const line: string = JSON.parse(Deno.readTextFileSync(new URL("deno.json", REPO_ROOT))).tasks[task];
  return line.split(" ").slice(1);
}

export { Random };
