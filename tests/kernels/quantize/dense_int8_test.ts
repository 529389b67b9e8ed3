/**
 * The integer GEMM (dense layers, and convolutions over im2col patches): each twin against a naive
 * loop with gemmlowp's requantisation in BigInt, exactly; the GPU against the twin bit for bit, by
 * shifts on every adapter and with dot4I8Packed where the adapter has packed_4x8_integer_dot_product.
 */
import assert from "node:assert/strict";
import { PACKED_INTEGER_DOT } from "../../../engine/backend.ts";
import type { Constants } from "../../../engine/backend.ts";
import { type Kernel, kernels } from "../../../engine/kernels.ts";
import { requantization } from "../../../models/quantized/convert.ts";
import { packInt8Rows, wordsFor } from "../../../kernels/quantize/int8.ts";
import { int8Gemm } from "../../../kernels/quantize/registry.ts";
import { activate } from "../../../kernels/activation/activation.ts";
import { cpuBackend, f32, gpuBackend, type Random, u32 } from "../../helpers.ts";
import { type CaseBuilder, checkKernel, describe, poison } from "../check.ts";
import { referenceRequantize } from "./reference.ts";

/** Uniform integers in [low, high]. */
const integers = (r: Random, n: number, low: number, high: number) =>
  Int32Array.from({ length: n }, () => low + Math.floor(r.next() * (high - low + 1)));

/** The extreme case fills x and w with -128 / 127 so that the accumulators reach their largest. */
function operands(c: Constants, r: Random) {
  const extreme = c.EXTREME === 1;
  const x = c.EDGE === 1
    ? new Int32Array(c.B * c.IN)
    : extreme
    ? Int32Array.from({ length: c.B * c.IN }, (_, i) => (i % 3 === 0 ? 127 : -128))
    : integers(r, c.B * c.IN, -128, 127);
  const w = extreme
    ? Int32Array.from({ length: c.OUT * c.IN }, (_, i) => (i % 2 === 0 ? -127 : 127))
    : integers(r, c.OUT * c.IN, -127, 127);
  const acc = new Float64Array(c.B * c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      let sum = 0;
      for (let k = 0; k < c.IN; k++) sum += x[n * c.IN + k] * w[o * c.IN + k];
      acc[n * c.OUT + o] = sum;
    }
  }
  return { x: packInt8Rows(x, c.B, c.IN), w: packInt8Rows(w, c.OUT, c.IN), acc };
}

const gemmConstants = (c: Constants) => ({ B: c.B, IN4: wordsFor(c.IN), OUT: c.OUT });

/** int8 out: a per-row multiplier (real multipliers from 1e-10 to 1.5: shifts of 31 and left shifts too), bias, zero point, ReLU. */
const int8Case: CaseBuilder = (c, r) => {
  const { x, w, acc } = operands(c, r);
  // EDGE: accumulators at int32's edges (x = 0, the bias alone), multipliers small enough to keep them in range.
  const bias = c.EDGE === 1
    ? Int32Array.from(
      { length: c.OUT },
      (_, o) => [-(2 ** 31), 2 ** 31 - 1, 2 ** 30, -(2 ** 30) - 1, 3 * 2 ** 29][o % 5],
    )
    : integers(r, c.OUT, -50000, 50000);
  const requant = new Uint32Array(2 * c.OUT);
  for (let o = 0; o < c.OUT; o++) {
    const real = c.EDGE === 1
      ? 10 ** (-9 - r.next())
      : o === 0 && c.EXTREME !== 1
      ? 1.5
      : 10 ** (-5 + 4 * r.next());
    const { multiplier, shift } = requantization(real);
    requant.set([multiplier, shift >>> 0], 2 * o);
  }
  const zero = c.Y_ZP, low = c.RELU === 1 ? zero : -128;
  const expected = new Int32Array(c.B * 4 * wordsFor(c.OUT));
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      const scaled = referenceRequantize(
        acc[n * c.OUT + o] + bias[o],
        requant[2 * o],
        requant[2 * o + 1] | 0,
      );
      expected[n * 4 * wordsFor(c.OUT) + o] = Math.min(127, Math.max(low, scaled + zero));
    }
  }
  return {
    bindings: {
      x: u32(x),
      w: u32(w),
      bias: u32(Uint32Array.from(bias)),
      requant: u32(requant),
      y: u32(new Uint32Array(c.B * wordsFor(c.OUT)).fill(0xdeadbeef)),
    },
    expected: { y: packInt8Rows(expected, c.B, 4 * wordsFor(c.OUT)) },
  };
};

/** Float out (dynamic quantization): act(f32(acc - zp * sum w) * x_scale * w_scale + b). */
const floatCase: CaseBuilder = (c, r) => {
  const { x, w, acc } = operands(c, r);
  const zero = c.X_ZP, xScale = Math.fround(0.02);
  const wScale = Float32Array.from({ length: c.OUT }, () => 0.001 + 0.01 * r.next());
  const wSums = new Int32Array(c.OUT);
  const wValues = new Int8Array(w.buffer);
  for (let o = 0; o < c.OUT; o++) {
    for (let k = 0; k < c.IN; k++) wSums[o] += wValues[o * 4 * wordsFor(c.IN) + k];
  }
  const b = Float32Array.from({ length: c.OUT }, () => r.next() - 0.5);
  const y = new Float64Array(c.B * c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      y[n * c.OUT + o] = activate(c.ACT, (acc[n * c.OUT + o] - zero * wSums[o]) * xScale * wScale[o] + b[o]);
    }
  }
  return {
    bindings: {
      x: u32(x),
      w: u32(w),
      x_qparams: f32([xScale, Math.fround(1 / xScale), zero]),
      w_scale: f32(wScale),
      w_sums: u32(Uint32Array.from(wSums)),
      b: f32(b),
      y_float: f32(poison(c.B * c.OUT)),
    },
    expected: { y_float: y },
  };
};

/** Odd shapes (IN not a multiple of 4, OUT not a multiple of 4, B not a multiple of 4), one of each, an extreme. */
const SHAPES: Constants[] = [
  { B: 5, IN: 13, OUT: 7, Y_ZP: -3, RELU: 0 },
  { B: 9, IN: 32, OUT: 4, Y_ZP: 10, RELU: 1 },
  { B: 1, IN: 1, OUT: 1, Y_ZP: 0, RELU: 0 },
  { B: 3, IN: 150, OUT: 16, Y_ZP: -128, RELU: 1 },
  { B: 4, IN: 784, OUT: 6, Y_ZP: 0, RELU: 0, EXTREME: 1 },
  { B: 2, IN: 3, OUT: 10, Y_ZP: 1, RELU: 0, EDGE: 1 },
];
const FLOAT_SHAPES: Constants[] = [
  { B: 5, IN: 13, OUT: 7, X_ZP: -3, ACT: 0 },
  { B: 9, IN: 32, OUT: 4, X_ZP: 100, ACT: 1 },
  { B: 2, IN: 49, OUT: 10, X_ZP: -128, ACT: 2 },
];

const INT8 = [kernels.dense_int8, kernels.dense_int8_dot4];
const FLOAT = [kernels.dense_int8_float, kernels.dense_int8_float_dot4];
const needsPackedDot = (kernel: Kernel) => kernel.shader === "dense_int8_dot4.wgsl";

Deno.test("int8 GEMM, int8 out: twin vs BigInt reference exactly, GPU vs twin bit for bit, both paths", async (t) => {
  const gpu = await gpuBackend();
  for (const c of SHAPES) {
    for (const kernel of INT8) {
      const skipGpu = needsPackedDot(kernel) && !gpu?.languageFeatures.has(PACKED_INTEGER_DOT);
      const constants = { ...gemmConstants(c), Y_ZP: c.Y_ZP, RELU: c.RELU };
      await t.step(
        describe(kernel, constants),
        () => checkKernel(kernel, constants, (_, r) => int8Case(c, r), { twinOnly: skipGpu }),
      );
    }
  }
});

Deno.test("int8 GEMM, float out: twin vs float64 reference, GPU vs twin bit for bit, both paths", async (t) => {
  const gpu = await gpuBackend();
  for (const c of FLOAT_SHAPES) {
    for (const kernel of FLOAT) {
      const skipGpu = needsPackedDot(kernel) && !gpu?.languageFeatures.has(PACKED_INTEGER_DOT);
      const constants = { ...gemmConstants(c), ACT: c.ACT };
      await t.step(
        describe(kernel, constants),
        () =>
          checkKernel(kernel, constants, (_, r) => floatCase(c, r), {
            twinOnly: skipGpu,
            exact: c.ACT !== 2,
          }),
      );
    }
  }
});

Deno.test("int8Gemm takes dot4I8Packed only where the backend has the language feature", async () => {
  assert.equal(int8Gemm(cpuBackend(), "int8"), kernels.dense_int8_dot4);
  const gpu = await gpuBackend();
  if (!gpu) return;
  const has = gpu.languageFeatures.has(PACKED_INTEGER_DOT);
  assert.equal(int8Gemm(gpu, "int8"), has ? kernels.dense_int8_dot4 : kernels.dense_int8);
  assert.equal(int8Gemm(gpu, "float"), has ? kernels.dense_int8_float_dot4 : kernels.dense_int8_float);
});
