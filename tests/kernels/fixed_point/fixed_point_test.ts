/**
 * The fixed-point kernels (Qm.n neuron layer, tanh) on the twin and the GPU, bit for bit, both against
 * the naive BigInt references (reference.ts), at odd shapes and at every width class: up to 16 bits (one
 * i32 product), 17 to 32 (products from 16-bit halves), the extremes Q1.31 and Q32.0, full-range values
 * that saturate the 64-bit sum, and the course's Q3.5, Q6.10 and Q12.20.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../../engine/backend.ts";
import { kernels } from "../../../engine/kernels.ts";
import { fixedPointFormat, fixedPointScale } from "../../../engine/quantization.ts";
import { random_bits } from "../../../kernels/fixed_point/int64.ts";
import { fixedTanhTable } from "../../../kernels/fixed_point/fixed_point.ts";
import { Random, u32 } from "../../helpers.ts";
import { type CaseBuilder, checkKernel } from "../check.ts";
import { fixedDenseReference, fixedTanhReference } from "./reference.ts";

/** A u32 output the kernel must overwrite. */
const poisonWords = (length: number) => new Uint32Array(length).fill(0xdeadbeef);
const words = (values: Int32Array) => new Uint32Array(values.buffer.slice(0));

/** Random Qm.n values: `spread` = 1 draws real values in [-range, range]; "full" any m + n bit integer. */
function fixedValues(random: Random, length: number, c: Constants, range: number | "full"): Int32Array {
  const qmax = 2 ** (c.BITS - 1) - 1;
  const values = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const real = range === "full" ? random.symmetric(qmax + 1) : random.symmetric(range) * 2 ** c.FRAC;
    values[i] = Math.max(-qmax - 1, Math.min(qmax, Math.round(real)));
  }
  return values;
}

/** Inputs of magnitude up to `xRange`, weights up to `wRange` (real values), or both "full". */
const denseCase = (xRange: number | "full", wRange: number | "full"): CaseBuilder => (c, random) => {
  const x = fixedValues(random, c.B * c.IN, c, xRange);
  const w = fixedValues(random, c.OUT * c.IN, c, wRange);
  const b = fixedValues(random, c.OUT, c, wRange);
  const randomBits = c.ROUNDING === 1 ? (index: number) => random_bits(index, c.SEED ?? 0) : undefined;
  const expected = fixedDenseReference(x, w, b, {
    B: c.B,
    IN: c.IN,
    OUT: c.OUT,
    FRAC: c.FRAC,
    BITS: c.BITS,
    ACT: c.ACT,
    randomBits,
  });
  return {
    bindings: { x: u32(words(x)), w: u32(words(w)), b: u32(words(b)), y: u32(poisonWords(c.B * c.OUT)) },
    expected: { y: words(expected) },
  };
};

const format = (m: number, n: number) => ({ FRAC: n, BITS: m + n });

const DENSE_CASES: [string, Constants, CaseBuilder][] = [
  ["Q3.5 (the course's 8 bits)", { B: 3, IN: 13, OUT: 7, ...format(3, 5) }, denseCase(2, 1)],
  ["Q4.4 with ReLU", { B: 5, IN: 9, OUT: 66, ACT: 1, ...format(4, 4) }, denseCase(3, 1)],
  ["Q6.10 (16 bits: one i32 product)", { B: 2, IN: 37, OUT: 5, ...format(6, 10) }, denseCase(8, 1)],
  [
    "Q8.8 full range (i32 products, saturating)",
    { B: 2, IN: 11, OUT: 3, ...format(8, 8) },
    denseCase("full", 1),
  ],
  ["Q9.8 (17 bits: split products)", { B: 3, IN: 17, OUT: 4, ...format(9, 8) }, denseCase(100, 2)],
  ["Q12.20 (the course's 32 bits)", { B: 4, IN: 31, OUT: 9, ACT: 1, ...format(12, 20) }, denseCase(8, 1)],
  [
    "Q12.20 full range: the 64-bit sum saturates",
    { B: 2, IN: 5, OUT: 3, ...format(12, 20) },
    denseCase("full", "full"),
  ],
  ["Q1.31 (n = 31)", { B: 2, IN: 7, OUT: 3, ...format(1, 31) }, denseCase(1, 1)],
  ["Q32.0 (n = 0: no rounding)", { B: 2, IN: 6, OUT: 5, ...format(32, 0) }, denseCase("full", 4)],
  ["Q1.1 (2 bits)", { B: 3, IN: 4, OUT: 2, ...format(1, 1) }, denseCase("full", "full")],
  [
    "Q6.10 stochastic rounding",
    { B: 3, IN: 21, OUT: 5, ROUNDING: 1, SEED: 7, ...format(6, 10) },
    denseCase(8, 1),
  ],
  [
    "Q12.20 stochastic rounding",
    { B: 2, IN: 9, OUT: 70, ROUNDING: 1, SEED: 3, ...format(12, 20) },
    denseCase(8, 1),
  ],
];

for (const [what, constants, build] of DENSE_CASES) {
  Deno.test(`fixed_dense_forward ${what}: GPU = twin = BigInt reference`, async () => {
    await checkKernel(kernels.fixed_dense_forward, constants, build);
  });
}

Deno.test("fixed_dense_forward: another seed rounds otherwise, each result nearest-even's or its neighbour", () => {
  const c = { B: 4, IN: 16, OUT: 16, ...format(6, 10) };
  const runs = [];
  for (const rounding of [{ ROUNDING: 1, SEED: 1 }, { ROUNDING: 1, SEED: 2 }, { ROUNDING: 0, SEED: 0 }]) {
    const { expected } = denseCase(8, 1)({ ...c, ...rounding }, new Random(5));
    runs.push(Array.from(expected.y));
  }
  assert.notDeepEqual(runs[0], runs[1]);
  // Each stochastic result is the nearest-even one or its neighbour.
  for (let i = 0; i < runs[2].length; i++) {
    for (const run of runs.slice(0, 2)) assert.ok(Math.abs((run[i] | 0) - (runs[2][i] | 0)) <= 1);
  }
});

/** Every value of a narrow format, or random full-range values, in [B, OUT] = [1, N]. */
const tanhCase = (values: (c: Constants, random: Random) => Int32Array): CaseBuilder => (c, random) => {
  const x = values(c, random);
  const table = fixedTanhTable();
  return {
    bindings: { x: u32(words(x)), y: u32(poisonWords(x.length)), tanh_table: u32(table) },
    expected: { y: words(fixedTanhReference(x, table, c.FRAC, c.BITS)) },
  };
};

const everyValue = (c: Constants) => {
  const qmax = 2 ** (c.BITS - 1) - 1;
  return Int32Array.from({ length: 2 * qmax + 2 }, (_, i) => i - qmax - 1);
};
const randomFull = (c: Constants, random: Random) => fixedValues(random, c.OUT, c, "full");
const randomNear = (c: Constants, random: Random) => fixedValues(random, c.OUT, c, 9);

const TANH_CASES: [string, Constants, CaseBuilder][] = [
  ["every Q3.5 value", { B: 1, OUT: 256, ...format(3, 5) }, tanhCase(everyValue)],
  [
    "every Q1.7 value (tanh saturates at 1 - 2^-7)",
    { B: 1, OUT: 256, ...format(1, 7) },
    tanhCase(everyValue),
  ],
  ["every Q6.10 value", { B: 1, OUT: 65536, ...format(6, 10) }, tanhCase(everyValue)],
  ["Q12.20 near the table", { B: 1, OUT: 3001, ...format(12, 20) }, tanhCase(randomNear)],
  ["Q12.20 full range", { B: 1, OUT: 999, ...format(12, 20) }, tanhCase(randomFull)],
  ["Q1.31", { B: 1, OUT: 777, ...format(1, 31) }, tanhCase(randomFull)],
  ["Q32.0", { B: 1, OUT: 99, ...format(32, 0) }, tanhCase(randomFull)],
];

for (const [what, constants, build] of TANH_CASES) {
  Deno.test(`fixed_tanh ${what}: GPU = twin = BigInt reference`, async () => {
    await checkKernel(kernels.fixed_tanh, constants, build);
  });
}

Deno.test("fixed_tanh is within 2.4e-5 + one step of the format of Math.tanh (Q12.20, Q6.10, Q3.5)", () => {
  const table = fixedTanhTable();
  for (const [m, n] of [[12, 20], [6, 10], [3, 5]]) {
    const scale = fixedPointScale(fixedPointFormat(m, n));
    const x = Int32Array.from({ length: 4001 }, (_, i) => Math.round((i - 2000) / 200 / scale));
    const y = fixedTanhReference(x, table, n, m + n);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(y[i] * scale - Math.tanh(x[i] * scale)));
    }
    // Interpolation at spacing h = 1/64: h^2 / 8 max|tanh''| < 2.4e-5; rounding to Qm.n: half a step.
    assert.ok(worst <= 2.4e-5 + scale / 2, `Q${m}.${n}: worst error ${worst}`);
  }
});
