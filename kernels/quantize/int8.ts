// The integer arithmetic the int8 kernels share (kernels/common.wgsl's int8 helpers), in TypeScript:
// bit for bit what the shaders compute. Four int8 to a u32, lane 0 in the lowest byte, which is a
// little-endian Int8Array's byte 0: the twins read packed words through `int8View`.

/** The bytes of packed words as int8 (a view: writes go through). */
export function int8View(words: Uint32Array): Int8Array {
  return new Int8Array(words.buffer, words.byteOffset, words.length * 4);
}

/** Words of four int8 for `count` values (padding lanes 0): ceil(count / 4). */
export function wordsFor(count: number): number {
  return Math.ceil(count / 4);
}

const TWO_POW_15 = 2 ** 15;
const TWO_POW_16 = 2 ** 16;
const TWO_POW_31 = 2 ** 31;

/**
 * gemmlowp's SaturatingRoundingDoublingHighMul(a, b) for b in [2^30, 2^31): a * b / 2^31 rounded to
 * nearest, ties away from zero. The 62-bit product is never formed: |a| * (b's high half) is split at
 * bit 15 so that every sum below stays under 2^53, exact in a double.
 */
export function roundingHighMul(a: number, b: number): number {
  const magnitude = Math.abs(a);
  const nudge = a < 0 ? 2 ** 30 - 1 : 2 ** 30;
  const high = magnitude * Math.floor(b / TWO_POW_16); // < 2^47
  const low = magnitude * (b % TWO_POW_16) + nudge; // < 2^48
  const highTop = Math.floor(high / TWO_POW_15);
  const r = highTop + Math.floor(((high - highTop * TWO_POW_15) * TWO_POW_16 + low) / TWO_POW_31);
  return (a < 0 ? -r : r) | 0;
}

/** gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
export function roundingDivideByPot(x: number, exponent: number): number {
  const mask = 2 ** exponent - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** An int32 accumulator times multiplier * 2^-31 * 2^-shift; a negative shift shifts left first (wrapping, as WGSL). */
export function requantize(acc: number, multiplier: number, shift: number): number {
  const shifted = shift < 0 ? (acc << -shift) | 0 : acc;
  return roundingDivideByPot(roundingHighMul(shifted, multiplier), Math.max(shift, 0));
}

/** One requantized output: plus the zero point, clamped to [low, 127]. */
export function requantizeClamped(
  acc: number,
  multiplier: number,
  shift: number,
  zero: number,
  low: number,
): number {
  return Math.min(127, Math.max(low, requantize(acc, multiplier, shift) + zero));
}

/**
 * Rows of int8 values packed four to a u32, each row padded to whole words with 0:
 * `values` [rows, rowLength] -> [rows, ceil(rowLength / 4)] words.
 */
export function packInt8Rows(values: ArrayLike<number>, rows: number, rowLength: number): Uint32Array {
  const words = wordsFor(rowLength);
  const packed = new Uint32Array(rows * words);
  const bytes = int8View(packed);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rowLength; k++) bytes[r * words * 4 + k] = values[r * rowLength + k];
  }
  return packed;
}

/** The inverse of packInt8Rows: [rows, rowLength] int8 values. */
export function unpackInt8Rows(packed: Uint32Array, rows: number, rowLength: number): Int8Array {
  const words = wordsFor(rowLength), bytes = int8View(packed);
  const values = new Int8Array(rows * rowLength);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rowLength; k++) values[r * rowLength + k] = bytes[r * words * 4 + k];
  }
  return values;
}
