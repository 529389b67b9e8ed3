/**
 * Naive references for the fixed-point kernels in BigInt: exact integers of any size, so nothing here
 * shares the kernels' 32-bit pair arithmetic. Rounding and saturation are the kernels' specification:
 * a sum saturating at +-2^63, rounding to nearest with ties to even (or floor(v + r) for stochastic
 * rounding, r the kernels' hash bits), saturation to m + n bits.
 */

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

const clamp = (v: bigint, low: bigint, high: bigint) => v < low ? low : v > high ? high : v;

/** v / 2^s rounded to nearest, ties to even; s < 0 multiplies. */
export function roundShift(v: bigint, s: number): bigint {
  if (s <= 0) return v << BigInt(-s);
  const floor = v >> BigInt(s); // BigInt's >> floors
  const remainder = v - (floor << BigInt(s));
  const half = 1n << BigInt(s - 1);
  return remainder > half || (remainder === half && (floor & 1n) === 1n) ? floor + 1n : floor;
}

/** The range of an m + n bit two's complement integer. */
export function saturate(v: bigint, bits: number): bigint {
  return clamp(v, -(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n);
}

export interface FixedDense {
  readonly B: number;
  readonly IN: number;
  readonly OUT: number;
  readonly FRAC: number;
  readonly BITS: number;
  readonly ACT?: number;
  /** For stochastic rounding: each output's 32 random bits. */
  readonly randomBits?: (index: number) => number;
}

/** y[n, o] = saturate(round((b[o] 2^n + sum_k x[n, k] w[o, k]) / 2^n)), ReLU if ACT = 1. */
export function fixedDenseReference(x: Int32Array, w: Int32Array, b: Int32Array, c: FixedDense): Int32Array {
  const y = new Int32Array(c.B * c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      let acc = BigInt(b[o]) << BigInt(c.FRAC);
      for (let k = 0; k < c.IN; k++) {
        acc = clamp(acc + BigInt(x[n * c.IN + k]) * BigInt(w[o * c.IN + k]), INT64_MIN, INT64_MAX);
      }
      const index = n * c.OUT + o;
      let rounded: bigint;
      if (c.randomBits && c.FRAC > 0) {
        const r = BigInt(c.randomBits(index) >>> (32 - c.FRAC));
        rounded = clamp(acc + r, INT64_MIN, INT64_MAX) >> BigInt(c.FRAC);
      } else {
        rounded = roundShift(acc, c.FRAC);
      }
      let value = saturate(rounded, c.BITS);
      if (c.ACT === 1 && value < 0n) value = 0n;
      y[index] = Number(value);
    }
  }
  return y;
}

/**
 * tanh through the table as specified: linear interpolation between tanh(i / 64) (Q1.30) at |x| * 64,
 * the interpolated fraction rounded to nearest even, tanh(8) beyond 8, then rounded to Qm.n and saturated.
 */
export function fixedTanhReference(
  x: Int32Array,
  table: Uint32Array,
  frac: number,
  bits: number,
): Int32Array {
  const y = new Int32Array(x.length);
  const last = table.length - 1;
  for (let i = 0; i < x.length; i++) {
    const magnitude = BigInt(Math.abs(x[i]));
    // |x| * 64 = position, as an integer part and a remainder over 2^frac.
    const scaled = magnitude << 6n;
    const index = scaled >> BigInt(frac);
    let tanh: bigint;
    if (index >= BigInt(last)) tanh = BigInt(table[last]);
    else {
      const at = Number(index);
      const remainder = scaled - (index << BigInt(frac));
      const rise = BigInt(table[at + 1]) - BigInt(table[at]);
      tanh = BigInt(table[at]) + roundShift(rise * remainder, frac);
    }
    const result = roundShift(tanh, 30 - frac);
    y[i] = Number(saturate(x[i] < 0 ? -result : result, bits));
  }
  return y;
}
