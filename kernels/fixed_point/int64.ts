// TypeScript twins of the 64-bit helpers in fixed_point.wgsl: same names, same 32-bit steps. A 64-bit
// value is a pair [lo, hi] of u32 in two's complement, as the shader's vec2u; `>>> 0` wraps a sum to
// 32 bits as WGSL's u32 arithmetic does, and a 16 x 16-bit product is exact in a float64.

/** A 64-bit two's complement integer as two u32 words, low first (the shader's vec2u). */
export type Wide = readonly [lo: number, hi: number];

export const INT64_MAX: Wide = [0xffffffff, 0x7fffffff];
export const INT64_MIN: Wide = [0, 0x80000000];

export function wide_from_i32(v: number): Wide {
  return [v >>> 0, v < 0 ? 0xffffffff : 0];
}

export function negate_wide([lo, hi]: Wide): Wide {
  const low = (~lo + 1) >>> 0;
  return [low, (~hi + (low === 0 ? 1 : 0)) >>> 0];
}

export function add_wide(a: Wide, b: Wide): Wide {
  const lo = (a[0] + b[0]) >>> 0;
  return [lo, (a[1] + b[1] + (lo < a[0] ? 1 : 0)) >>> 0];
}

export function add_wide_saturating(a: Wide, b: Wide): Wide {
  const sum = add_wide(a, b);
  const signA = a[1] >>> 31;
  if (signA === b[1] >>> 31 && signA !== sum[1] >>> 31) return signA === 1 ? INT64_MIN : INT64_MAX;
  return sum;
}

export function mul_wide_unsigned(a: number, b: number): Wide {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const low = a0 * b0;
  const crossA = a0 * b1;
  const middle = (crossA + a1 * b0) >>> 0;
  const middleCarry = middle < crossA ? 0x10000 : 0;
  const lo = (low + (middle << 16 >>> 0)) >>> 0;
  const loCarry = lo < low ? 1 : 0;
  return [lo, (a1 * b1 + (middle >>> 16) + middleCarry + loCarry) >>> 0];
}

/** The shader's mul_wide: `bits` is its BITS (m + n); up to 16, one i32 multiply. */
export function mul_wide(a: number, b: number, bits: number): Wide {
  if (bits <= 16) return wide_from_i32(Math.imul(a, b));
  const product = mul_wide_unsigned(Math.abs(a) >>> 0, Math.abs(b) >>> 0);
  return (a < 0) !== (b < 0) ? negate_wide(product) : product;
}

export function shift_left_wide(v: Wide, s: number): Wide {
  if (s === 0) return v;
  return [(v[0] << s) >>> 0, ((v[1] << s) | (v[0] >>> (32 - s))) >>> 0];
}

export function shift_right_wide(v: Wide, s: number): Wide {
  if (s === 0) return v;
  return [((v[0] >>> s) | (v[1] << (32 - s))) >>> 0, ((v[1] | 0) >> s) >>> 0];
}

export function round_shift_wide(v: Wide, s: number): Wide {
  if (s === 0) return v;
  const floor = shift_right_wide(v, s);
  const remainder = (v[0] & ((1 << s) - 1)) >>> 0;
  const half = 2 ** (s - 1);
  if (remainder > half || (remainder === half && (floor[0] & 1) === 1)) return add_wide(floor, [1, 0]);
  return floor;
}

export function round_shift_stochastic(v: Wide, s: number, random: number): Wide {
  if (s === 0) return v;
  return shift_right_wide(add_wide_saturating(v, [random >>> (32 - s), 0]), s);
}

export function format_max(bits: number): number {
  return 2 ** (bits - 1) - 1;
}

export function saturate_wide(v: Wide, bits: number): number {
  const qmax = format_max(bits);
  const qmin = -qmax - 1;
  const [lo, hi] = v;
  const fitsI32 = (hi === 0 && lo < 0x80000000) || (hi === 0xffffffff && lo >= 0x80000000);
  if (!fitsI32) return hi >>> 31 === 1 ? qmin : qmax;
  return Math.min(qmax, Math.max(qmin, lo | 0));
}

/** common.wgsl's mix32: Chris Wellons' lowbias32. */
export function mix32(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32 random bits for element `index` of a call seeded with `seed` (the shaders' random_bits). */
export function random_bits(index: number, seed: number): number {
  return mix32((index + mix32(seed)) >>> 0);
}
