/**
 * Number formats for quantized tensors, in the vocabulary of PyTorch's `torch.ao.quantization` and the
 * course's fixed-point lab: affine integers (int2 to int8, a scale and a zero point, per tensor or per
 * output channel), fixed point Qm.n (m integer bits including the sign, n fraction bits) and float16.
 *
 * A quantized tensor is a float tensor's values mapped to integers by `q = clamp(round(x * inverseScale) +
 * zeroPoint, qmin, qmax)` and back by `x = (q - zeroPoint) * scale`. The kernels multiply by the inverse
 * scale, as fbgemm does, because WGSL rounds `*` correctly but allows `/` an error of 2.5 ULP: a product
 * lands on the same integer on every adapter and in the twin.
 */
import { UserError } from "./errors.ts";

/** An affine integer format: `bits` wide, signed or not, with a zero point unless symmetric. */
export interface IntegerFormat {
  /** Which kind of format. */
  readonly kind: "integer";
  /** Bits per value, 2 to 8. */
  readonly bits: number;
  /** Signed values (weights: [-2^(b-1), 2^(b-1) - 1]) or unsigned (activations: [0, 2^b - 1]). */
  readonly signed: boolean;
  /** A zero point of 0 for signed values (weights); a zero point from the range otherwise. */
  readonly symmetric: boolean;
}

/** Fixed point Qm.n: `integerBits` (sign included) + `fractionBits`, 2 to 32 bits in all; scale 2^-n. */
export interface FixedPointFormat {
  /** Which kind of format. */
  readonly kind: "fixed";
  /** m: integer bits, the sign included. */
  readonly integerBits: number;
  /** n: fraction bits. */
  readonly fractionBits: number;
}

/** IEEE 754 half precision. */
export interface HalfFormat {
  /** Which kind of format. */
  readonly kind: "f16";
}

/** Every stored format a tensor may take besides float32. */
export type QuantFormat = IntegerFormat | FixedPointFormat | HalfFormat;

/** How a value between two representable ones is rounded: to nearest, ties to even; or stochastically. */
export type Rounding = "nearest-even" | "stochastic";

/** The integers a format can hold. */
export interface IntegerRange {
  /** The smallest. */
  readonly min: number;
  /** The largest. */
  readonly max: number;
}

/** A scale and zero point: one pair per tensor, or one per output channel (`scales.length` channels). */
export interface QuantParams {
  /** Real value of one integer step. */
  readonly scales: Float32Array;
  /** The integer that stands for 0. */
  readonly zeroPoints: Int32Array;
}

/** float32's machine epsilon: PyTorch's observers never let a scale fall below it. */
export const SCALE_EPSILON = 1.1920928955078125e-7;

/** `int8` (weights: signed, symmetric), the usual weight format. */
export function integerFormat(bits: number, signed = true, symmetric = signed): IntegerFormat {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new UserError(`integer quantization takes 2 to 8 bits, not ${bits}`);
  }
  return { kind: "integer", bits, signed, symmetric };
}

/** Qm.n with m integer bits (sign included) and n fraction bits, m >= 1, n >= 0, m + n from 2 to 32. */
export function fixedPointFormat(integerBits: number, fractionBits: number): FixedPointFormat {
  const total = integerBits + fractionBits;
  if (
    !Number.isInteger(integerBits) || !Number.isInteger(fractionBits) || integerBits < 1 ||
    fractionBits < 0 || total < 2 || total > 32
  ) {
    throw new UserError(
      `fixed point Q${integerBits}.${fractionBits} is not a format: m (sign included) >= 1, n >= 0, m + n from 2 to 32`,
    );
  }
  return { kind: "fixed", integerBits, fractionBits };
}

/** Reads `int8`, `int4`, `uint8`, `q3.5`, `q6.10`, `q12.20` or `f16`; refuses anything else in one line. */
export function parseQuantFormat(text: string): QuantFormat {
  const name = text.trim().toLowerCase();
  if (name === "f16" || name === "fp16" || name === "float16") return { kind: "f16" };
  const integer = /^(u?)int(\d+)$/.exec(name);
  if (integer) return integerFormat(Number(integer[2]), integer[1] === "");
  const fixed = /^q(\d+)\.(\d+)$/.exec(name);
  if (fixed) return fixedPointFormat(Number(fixed[1]), Number(fixed[2]));
  throw new UserError(
    `unknown number format "${text}": use int2 to int8 (uint2 to uint8 for activations), qM.N (e.g. q3.5, q6.10, q12.20) or f16`,
  );
}

/** The format's name as `parseQuantFormat` reads it. */
export function formatName(format: QuantFormat): string {
  switch (format.kind) {
    case "f16":
      return "f16";
    case "integer":
      return `${format.signed ? "" : "u"}int${format.bits}`;
    case "fixed":
      return `q${format.integerBits}.${format.fractionBits}`;
  }
}

/** Bits one stored value takes. */
export function bitsPerValue(format: QuantFormat): number {
  switch (format.kind) {
    case "f16":
      return 16;
    case "integer":
      return format.bits;
    case "fixed":
      return format.integerBits + format.fractionBits;
  }
}

/** The integers an integer or fixed-point format holds. */
export function integerRange(format: IntegerFormat | FixedPointFormat): IntegerRange {
  const bits = format.kind === "integer" ? format.bits : format.integerBits + format.fractionBits;
  const signed = format.kind === "fixed" || format.signed;
  return signed ? { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 } : { min: 0, max: 2 ** bits - 1 };
}

/** Rounds to the nearest integer, ties to even (IEEE's default; WGSL's `round`, PyTorch's `torch.round`). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Rounds up with probability equal to the fraction: unbiased on average. `uniform` is in [0, 1). */
export function roundStochastic(x: number, uniform: number): number {
  const floor = Math.floor(x);
  return uniform < x - floor ? floor + 1 : floor;
}

/**
 * A scale and zero point covering [min, max] as PyTorch's MinMaxObserver computes them: the range always
 * holds 0 (so zero is exact); symmetric formats centre it, affine ones shift it by the zero point.
 */
export function affineParamsFromRange(min: number, max: number, format: IntegerFormat): {
  scale: number;
  zeroPoint: number;
} {
  if (!(min <= max)) throw new UserError(`a quantization range needs min <= max, not [${min}, ${max}]`);
  const { min: qmin, max: qmax } = integerRange(format);
  const low = Math.min(min, 0);
  const high = Math.max(max, 0);
  if (format.symmetric) {
    const scale = Math.fround(Math.max(Math.max(-low, high) / ((qmax - qmin) / 2), SCALE_EPSILON));
    // A signed symmetric format is centred on 0; an unsigned one on its middle (PyTorch's quint8: 128).
    return { scale, zeroPoint: format.signed ? 0 : Math.ceil((qmin + qmax) / 2) };
  }
  // float32 at each step, as PyTorch computes on float32 tensors.
  const scale = Math.fround(
    Math.max(Math.fround(Math.fround(high) - Math.fround(low)) / (qmax - qmin), SCALE_EPSILON),
  );
  const zeroPoint = Math.min(
    qmax,
    Math.max(qmin, qmin - roundHalfEven(Math.fround(Math.fround(low) / scale))),
  );
  return { scale, zeroPoint };
}

/** The float32 multiplier the kernels quantize by: 1 / scale, rounded once to float32 on the host. */
export function inverseScale(scale: number): number {
  return Math.fround(1 / scale);
}

/**
 * One value to its integer: `clamp(round(x * (1 / scale)) + zeroPoint)`, the product in float32 as the
 * kernels compute it. Saturates at the format's range.
 */
export function quantizeValue(
  x: number,
  scale: number,
  zeroPoint: number,
  range: IntegerRange,
  rounding: Rounding = "nearest-even",
  uniform = 0,
): number {
  const scaled = Math.fround(Math.fround(x) * inverseScale(scale));
  const rounded = rounding === "nearest-even" ? roundHalfEven(scaled) : roundStochastic(scaled, uniform);
  return Math.min(range.max, Math.max(range.min, rounded + zeroPoint));
}

/** An integer back to its value, in float32: `(q - zeroPoint) * scale`. */
export function dequantizeValue(q: number, scale: number, zeroPoint: number): number {
  return Math.fround((q - zeroPoint) * scale);
}

/** Fixed point Qm.n's scale, 2^-n (exact in float32 for n <= 126). */
export function fixedPointScale(format: FixedPointFormat): number {
  return 2 ** -format.fractionBits;
}

/** Rounds a value to float16 and back (IEEE round to nearest even; overflow to infinity, as the hardware). */
export function roundToHalf(x: number): number {
  return Math.f16round(x);
}

/**
 * A real multiplier in (0, 1) as an int32 fixed-point multiplier in Q0.31 and a right shift, so that
 * `x * real ~= (x * multiplier) >> (31 + shift)` in integer arithmetic (gemmlowp's requantization).
 */
export function quantizedMultiplier(real: number): { multiplier: number; shift: number } {
  if (!(real > 0 && real < 1)) {
    throw new UserError(`a requantization multiplier must lie in (0, 1), not ${real}`);
  }
  let shift = 0;
  let mantissa = real;
  while (mantissa < 0.5) {
    mantissa *= 2;
    shift++;
  }
  let multiplier = roundHalfEven(mantissa * 2 ** 31);
  // A mantissa that rounds up to 1.0 is 0.5 at one shift less.
  if (multiplier === 2 ** 31) {
    multiplier = 2 ** 30;
    shift--;
  }
  return { multiplier, shift };
}

/** A float's IEEE half-precision bits, rounded to nearest even (overflow to infinity, NaN kept a NaN). */
export function halfBits(x: number): number {
  const h = Math.f16round(x);
  const sign = h < 0 || Object.is(h, -0) ? 0x8000 : 0;
  const a = Math.abs(h);
  if (Number.isNaN(h)) return 0x7e00;
  if (a === Infinity) return sign | 0x7c00;
  // Below 2^-14 the value is subnormal: a multiple of 2^-24.
  if (a < 2 ** -14) return sign | (a * 2 ** 24);
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent--;
  if (2 ** (exponent + 1) <= a) exponent++;
  return sign | ((exponent + 15) << 10) | ((a / 2 ** exponent - 1) * 1024);
}

/** The value of IEEE half-precision bits. */
export function halfFromBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
