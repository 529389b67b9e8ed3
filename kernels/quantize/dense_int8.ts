// TypeScript twins of kernels/quantize/dense_int8.wgsl and dense_int8_dot4.wgsl: same names, same
// tiles (one shader invocation per iteration of the two outer loops: an output word of four rows x
// four samples). The dot4I8Packed and the shifts variants compute the same integers, so each pair of
// entry points shares one twin.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { activate } from "../activation/activation.ts";
import { int8View, requantizeClamped, wordsFor } from "./int8.ts";

/** acc[j * 4 + i] = sum over k of x[n0 + j, k] * w[o0 + i, k], int32 (exact: |sums| < 2^31 for any IN this engine takes). */
function tile(x: Int8Array, w: Int8Array, c: Constants, o0: number, n0: number, acc: Int32Array): void {
  const { B, IN4, OUT } = c;
  const bytes = 4 * IN4;
  acc.fill(0);
  for (let j = 0; j < 4 && n0 + j < B; j++) {
    const xs = (n0 + j) * bytes;
    for (let i = 0; i < 4 && o0 + i < OUT; i++) {
      const ws = (o0 + i) * bytes;
      let sum = 0;
      for (let k = 0; k < bytes; k++) sum += x[xs + k] * w[ws + k];
      acc[j * 4 + i] = sum;
    }
  }
}

const accumulators = new Int32Array(16);

/** y = requantized int8 of x W^T + bias, ReLU fused when RELU = 1. */
export function dense_int8(t: TwinBindings, c: Constants): void {
  const { x, w, bias, requant, y } = t.u32;
  const { B, OUT } = c;
  const Y_ZP = c.Y_ZP ?? 0, low = (c.RELU ?? 0) === 1 ? Y_ZP : -128;
  const xs = int8View(x), ws = int8View(w), ys = int8View(y), out4 = wordsFor(OUT);
  for (let o0 = 0; o0 < OUT; o0 += 4) {
    for (let n0 = 0; n0 < B; n0 += 4) {
      tile(xs, ws, c, o0, n0, accumulators);
      for (let j = 0; j < 4 && n0 + j < B; j++) {
        for (let i = 0; i < 4; i++) {
          const o = o0 + i;
          ys[(n0 + j) * 4 * out4 + o] = o < OUT
            ? requantizeClamped(
              accumulators[j * 4 + i] + (bias[o] | 0),
              requant[2 * o],
              requant[2 * o + 1] | 0,
              Y_ZP,
              low,
            )
            : 0;
        }
      }
    }
  }
}

/** y_float = act(f32(acc - x_zp * w_sums) * (x_scale * w_scale) + b), the input's scale and zero point read from x_qparams. */
export function dense_int8_float(t: TwinBindings, c: Constants): void {
  const { x, w, w_sums } = t.u32;
  const { x_qparams, w_scale, b, y_float } = t.f32;
  const { B, OUT } = c;
  const ACT = c.ACT ?? 0;
  const xs = int8View(x), ws = int8View(w);
  const xScale = x_qparams[0], xZero = x_qparams[2];
  for (let o0 = 0; o0 < OUT; o0 += 4) {
    for (let n0 = 0; n0 < B; n0 += 4) {
      tile(xs, ws, c, o0, n0, accumulators);
      for (let j = 0; j < 4 && n0 + j < B; j++) {
        for (let i = 0; i < 4 && o0 + i < OUT; i++) {
          const o = o0 + i;
          const exact = (accumulators[j * 4 + i] - Math.imul(xZero, w_sums[o] | 0)) | 0;
          const scaled = Math.fround(exact) * Math.fround(xScale * w_scale[o]);
          y_float[(n0 + j) * OUT + o] = activate(ACT, Math.fround(Math.fround(scaled) + b[o]));
        }
      }
    }
  }
}

/** dense_int8 with dot4I8Packed: the same integers. */
export function dense_int8_dot4(t: TwinBindings, c: Constants): void {
  dense_int8(t, c);
}

/** dense_int8_float with dot4I8Packed: the same integers. */
export function dense_int8_float_dot4(t: TwinBindings, c: Constants): void {
  dense_int8_float(t, c);
}
