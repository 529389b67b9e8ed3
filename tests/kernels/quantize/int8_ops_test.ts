/**
 * The int8 kernels around the GEMM: float <-> int8, the per-batch range of dynamic quantization,
 * im2col, max-pool and the table. Each twin against a plain loop on unpacked values (exactly, or the
 * float64 value of the same float32 product), the GPU against the twin bit for bit, odd shapes.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../../engine/backend.ts";
import { type Kernel, kernels } from "../../../engine/kernels.ts";
import { affineParamsFromRange, inverseScale, quantizeValue } from "../../../engine/quantization.ts";
import { packInt8Rows, wordsFor } from "../../../kernels/quantize/int8.ts";
import { ACTIVATION_FORMAT } from "../../../kernels/quantize/quantize.ts";
import { f32, type Random, randomArray, u32 } from "../../helpers.ts";
import { type CaseBuilder, checkKernel, describe, poison } from "../check.ts";

const INT8 = { min: -128, max: 127 };
const garbage = (words: number) => new Uint32Array(words).fill(0xdeadbeef);
const int8Values = (r: Random, n: number) =>
  Int32Array.from({ length: n }, () => Math.floor(r.next() * 256) - 128);

/** NCHW [B, C, HW] float -> NHWC [B, HW, C4] words; values past the range saturate. */
const quantizeCase: CaseBuilder = (c, r) => {
  const x = randomArray(r, c.B * c.C * c.HW, 4);
  const scale = 0.02, zero = -7;
  const nhwc = new Int32Array(c.B * c.HW * c.C);
  for (let n = 0; n < c.B; n++) {
    for (let ch = 0; ch < c.C; ch++) {
      for (let p = 0; p < c.HW; p++) {
        nhwc[(n * c.HW + p) * c.C + ch] = quantizeValue(x[(n * c.C + ch) * c.HW + p], scale, zero, INT8);
      }
    }
  }
  return {
    bindings: {
      x: f32(x),
      qparams: f32([scale, inverseScale(scale), zero]),
      q: u32(garbage(c.B * c.HW * wordsFor(c.C))),
    },
    expected: { q: packInt8Rows(nhwc, c.B * c.HW, c.C) },
  };
};

const dequantizeCase: CaseBuilder = (c, r) => {
  const nhwc = int8Values(r, c.B * c.HW * c.C), scale = Math.fround(0.037), zero = 5;
  const y = new Float64Array(c.B * c.C * c.HW);
  for (let n = 0; n < c.B; n++) {
    for (let ch = 0; ch < c.C; ch++) {
      for (let p = 0; p < c.HW; p++) {
        y[(n * c.C + ch) * c.HW + p] = (nhwc[(n * c.HW + p) * c.C + ch] - zero) * scale;
      }
    }
  }
  return {
    bindings: {
      q_in: u32(packInt8Rows(nhwc, c.B * c.HW, c.C)),
      qparams: f32([scale, inverseScale(scale), zero]),
      y: f32(poison(y.length)),
    },
    expected: { y },
  };
};

const rangeCase: CaseBuilder = (c, r) => {
  const x = Float32Array.from(randomArray(r, c.N + 5, 3), (v) => v + c.SHIFT);
  const values = x.subarray(0, c.N);
  const { scale, zeroPoint } = affineParamsFromRange(
    Math.min(...values),
    Math.max(...values),
    ACTIVATION_FORMAT,
  );
  return {
    bindings: { x: f32(x), range_qparams: f32(poison(3)) },
    expected: { range_qparams: [scale, inverseScale(scale), zeroPoint] },
  };
};

const weightsCase: CaseBuilder = (c, r) => {
  const q = int8Values(r, c.B * c.C), scales = Float32Array.from({ length: c.B }, () => r.next() * 0.1);
  return {
    bindings: {
      q_in: u32(packInt8Rows(q, c.B, c.C)),
      scales: f32(scales),
      w_float: f32(poison(q.length)),
    },
    expected: { w_float: Float64Array.from(q, (v, i) => v * scales[Math.floor(i / c.C)]) },
  };
};

/** NHWC int8 [B, H, W, C]: value at (n, h, w, ch). */
const nhwcAt = (values: Int32Array, c: Constants) => (n: number, h: number, w: number, ch: number) =>
  values[((n * c.H + h) * c.W + w) * c.C + ch];

const im2colCase: CaseBuilder = (c, r) => {
  const x = int8Values(r, c.B * c.H * c.W * c.C), at = nhwcAt(x, c);
  const OH = c.H - c.K + 1, OW = c.W - c.K + 1, length = c.K * c.K * c.C;
  const rows = new Int32Array(c.B * OH * OW * length);
  let i = 0;
  for (let n = 0; n < c.B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let kh = 0; kh < c.K; kh++) {
          for (let kw = 0; kw < c.K; kw++) {
            for (let ch = 0; ch < c.C; ch++) rows[i++] = at(n, oh + kh, ow + kw, ch);
          }
        }
      }
    }
  }
  return {
    bindings: {
      x: u32(packInt8Rows(x, c.B * c.H * c.W, c.C)),
      patches: u32(garbage(c.B * OH * OW * wordsFor(length))),
    },
    expected: { patches: packInt8Rows(rows, c.B * OH * OW, length) },
  };
};

const maxpoolCase: CaseBuilder = (c, r) => {
  const x = int8Values(r, c.B * c.H * c.W * c.C), at = nhwcAt(x, c);
  const OH = Math.floor(c.H / 2), OW = Math.floor(c.W / 2);
  const y = new Int32Array(c.B * OH * OW * c.C);
  let i = 0;
  for (let n = 0; n < c.B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let ch = 0; ch < c.C; ch++) {
          y[i++] = Math.max(
            at(n, 2 * oh, 2 * ow, ch),
            at(n, 2 * oh, 2 * ow + 1, ch),
            at(n, 2 * oh + 1, 2 * ow, ch),
            at(n, 2 * oh + 1, 2 * ow + 1, ch),
          );
        }
      }
    }
  }
  return {
    bindings: {
      x: u32(packInt8Rows(x, c.B * c.H * c.W, c.C)),
      y: u32(garbage(c.B * OH * OW * wordsFor(c.C))),
    },
    expected: { y: packInt8Rows(y, c.B * OH * OW, c.C) },
  };
};

/** A table that is no simple function (a permutation), so that a wrong index shows. */
const lookupCase: CaseBuilder = (c, r) => {
  const rows = c.N / wordsFor(c.C);
  const x = int8Values(r, rows * c.C);
  const table = Int32Array.from(r.permutation(256), (v) => v - 128);
  return {
    bindings: {
      x: u32(packInt8Rows(x, rows, c.C)),
      table: u32(Uint32Array.from(table)),
      y: u32(garbage(c.N)),
    },
    expected: { y: packInt8Rows(Int32Array.from(x, (v) => table[v + 128]), rows, c.C) },
  };
};

const CASES: [Kernel, CaseBuilder, Constants[]][] = [
  [kernels.quantize_int8, quantizeCase, [{ B: 3, C: 1, HW: 37 }, { B: 2, C: 7, HW: 5 }, {
    B: 5,
    C: 784,
    HW: 1,
  }]],
  [kernels.dequantize_int8, dequantizeCase, [{ B: 3, C: 10, HW: 1 }, { B: 2, C: 6, HW: 9 }]],
  [kernels.int8_range_qparams, rangeCase, [{ N: 1, SHIFT: 0 }, { N: 1000, SHIFT: 0 }, { N: 333, SHIFT: 5 }, {
    N: 77,
    SHIFT: -9,
  }]],
  [kernels.dequantize_weights, weightsCase, [{ B: 7, C: 13 }, { B: 1, C: 4 }]],
  [kernels.im2col_int8, im2colCase, [{ B: 2, H: 8, W: 7, C: 1, K: 5 }, { B: 2, H: 6, W: 6, C: 6, K: 3 }, {
    B: 1,
    H: 5,
    W: 5,
    C: 16,
    K: 5,
  }]],
  [kernels.maxpool2d_int8, maxpoolCase, [{ B: 2, H: 7, W: 9, C: 6 }, { B: 3, H: 4, W: 4, C: 16 }, {
    B: 1,
    H: 3,
    W: 2,
    C: 3,
  }]],
  [kernels.lookup_int8, lookupCase, [{ N: 6, C: 6 }, { N: 39, C: 10 }, { N: 9, C: 1 }]],
];

Deno.test("int8 kernels around the GEMM: twin vs a plain loop, GPU vs twin bit for bit", async (t) => {
  for (const [kernel, build, shapes] of CASES) {
    for (const c of shapes) {
      const { SHIFT: _, ...constants } = c;
      await t.step(
        describe(kernel, constants),
        () =>
          checkKernel(kernel, constants, (_c, r) => build(c, r), {
            exact: true,
            tolerance: { relative: 1e-7, absoluteOfMax: 0 },
          }),
      );
    }
  }
});

Deno.test("quantize family: every registered kernel is checked here or in dense_int8_test.ts", () => {
  const checked = new Set<Kernel>(CASES.map(([kernel]) => kernel));
  for (
    const name of ["dense_int8", "dense_int8_dot4", "dense_int8_float", "dense_int8_float_dot4"] as const
  ) {
    checked.add(kernels[name]);
  }
  for (const [name, kernel] of Object.entries(kernels as Record<string, Kernel>)) {
    if (kernel.shader === "quantize.wgsl" || kernel.shader.includes("int8")) {
      assert.ok(checked.has(kernel), `${name} is never checked`);
    }
  }
});
