// TypeScript twins of kernels/fixed_point/affine_quantize.wgsl: same names, one loop iteration per
// invocation, float32 rounding (Math.fround) at the shader's every float step.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { roundHalfEven } from "../../engine/quantization.ts";
import { random_bits } from "./int64.ts";

const channelOf = (i: number, c: Constants) => Math.floor(i / (c.INNER ?? 1)) % (c.CHANNELS ?? 1);

export function quantize_affine(t: TwinBindings, c: Constants): void {
  const { x, inverse_scales } = t.f32;
  const { q, zero_points } = t.u32;
  const { N, QMIN, QMAX } = c;
  const upper = Math.fround(Math.fround(QMAX) + 1);
  const lower = Math.fround(QMIN);
  for (let i = 0; i < N; i++) {
    const channel = channelOf(i, c);
    const zeroPoint = zero_points[channel] | 0;
    const scaled = Math.fround(x[i] * inverse_scales[channel]);
    const rounded = (c.ROUNDING ?? 0) === 1
      ? Math.floor(Math.fround(scaled + (random_bits(i, c.SEED ?? 0) >>> 8) / 16777216))
      : roundHalfEven(scaled);
    const shifted = Math.fround(rounded + zeroPoint);
    let value: number;
    if (Number.isNaN(x[i])) value = zeroPoint;
    else if (shifted >= upper) value = QMAX;
    else if (shifted < lower) value = QMIN;
    else value = shifted;
    q[i] = value >>> 0;
  }
}

/** The shader's exact_f32: an i32 to float32 rounded once, to nearest even. */
function exact_f32(v: number): number {
  return Math.fround((v >> 16) * 65536 + (v & 0xffff));
}

export function dequantize_affine(t: TwinBindings, c: Constants): void {
  const { values, scales } = t.f32;
  const { codes, zero_points } = t.u32;
  for (let i = 0; i < c.N; i++) {
    const channel = channelOf(i, c);
    values[i] = Math.fround(exact_f32(((codes[i] | 0) - (zero_points[channel] | 0)) | 0) * scales[channel]);
  }
}
