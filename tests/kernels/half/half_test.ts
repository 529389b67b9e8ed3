/**
 * The f16 dense and convolution forwards on both paths: with shader-f16 (half.wgsl) and without it
 * (half_unpack.wgsl, also run on a device acquired without the feature, so that the path without it
 * is tested on every adapter). Twin against a float64 reference: within half an f16 ulp of
 * the exact result plus the float32 sum's error; GPU against twin: bit for bit on a software adapter
 * (float32 sums in the same order, rounded once) but where tanh differs, else within one f16 ulp.
 * The shader-f16 half is skipped, saying why, where the adapter lacks shader-f16.
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

/** An f16 forward: its shapes, its inputs' lengths, and a float64 reference (with its float32 sum's bound). */
interface HalfOp {
  readonly shapes: Constants[];
  readonly lengths: (c: Constants) => { x: number; w: number; b: number; y: number };
  readonly fanIn: (c: Constants) => number;
  readonly reference: (c: Constants, x: Float32Array, w: Float32Array, b: Float32Array, y: number) => Sums;
}

interface Sums {
  readonly y: Float64Array;
  readonly bound: Float64Array;
}

const activate = (act: number, s: number) =>
  act === ACT.relu ? Math.max(s, 0) : act === ACT.tanh ? Math.tanh(s) : s;

/** Sums terms(e) in float64 per output, with the float32 sum's error bound: (terms + 1) 2^-24 sum|terms|. */
function sums(c: Constants, length: number, terms: (e: number, add: (v: number) => void) => void): Sums {
  const y = new Float64Array(length), bound = new Float64Array(length);
  for (let e = 0; e < length; e++) {
    let s = 0, magnitude = 0, count = 0;
    terms(e, (v) => {
      s += v;
      magnitude += Math.abs(v);
      count++;
    });
    y[e] = activate(c.ACT ?? 0, s);
    bound[e] = count * 2 ** -24 * magnitude;
  }
  return { y, bound };
}

const DENSE: HalfOp = {
  shapes: [
    { B: 1, IN: 1, OUT: 1 },
    { B: 3, IN: 13, OUT: 7 },
    { B: 4, IN: 784, OUT: 33, ACT: ACT.relu },
    { B: 5, IN: 120, OUT: 84, ACT: ACT.tanh },
    { B: 2, IN: 64, OUT: 10 },
  ],
  lengths: (c) => ({ x: c.B * c.IN, w: c.OUT * c.IN, b: c.OUT, y: c.B * c.OUT }),
  fanIn: (c) => c.IN,
  reference: (c, x, w, b, length) =>
    sums(c, length, (e, add) => {
      const n = Math.floor(e / c.OUT), o = e % c.OUT;
      add(b[o]);
      for (let k = 0; k < c.IN; k++) add(x[n * c.IN + k] * w[o * c.IN + k]);
    }),
};

const CONV: HalfOp = {
  shapes: [
    { B: 1, IC: 1, OC: 1, H: 3, W: 3, K: 3 },
    { B: 3, IC: 1, OC: 6, H: 32, W: 32, K: 5, ACT: ACT.tanh },
    { B: 2, IC: 6, OC: 16, H: 14, W: 14, K: 5, ACT: ACT.relu },
    { B: 1, IC: 2, OC: 3, H: 7, W: 9, K: 2 },
  ],
  lengths: (c) => ({
    x: c.B * c.IC * c.H * c.W,
    w: c.OC * c.IC * c.K * c.K,
    b: c.OC,
    y: c.B * c.OC * (c.H - c.K + 1) * (c.W - c.K + 1),
  }),
  fanIn: (c) => c.IC * c.K * c.K,
  reference: (c, x, w, b, length) => {
    const OH = c.H - c.K + 1, OW = c.W - c.K + 1;
    return sums(c, length, (e, add) => {
      const ow = e % OW, oh = Math.floor(e / OW) % OH, oc = Math.floor(e / (OW * OH)) % c.OC;
      const n = Math.floor(e / (OW * OH * c.OC));
      add(b[oc]);
      for (let ic = 0; ic < c.IC; ic++) {
        for (let kh = 0; kh < c.K; kh++) {
          for (let kw = 0; kw < c.K; kw++) {
            add(
              x[((n * c.IC + ic) * c.H + oh + kh) * c.W + ow + kw] *
                w[((oc * c.IC + ic) * c.K + kh) * c.K + kw],
            );
          }
        }
      }
    });
  },
};

/** Inputs already float16 (so the reference starts from what the kernel reads). */
function halfInputs(op: HalfOp, c: Constants, random: Random) {
  const n = op.lengths(c);
  const x = Float32Array.from(randomArray(random, n.x, 2), Math.f16round);
  const w = Float32Array.from(randomArray(random, n.w, 1 / Math.sqrt(op.fanIn(c))), Math.f16round);
  const b = Float32Array.from(randomArray(random, n.b, 0.5), Math.f16round);
  return { x, w, b, length: n.y };
}

/** One f16 ulp at |v|: 2^(exponent - 10), 2^-24 below the normal range. */
const halfUlp = (v: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v) || 2 ** -14)), -14) - 10);

async function run(backend: Backend, kernel: Kernel, c: Constants, inputs: ReturnType<typeof halfInputs>) {
  const { length } = inputs;
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

async function checkShape(
  op: HalfOp,
  kernel: Kernel,
  c: Constants,
  gpu: Backend | undefined,
): Promise<void> {
  const inputs = halfInputs(op, c, new Random(7));
  const { y, bound } = op.reference(c, inputs.x, inputs.w, inputs.b, inputs.length);
  const twin = await run(cpuBackend(), kernel, c, inputs);
  for (let i = 0; i < y.length; i++) {
    // Half an f16 ulp for the final rounding, the float32 sum's error (through tanh's slope <= 1).
    const allowed = halfUlp(y[i]) / 2 + bound[i] + 1e-7;
    assert.ok(
      Math.abs(twin[i] - y[i]) <= allowed,
      `${kernel.entry} ${JSON.stringify(c)} twin[${i}] ${twin[i]} vs ${y[i]}`,
    );
  }
  if (!gpu) return;
  const onGpu = await run(gpu, kernel, c, inputs);
  // The same float32 sums in the same order, rounded once: bit for bit on llvmpipe (measured), except
  // where tanh's float32 value (the GPU's rational approximation, the twin's Math.tanh) falls on the
  // other side of an f16 rounding boundary: 1 output of 14,112 in the tanh convolution here.
  const exact = gpu.adapter.isSoftware && c.ACT !== ACT.tanh;
  for (let i = 0; i < twin.length; i++) {
    const what = `${kernel.entry} ${JSON.stringify(c)} GPU[${i}] ${onGpu[i]} vs twin ${twin[i]}`;
    if (exact) assert.ok(Object.is(onGpu[i], twin[i]), what);
    else assert.ok(Math.abs(onGpu[i] - twin[i]) <= halfUlp(twin[i]), what);
  }
}

const OPS = [
  ["dense", DENSE, kernels.half_dense_forward, kernels.half_dense_forward_unpack],
  ["conv2d", CONV, kernels.half_conv2d_forward, kernels.half_conv2d_forward_unpack],
] as const;

for (const [name, op, withF16, unpacking] of OPS) {
  Deno.test(`half ${name} without shader-f16: twin within half an ulp of float64, GPU = twin`, async () => {
    const gpu = await gpuBackend();
    for (const c of op.shapes) await checkShape(op, unpacking, c, gpu);
  });

  Deno.test(`half ${name} with shader-f16: twin within half an ulp of float64, GPU = twin`, async (t) => {
    const gpu = await gpuBackend();
    if (gpu && !gpu.hasShaderF16) {
      return void t.step({ name: "skipped: this adapter lacks shader-f16", ignore: true, fn: () => {} });
    }
    for (const c of op.shapes) await checkShape(op, withF16, c, gpu);
  });
}

Deno.test("a device acquired without shader-f16 runs the unpacking kernel and refuses the f16 one in one line", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "skipped: no WebGPU adapter", ignore: true, fn: () => {} });
  const plain = await WebGpuBackend.create({ shaderF16: false });
  try {
    assert.equal(plain.hasShaderF16, false);
    const kernel = halfDenseKernel(plain.hasShaderF16);
    assert.equal(kernel.entry, "half_dense_forward_unpack");
    await checkShape(DENSE, kernel, DENSE.shapes[1], plain);
    const c = DENSE.shapes[1];
    assert.throws(() =>
      plain.dispatch(kernels.half_dense_forward, {
        x: plain.tensor("x", "u32", [Math.ceil(c.B * c.IN / 2)]),
        w: plain.tensor("w", "u32", [Math.ceil(c.OUT * c.IN / 2)]),
        b: plain.tensor("b", "u32", [Math.ceil(c.OUT / 2)]),
        y: plain.tensor("y", "u32", [Math.ceil(c.B * c.OUT / 2)]),
      }, { B: c.B, IN: c.IN, OUT: c.OUT }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /half_dense_forward needs the adapter feature shader-f16/);
      return true;
    });
  } finally {
    plain.destroy();
  }
});
