// TypeScript twins of kernels/fixed_point/fixed_point.wgsl: same names, same integer steps (the 64-bit
// helpers are int64.ts). One iteration of the two outer loops is one shader invocation.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { roundHalfEven } from "../../engine/quantization.ts";
import {
  add_wide_saturating,
  mul_wide,
  mul_wide_unsigned,
  negate_wide,
  random_bits,
  round_shift_stochastic,
  round_shift_wide,
  saturate_wide,
  shift_left_wide,
  type Wide,
  wide_from_i32,
} from "./int64.ts";

/** The tanh table's spacing, 2^-6, and its reach, 8 (fixed_point.wgsl's TANH_STEP_BITS, TANH_SEGMENTS). */
export const TANH_STEP_BITS = 6;
export const TANH_SEGMENTS = 512;
/** The table's values are Q1.30. */
export const TANH_TABLE_BITS = 30;

/** tanh(i / 64) in Q1.30 for i = 0 .. 512: the table fixed_tanh interpolates (bind it as tanh_table). */
export function fixedTanhTable(): Uint32Array {
  const table = new Uint32Array(TANH_SEGMENTS + 1);
  for (let i = 0; i <= TANH_SEGMENTS; i++) {
    table[i] = roundHalfEven(Math.tanh(i / 2 ** TANH_STEP_BITS) * 2 ** TANH_TABLE_BITS);
  }
  return table;
}

export function fixed_dense_forward(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.u32;
  const { B, IN, OUT, FRAC, BITS } = c;
  const ACT = c.ACT ?? 0, ROUNDING = c.ROUNDING ?? 0, SEED = c.SEED ?? 0;
  for (let n = 0; n < B; n++) {
    for (let o = 0; o < OUT; o++) {
      let acc: Wide = shift_left_wide(wide_from_i32(b[o] | 0), FRAC);
      for (let k = 0; k < IN; k++) {
        acc = add_wide_saturating(acc, mul_wide(x[n * IN + k] | 0, w[o * IN + k] | 0, BITS));
      }
      const index = n * OUT + o;
      const rounded = ROUNDING === 1
        ? round_shift_stochastic(acc, FRAC, random_bits(index, SEED))
        : round_shift_wide(acc, FRAC);
      let value = saturate_wide(rounded, BITS);
      if (ACT === 1) value = Math.max(value, 0);
      y[index] = value >>> 0;
    }
  }
}

function tanh_magnitude(magnitude: number, frac: number, table: Uint32Array): number {
  if (frac < TANH_STEP_BITS) {
    const shift = TANH_STEP_BITS - frac;
    if (magnitude >= (TANH_SEGMENTS >>> shift)) return table[TANH_SEGMENTS];
    return table[magnitude << shift];
  }
  const fractionBits = frac - TANH_STEP_BITS;
  const index = magnitude >>> fractionBits;
  if (index >= TANH_SEGMENTS) return table[TANH_SEGMENTS];
  const fraction = (magnitude & ((1 << fractionBits) - 1)) >>> 0;
  const rise = (table[index + 1] - table[index]) >>> 0;
  return (table[index] + round_shift_wide(mul_wide_unsigned(rise, fraction), fractionBits)[0]) >>> 0;
}

export function fixed_tanh(t: TwinBindings, c: Constants): void {
  const { x, y, tanh_table } = t.u32;
  const { B, OUT, FRAC, BITS } = c;
  for (let n = 0; n < B; n++) {
    for (let o = 0; o < OUT; o++) {
      const index = n * OUT + o;
      y[index] = tanh_fixed(x[index] | 0, FRAC, BITS, tanh_table) >>> 0;
    }
  }
}

function tanh_fixed(q: number, frac: number, bits: number, table: Uint32Array): number {
  const tanh = tanh_magnitude(Math.abs(q) >>> 0, frac, table);
  const result = frac <= TANH_TABLE_BITS
    ? round_shift_wide([tanh, 0], TANH_TABLE_BITS - frac)
    : shift_left_wide([tanh, 0], frac - TANH_TABLE_BITS);
  return saturate_wide(q < 0 ? negate_wide(result) : result, bits);
}
