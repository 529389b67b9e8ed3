/**
 * The kernel-check helper (in the spirit of tinygrad's `helper_test_op`): one call checks one kernel at
 * one shape, so that a family's test is one line per shape.
 *
 * A family's test supplies a `CaseBuilder`: every binding's initial contents, filled deterministically
 * from a seeded Random, with outputs poisoned (NaN, see `poison`); and, for each binding the kernel
 * writes, its expected contents from a naive float64 loop, NaN where the kernel must leave it alone.
 * `checkKernel` then runs the kernel
 * - on the CPU twin: each written binding against the reference (floats within TOLERANCE, or the case's
 *   own, NaN exactly where NaN is expected, so an element left unwritten or written outside its slice
 *   fails; integers exactly), every other binding bit for bit as it was;
 * - on the GPU, when there is an adapter: each written binding against the twin (floats within TOLERANCE,
 *   as sums in another order differ by about 1e-6 relative, or bit for bit where the case says so;
 *   integers exactly), every other binding bit for bit as it was.
 * `checkGradients` checks a backward pass against central finite differences of the forward twin;
 * `runProgram` runs several kernels on shared tensors, as a layer dispatches them.
 */
import { AssertionError } from "node:assert/strict";
import type { Backend, Constants, Dispatch, Tensor } from "../../engine/backend.ts";
import type { Kernel } from "../../engine/kernels.ts";
import { cpuBackend, gpuBackend, type HostArray, Random, TOLERANCE } from "../helpers.ts";

export interface Tolerance {
  readonly relative: number;
  readonly absoluteOfMax: number;
}

/** One kernel call's bindings and what the reference says it leaves in them. */
export interface KernelCase {
  /** Every binding's initial contents. */
  readonly bindings: Record<string, HostArray>;
  /** Expected contents of each binding the kernel writes (NaN where it must not write); the rest must stay as they were. */
  readonly expected: Record<string, ArrayLike<number>>;
}

/** Builds a case for the given constants from a seeded generator. */
export type CaseBuilder = (c: Constants, random: Random) => KernelCase;

export interface CheckOptions {
  /** Seed of the case's generator. */
  readonly seed?: number;
  /** Twin against the float64 reference; GPU against twin uses TOLERANCE. */
  readonly tolerance?: Tolerance;
  /** GPU and twin must agree bit for bit (a kernel that only compares and copies). */
  readonly exact?: boolean;
  /** Skip the GPU (a check of the reference alone, or a shape only the twin can hold). */
  readonly twinOnly?: boolean;
}

/** `length` float32s the kernel must overwrite (or leave alone, where the reference says NaN). */
export function poison(length: number): Float32Array {
  return new Float32Array(length).fill(NaN);
}

/** `f` of each element into float64, by a plain loop (Float64Array.from with a function is far slower on millions). */
export function map64(values: ArrayLike<number>, f: (value: number, index: number) => number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f(values[i], i);
  return out;
}

/** A binding's contents as its tensor holds them (float32 or u32 words). */
function asHeld({ dtype, data }: HostArray): Float32Array | Uint32Array {
  if (dtype === "f32") return data instanceof Float32Array ? data.slice() : Float32Array.from(data);
  return data instanceof Uint32Array ? data.slice() : Uint32Array.from(data);
}

export function describe(kernel: Kernel, constants: Constants): string {
  return `${kernel.entry} ${JSON.stringify(constants)}`;
}

/**
 * Runs `kernel` at `constants` on the twin and on the GPU and checks both as the module's comment says.
 */
export async function checkKernel(
  kernel: Kernel,
  constants: Constants,
  build: CaseBuilder,
  options: CheckOptions = {},
): Promise<void> {
  const { bindings, expected } = build(constants, new Random(options.seed ?? 1));
  for (const name of Object.keys(expected)) {
    if (!(name in bindings)) throw new Error(`${kernel.entry}: expected "${name}" is not a binding`);
  }
  const what = describe(kernel, constants);
  // Each binding as its tensor holds it (float32 or u32), to compare what must stay unchanged with.
  const held = Object.fromEntries(Object.entries(bindings).map(([name, binding]) => [name, asHeld(binding)]));
  const twin = await runKernel(cpuBackend(), kernel, bindings, constants);
  for (const [name, { dtype }] of Object.entries(bindings)) {
    const label = `${what} twin ${name}`;
    if (!(name in expected)) assertIdentical(twin[name], held[name], `${label} (must not be written)`);
    else if (dtype === "u32") assertIdentical(twin[name], expected[name], `${label} vs reference`);
    else assertMatches(twin[name], expected[name], `${label} vs float64 reference`, options.tolerance);
  }
  const gpu = options.twinOnly ? undefined : await gpuBackend();
  if (!gpu) return;
  const onGpu = await runKernel(gpu, kernel, bindings, constants);
  for (const [name, { dtype }] of Object.entries(bindings)) {
    const label = `${what} GPU ${name}`;
    if (!(name in expected)) assertIdentical(onGpu[name], held[name], `${label} (must not be written)`);
    else if (dtype === "u32" || options.exact) assertIdentical(onGpu[name], twin[name], `${label} vs twin`);
    else assertMatches(onGpu[name], twin[name], `${label} vs twin`);
  }
}

/**
 * NaN where NaN is expected, else within `tolerance` of the expected value; the absolute term scales
 * with the largest expected magnitude (covering values near zero and cancellation).
 */
export function assertMatches(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tolerance: Tolerance = TOLERANCE,
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  let largest = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isNaN(expected[i])) largest = Math.max(largest, Math.abs(expected[i]));
  }
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i], got = actual[i];
    const allowed = tolerance.absoluteOfMax * largest + tolerance.relative * Math.abs(want);
    const ok = Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= allowed;
    if (!ok) {
      throw new AssertionError({
        message: `${what}[${i}]: ${got}, expected ${want} (allowed ${allowed.toExponential(2)})`,
      });
    }
  }
}

/** The same values bit for bit (as float32 or u32 words; any NaN equals any NaN, 0 and -0 differ). */
export function assertIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      throw new AssertionError({ message: `${what}[${i}]: ${actual[i]}, expected exactly ${expected[i]}` });
    }
  }
}

/** Whether `check` throws an AssertionError: how the tests of this helper show that a check can fail. */
export async function fails(check: () => Promise<unknown> | unknown): Promise<boolean> {
  try {
    await check();
  } catch (error) {
    if (error instanceof AssertionError) return true;
    throw error;
  }
  return false;
}

// ---------- programs: several kernels on shared tensors ----------

/** A binding of a program's step: one of the program's arrays whole, or a slice of it (in elements). */
export type ArrayBinding = string | {
  readonly array: string;
  readonly offset: number;
  readonly length: number;
};

/** One dispatch of a program: the kernel, its bindings by the program's array names, its constants. */
export type Step = readonly [Kernel, Record<string, ArrayBinding>, Constants];

/** The same binding names as the program's arrays: `{ x: "x", w: "w" }` from `same("x", "w")`. */
export function same(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, name]));
}

/** Runs one kernel once on tensors holding `bindings` (same names), then reads every binding back. */
export function runKernel(
  backend: Backend,
  kernel: Kernel,
  bindings: Record<string, HostArray>,
  constants: Constants,
): Promise<Record<string, Float32Array | Uint32Array>> {
  return runProgram(backend, bindings, [[kernel, same(...Object.keys(bindings)), constants]]);
}

/**
 * Runs kernels in one program on tensors holding `arrays` (as a layer dispatches them), then reads
 * every tensor back.
 */
export async function runProgram(
  backend: Backend,
  arrays: Record<string, HostArray>,
  steps: readonly Step[],
): Promise<Record<string, Float32Array | Uint32Array>> {
  const tensors: Record<string, Tensor> = Object.fromEntries(
    Object.entries(arrays).map((
      [name, { dtype, data }],
    ) => [name, backend.tensor(name, dtype, [data.length], data)]),
  );
  const bind = (names: Record<string, ArrayBinding>) =>
    Object.fromEntries(
      Object.entries(names).map(([binding, array]) => [
        binding,
        typeof array === "string"
          ? tensors[array]
          : { tensor: tensors[array.array], offset: array.offset, length: array.length },
      ]),
    );
  backend.run(steps.map(([kernel, names, constants]) => backend.dispatch(kernel, bind(names), constants)));
  const out: Record<string, Float32Array | Uint32Array> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    out[name] = await backend.read(tensor);
    backend.release(tensor);
  }
  return out;
}

// ---------- gradients against finite differences ----------

export interface GradientCheck {
  /** The forward kernel; its twin is differentiated. */
  readonly forward: Kernel;
  readonly constants: Constants;
  /** Every binding the forward reads, by name. */
  readonly inputs: Record<string, Float32Array>;
  /** The binding it writes, and that binding's length. */
  readonly output: readonly [string, number];
  /** The objective is sum(output * dy), in float64. */
  readonly dy: ArrayLike<number>;
  /** The backward pass's d objective / d input, for the inputs to check. */
  readonly analytic: Record<string, ArrayLike<number>>;
  /** How far each input moves either way. */
  readonly step: number;
  /** Set by the caller from the step's rounding and truncation errors. */
  readonly tolerance: Tolerance;
  /** Named in failures. */
  readonly what: string;
}

/**
 * Central differences of sum(y * dy) with respect to each input element, y from the forward twin on
 * float32 inputs (each moved by +-step, rounded to float32 as the tensor holds it), against the
 * backward pass's gradients. The forward dispatch is recorded once and replayed for each difference.
 */
export async function checkGradients(check: GradientCheck): Promise<void> {
  const cpu = cpuBackend();
  const [outputName, outputLength] = check.output;
  const tensors: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(check.inputs)) {
    tensors[name] = cpu.tensor(name, "f32", [data.length], data);
  }
  const output = cpu.tensor(outputName, "f32", [outputLength]);
  const forward: Dispatch = cpu.dispatch(
    check.forward,
    { ...tensors, [outputName]: output },
    check.constants,
  );
  const objective = async () => {
    cpu.run([forward]);
    const y = await cpu.read(output);
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i] * check.dy[i];
    return sum;
  };
  for (const [name, analytic] of Object.entries(check.analytic)) {
    const tensor = tensors[name], values = check.inputs[name];
    const numeric = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      cpu.write(tensor, [values[i] + check.step], i);
      const up = await objective();
      cpu.write(tensor, [values[i] - check.step], i);
      const down = await objective();
      cpu.write(tensor, [values[i]], i);
      numeric[i] = (up - down) / (2 * check.step);
    }
    assertMatches(analytic, numeric, `${check.what} d/d${name}`, check.tolerance);
  }
}
