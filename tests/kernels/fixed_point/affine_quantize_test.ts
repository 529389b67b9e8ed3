/**
 * The quantize / dequantize pair between float32 and integers (intB affine, Qm.n), per tensor and per
 * channel, on the twin and the GPU bit for bit, against engine/quantization.ts's quantizeValue (float32
 * product by the inverse scale, ties to even, saturation) and float64 dequantization; stochastic
 * rounding against its definition and unbiased on average.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../../engine/backend.ts";
import { kernels } from "../../../engine/kernels.ts";
import {
  affineParamsFromRange,
  fixedPointFormat,
  fixedPointScale,
  integerFormat,
  type IntegerRange,
  integerRange,
  inverseScale,
  quantizeValue,
} from "../../../engine/quantization.ts";
import { random_bits } from "../../../kernels/fixed_point/int64.ts";
import { cpuBackend, f32, type Random, randomArray, u32 } from "../../helpers.ts";
import { type CaseBuilder, checkKernel, poison, runKernel } from "../check.ts";

const poisonWords = (length: number) => new Uint32Array(length).fill(0xdeadbeef);
const words = (values: ArrayLike<number>) => new Uint32Array(Int32Array.from(values).buffer);

interface Params {
  readonly scales: number[];
  readonly zeroPoints: number[];
  readonly range: IntegerRange;
}

/** Qm.n: scale 2^-n, zero point 0, for every channel. */
function fixedParams(m: number, n: number, channels = 1): Params {
  const format = fixedPointFormat(m, n);
  return {
    scales: Array(channels).fill(fixedPointScale(format)),
    zeroPoints: Array(channels).fill(0),
    range: integerRange(format),
  };
}

/** intB from each channel's own range, as PyTorch's MinMaxObserver makes them. */
function rangeParams(bits: number, signed: boolean, ranges: [number, number][]): Params {
  const format = integerFormat(bits, signed);
  const params = ranges.map(([low, high]) => affineParamsFromRange(low, high, format));
  return {
    scales: params.map((p) => p.scale),
    zeroPoints: params.map((p) => p.zeroPoint),
    range: integerRange(format),
  };
}

const constantsOf = (p: Params): Constants => ({
  QMIN: p.range.min,
  QMAX: p.range.max,
  CHANNELS: p.scales.length,
});

/** Values around the range with the awkward ones mixed in: ties, NaN, infinities, -0, huge. */
function inputs(random: Random, N: number, spread: number): Float32Array {
  const x = randomArray(random, N, spread);
  const special = [NaN, Infinity, -Infinity, -0, 3e38, -3e38, 0.5, -2.5, 1.5];
  for (let i = 0; i < N; i += 7) x[i] = special[(i / 7) % special.length];
  return x;
}

const quantizeCase = (p: Params, spread: number): CaseBuilder => (c, random) => {
  const x = inputs(random, c.N, spread);
  const inner = c.INNER ?? 1;
  const expected = Array.from(x, (value, i) => {
    const channel = Math.floor(i / inner) % p.scales.length;
    if (Number.isNaN(value)) return p.zeroPoints[channel];
    return quantizeValue(value, p.scales[channel], p.zeroPoints[channel], p.range);
  });
  return {
    bindings: {
      x: f32(x),
      q: u32(poisonWords(c.N)),
      inverse_scales: f32(p.scales.map(inverseScale)),
      zero_points: u32(words(p.zeroPoints)),
    },
    expected: { q: words(expected) },
  };
};

const CHANNEL_RANGES: [number, number][] = [[-1, 1], [-0.05, 0.3], [0, 4], [-7, 0.1], [-0.2, 0.2]];

const QUANTIZE_CASES: [string, Params, Constants, number][] = [
  ["Q3.5", fixedParams(3, 5), { N: 301 }, 5],
  ["Q6.10", fixedParams(6, 10), { N: 257 }, 40],
  ["Q12.20", fixedParams(12, 20), { N: 1001 }, 3000],
  ["Q1.31 (QMAX not a float32)", fixedParams(1, 31), { N: 199 }, 1.5],
  ["Q32.0", fixedParams(32, 0), { N: 199 }, 4e9],
  ["int8 symmetric per tensor", rangeParams(8, true, [[-0.7, 0.9]]), { N: 333 }, 1],
  ["uint8 affine per tensor", rangeParams(8, false, [[-0.3, 2.1]]), { N: 333 }, 2],
  [
    "int4 symmetric per channel ([5, 13] weight)",
    rangeParams(4, true, CHANNEL_RANGES),
    { N: 65, INNER: 13 },
    2,
  ],
  ["int2 per channel ([3, 5, 7] conv weight)", rangeParams(2, true, CHANNEL_RANGES.slice(0, 3)), {
    N: 105,
    INNER: 35,
  }, 1],
  ["uint3 affine per channel", rangeParams(3, false, CHANNEL_RANGES), { N: 50, INNER: 10 }, 3],
];

for (const [what, params, shape, spread] of QUANTIZE_CASES) {
  Deno.test(`quantize_affine ${what}: GPU = twin = quantizeValue`, async () => {
    await checkKernel(
      kernels.quantize_affine,
      { ...shape, ...constantsOf(params) },
      quantizeCase(params, spread),
    );
  });
}

const dequantizeCase = (p: Params): CaseBuilder => (c, random) => {
  const inner = c.INNER ?? 1;
  const codes = Array.from(
    { length: c.N },
    () => p.range.min + Math.floor(random.next() * (p.range.max - p.range.min + 1)),
  );
  codes[0] = p.range.min;
  codes[c.N - 1] = p.range.max;
  const expected = codes.map((q, i) => {
    const channel = Math.floor(i / inner) % p.scales.length;
    return Math.fround((q - p.zeroPoints[channel]) * p.scales[channel]);
  });
  return {
    bindings: {
      codes: u32(words(codes)),
      values: f32(poison(c.N)),
      scales: f32(p.scales),
      zero_points: u32(words(p.zeroPoints)),
    },
    expected: { values: expected },
  };
};

for (const [what, params, shape] of QUANTIZE_CASES) {
  Deno.test(`dequantize_affine ${what}: GPU = twin bit for bit, = (q - z) s in float64 rounded once`, async () => {
    await checkKernel(
      kernels.dequantize_affine,
      { ...shape, CHANNELS: params.scales.length },
      dequantizeCase(params),
      {
        exact: true,
        tolerance: { relative: 0, absoluteOfMax: 0 },
      },
    );
  });
}

/** floor(fl32(x / s + u)), u the 24 top bits of the element's hash: the kernels' stochastic rounding. */
const stochasticCase = (p: Params, spread: number): CaseBuilder => (c, random) => {
  const x = randomArray(random, c.N, spread);
  const inverse = inverseScale(p.scales[0]);
  const expected = Array.from(x, (value, i) => {
    const u = (random_bits(i, c.SEED) >>> 8) / 2 ** 24;
    const q = Math.floor(Math.fround(Math.fround(value * inverse) + u));
    return Math.min(p.range.max, Math.max(p.range.min, q));
  });
  return {
    bindings: { x: f32(x), q: u32(poisonWords(c.N)), inverse_scales: f32([inverse]), zero_points: u32([0]) },
    expected: { q: words(expected) },
  };
};

Deno.test("quantize_affine stochastic rounding Q3.5 and Q12.20: GPU = twin = its definition", async () => {
  for (const [params, spread] of [[fixedParams(3, 5), 5], [fixedParams(12, 20), 100]] as const) {
    await checkKernel(
      kernels.quantize_affine,
      { N: 515, ROUNDING: 1, SEED: 11, ...constantsOf(params) },
      stochasticCase(params, spread),
    );
  }
});

Deno.test("quantize_affine stochastic rounding is unbiased: 0.3 in Q3.5 averages 9.6 steps, not 10", async () => {
  const N = 20000;
  const params = fixedParams(3, 5);
  const out = await runKernel(cpuBackend(), kernels.quantize_affine, {
    x: f32(new Float32Array(N).fill(0.3)),
    q: u32(poisonWords(N)),
    inverse_scales: f32([inverseScale(params.scales[0])]),
    zero_points: u32([0]),
  }, { N, ROUNDING: 1, SEED: 5, ...constantsOf(params) });
  const codes = Int32Array.from(out.q);
  assert.ok(codes.every((q) => q === 9 || q === 10));
  const mean = codes.reduce((a, b) => a + b, 0) / N;
  // 0.3 * 32 = 9.6; the mean of N Bernoulli(0.6) draws is within 0.02 of it but for 1 in 10^9 seeds.
  assert.ok(Math.abs(mean - 9.6) < 0.02, `mean ${mean}`);
});
