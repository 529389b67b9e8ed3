// TypeScript twins of kernels/quantize/quantize.wgsl: same names, same index arithmetic (one shader
// invocation per iteration of the outer loop).
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import {
  affineParamsFromRange,
  integerFormat,
  inverseScale,
  roundHalfEven,
} from "../../engine/quantization.ts";
import { int8View, wordsFor } from "./int8.ts";

/** Activations: signed int8 with a zero point (asymmetric), so that they meet the signed weights in dot4I8Packed. */
export const ACTIVATION_FORMAT = integerFormat(8, true, false);

/** Float32 NCHW [B, C, HW] to int8 NHWC [B, HW, C4] words: clamp(round(x * (1 / scale)) + zero point). */
export function quantize_int8(t: TwinBindings, c: Constants): void {
  const { x, qparams } = t.f32;
  const q = int8View(t.u32.q);
  const { B, C, HW } = c;
  const words = wordsFor(C), inverse = qparams[1], zero = qparams[2];
  for (let at = 0; at < B * HW * words; at++) {
    const c4 = at % words, p = Math.floor(at / words) % HW, n = Math.floor(at / (words * HW));
    for (let i = 0; i < 4; i++) {
      const ch = 4 * c4 + i;
      const scaled = Math.fround(x[(n * C + ch) * HW + p] * inverse);
      q[4 * at + i] = ch < C ? Math.min(127, Math.max(-128, roundHalfEven(scaled) + zero)) : 0;
    }
  }
}

/** int8 NHWC words back to float32 NCHW: f32(q - zero point) * scale. */
export function dequantize_int8(t: TwinBindings, c: Constants): void {
  const { qparams, y } = t.f32;
  const q = int8View(t.u32.q_in);
  const { B, C, HW } = c;
  const words = wordsFor(C);
  for (let at = 0; at < B * C * HW; at++) {
    const p = at % HW, ch = Math.floor(at / HW) % C, n = Math.floor(at / (HW * C));
    y[at] = Math.fround((q[4 * ((n * HW + p) * words) + ch] - qparams[2]) * qparams[0]);
  }
}

/** The range of x's first N values (widened to hold 0) and the asymmetric int8 scale and zero point from it. */
export function int8_range_qparams(t: TwinBindings, c: Constants): void {
  const { x, range_qparams } = t.f32;
  let low = 0, high = 0;
  for (let i = 0; i < c.N; i++) {
    low = Math.min(low, x[i]);
    high = Math.max(high, x[i]);
  }
  const { scale, zeroPoint } = affineParamsFromRange(low, high, ACTIVATION_FORMAT);
  range_qparams.set([scale, inverseScale(scale), zeroPoint]);
}

/** int8 weights [OUT = B, IN4] words to float32 [OUT, IN = C]: q * scales[o]. */
export function dequantize_weights(t: TwinBindings, c: Constants): void {
  const { scales, w_float } = t.f32;
  const q = int8View(t.u32.q_in);
  const { B, C } = c;
  const words = wordsFor(C);
  for (let at = 0; at < B * C; at++) {
    const k = at % C, o = Math.floor(at / C);
    w_float[at] = Math.fround(q[4 * o * words + k] * scales[o]);
  }
}
