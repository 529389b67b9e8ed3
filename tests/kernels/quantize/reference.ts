/**
 * Naive references for the int8 kernels: gemmlowp's requantisation in BigInt (64-bit products as the
 * C++ computes them), and plain loops over unpacked int8 values.
 */

/** gemmlowp's SaturatingRoundingDoublingHighMul on int64, as C++ computes it (division truncates). */
export function referenceRoundingHighMul(a: number, b: number): number {
  if (a === -(2 ** 31) && b === -(2 ** 31)) return 2 ** 31 - 1;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n));
}

/** x / 2^e, rounded to nearest, ties away from zero. */
export function referenceRoundingDivideByPot(x: number, e: number): number {
  const q = Math.floor(x / 2 ** e), r = x - q * 2 ** e;
  return 2 * r > 2 ** e || (2 * r === 2 ** e && x >= 0) ? q + 1 : q;
}

/** TFLite's MultiplyByQuantizedMultiplier: left shift (int32 wrap), high mul, rounding right shift. */
export function referenceRequantize(acc: number, multiplier: number, shift: number): number {
  const shifted = shift < 0 ? Number(BigInt.asIntN(32, BigInt(acc) << BigInt(-shift))) : acc;
  return referenceRoundingDivideByPot(referenceRoundingHighMul(shifted, multiplier), Math.max(shift, 0));
}
