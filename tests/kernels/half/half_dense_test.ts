/**
 * The f16 dense forward on both paths: with shader-f16 (half_dense_forward) and without it
 * (half_dense_forward_unpack, also run on a device acquired without the feature, so that the path
 * without it is tested on every adapter). Twin against a float64 reference: within half an f16 ulp of
 * the exact result plus the float32 sum's error; GPU against twin: within one f16 ulp (rounding once,
 * from float32 sums in the same order, they agree bit for bit here). Skipped, saying why, where the
 * adapter lacks shader-f16.
 */
import assert from "node:assert/strict";
import type { Backend, Constants } from "../../../engine/backend.ts";
import { ACT } from "../../../engine/constants.ts";
import { kernels } from "../../../engine/kernels.ts";
import { halfDenseKernel } from "../../../kernels/half/registry.ts";
import { packHalves, unpackHalves } from "../../../kernels/half/half.ts";
import { WebGpuBackend } from "../../../engine/webgpu/backend.ts";
import type { Kernel } from "../../../engine/kernel.ts";
import { UserError } from "../../../engine/errors.ts";
import { cpuBackend, gpuBackend, Random, randomArray, u32 } from "../../helpers.ts";
import { runKernel } from "../check.ts";

const SHAPES: Constants[] = [
  { B: 1, IN: 1, OUT: 1 },
  { B: 3, IN: 13, OUT: 7 },
  { B: 4, IN: 784, OUT: 33, ACT: ACT.relu },
  { B: 5, IN: 120, OUT: 84, ACT: ACT.tanh },
  { B: 2, IN: 64, OUT: 10 },
];

/** Inputs already float16 (so the reference starts from what the kernel reads), their packed words. */
function halfInputs(c: Constants, random: Random) {
  const x = Float32Array.from(randomArray(random, c.B * c.IN, 2), Math.f16round);
  const w = Float32Array.from(randomArray(random, c.OUT * c.IN, 1 / Math.sqrt(c.IN)), Math.f16round);
  const b = Float32Array.from(randomArray(random, c.OUT, 0.5), Math.f16round);
  return { x, w, b };
}

const activate = (act: number, s: number) =>
  act === ACT.relu ? Math.max(s, 0) : act === ACT.tanh ? Math.tanh(s) : s;

/** The float64 result and the bound on the float32 sum's error (IN roundings of at most the partial sums). */
function reference(c: Constants, x: Float32Array, w: Float32Array, b: Float32Array) {
  const y = new Float64Array(c.B * c.OUT), bound = new Float64Array(c.B * c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      let s = b[o], magnitude = Math.abs(b[o]);
      for (let k = 0; k < c.IN; k++) {
        s += x[n * c.IN + k] * w[o * c.IN + k];
        magnitude += Math.abs(x[n * c.IN + k] * w[o * c.IN + k]);
      }
      y[n * c.OUT + o] = activate(c.ACT ?? 0, s);
      bound[n * c.OUT + o] = (c.IN + 1) * 2 ** -24 * magnitude;
    }
  }
  return { y, bound };
}

/** One f16 ulp at |v|: 2^(exponent - 10), 2^-24 below the normal range. */
const halfUlp = (v: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v) || 2 ** -14)), -14) - 10);

async function run(backend: Backend, kernel: Kernel, c: Constants, inputs: ReturnType<typeof halfInputs>) {
  const length = c.B * c.OUT;
  const out = await runKernel(backend, kernel, {
    x: u32(packHalves(inputs.x)),
    w: u32(packHalves(inputs.w)),
    b: u32(packHalves(inputs.b)),
    y: u32(new Uint32Array(Math.ceil(length / 2)).fill(0xdeadbeef)),
  }, c);
  const words = out.y as Uint32Array;
  // A last odd element's word is padded with a zero half.
  if (length % 2 === 1) assert.equal(words[words.length - 1] >>> 16, 0, "padding half");
  return unpackHalves(words, length);
}

async function checkShape(kernel: Kernel, c: Constants, gpu: Backend | undefined): Promise<number> {
  const inputs = halfInputs(c, new Random(c.B * 1000 + c.IN));
  const { y, bound } = reference(c, inputs.x, inputs.w, inputs.b);
  const twin = await run(cpuBackend(), kernel, c, inputs);
  for (let i = 0; i < y.length; i++) {
    // Half an f16 ulp for the final rounding, the float32 sum's error (through tanh's slope <= 1).
    const allowed = halfUlp(y[i]) / 2 + bound[i] + 1e-7;
    assert.ok(
      Math.abs(twin[i] - y[i]) <= allowed,
      `${kernel.entry} ${JSON.stringify(c)} twin[${i}] ${twin[i]} vs ${y[i]}`,
    );
  }
  if (!gpu) return 0;
  const onGpu = await run(gpu, kernel, c, inputs);
  let differing = 0;
  for (let i = 0; i < twin.length; i++) {
    if (!Object.is(onGpu[i], twin[i])) differing++;
    assert.ok(
      Math.abs(onGpu[i] - twin[i]) <= halfUlp(twin[i]),
      `${kernel.entry} GPU[${i}] ${onGpu[i]} vs twin ${twin[i]}`,
    );
  }
  return differing;
}

Deno.test("half_dense_forward_unpack (no shader-f16): twin within half an ulp of float64, GPU within one of the twin", async () => {
  const gpu = await gpuBackend();
  for (const c of SHAPES) await checkShape(kernels.half_dense_forward_unpack, c, gpu);
});

Deno.test("half_dense_forward (shader-f16): twin within half an ulp of float64, GPU bit for bit with the twin here", async (t) => {
  const gpu = await gpuBackend();
  if (gpu && !gpu.hasShaderF16) {
    return void t.step({ name: "skipped: this adapter lacks shader-f16", ignore: true, fn: () => {} });
  }
  let differing = 0;
  for (const c of SHAPES) differing += await checkShape(kernels.half_dense_forward, c, gpu);
  // Measured on llvmpipe: none differ. Another adapter may round f32 -> f16 its own way (one ulp allowed above).
  if (gpu?.adapter.isSoftware) assert.equal(differing, 0);
});

Deno.test("a device acquired without shader-f16 runs the unpacking kernel and refuses the f16 one in one line", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "skipped: no WebGPU adapter", ignore: true, fn: () => {} });
  const plain = await WebGpuBackend.create({ shaderF16: false });
  try {
    assert.equal(plain.hasShaderF16, false);
    const kernel = halfDenseKernel(plain.hasShaderF16);
    assert.equal(kernel.entry, "half_dense_forward_unpack");
    await checkShape(kernel, SHAPES[1], plain);
    const c = SHAPES[1];
    assert.throws(() =>
      plain.dispatch(kernels.half_dense_forward, {
        x: plain.tensor("x", "u32", [c.B * c.IN / 2 + 1]),
        w: plain.tensor("w", "u32", [c.OUT * c.IN / 2 + 1]),
        b: plain.tensor("b", "u32", [4]),
        y: plain.tensor("y", "u32", [c.B * c.OUT / 2 + 1]),
      }, { B: c.B, IN: c.IN, OUT: c.OUT }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /half_dense_forward needs the adapter feature shader-f16/);
      return true;
    });
  } finally {
    plain.destroy();
  }
});
