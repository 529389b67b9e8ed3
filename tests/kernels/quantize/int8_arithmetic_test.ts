/** The requantisation arithmetic (gemmlowp's, without 64-bit integers) against BigInt, edge cases included. */
import assert from "node:assert/strict";
import { Random } from "../../../engine/random.ts";
import { requantize, roundingDivideByPot, roundingHighMul } from "../../../kernels/quantize/int8.ts";
import { requantization } from "../../../models/quantized/convert.ts";
import { referenceRequantize, referenceRoundingDivideByPot, referenceRoundingHighMul } from "./reference.ts";

const INT32_MIN = -(2 ** 31), INT32_MAX = 2 ** 31 - 1;
const EDGES = [
  0,
  1,
  -1,
  2,
  -2,
  3,
  -3,
  255,
  -256,
  2 ** 15,
  -(2 ** 15),
  2 ** 16 - 1,
  2 ** 30,
  -(2 ** 30),
  INT32_MAX,
  INT32_MIN,
  INT32_MIN + 1,
];
const MULTIPLIERS = [2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1, 1518500250, 1073741825, 2000000000];

Deno.test("roundingHighMul is gemmlowp's SaturatingRoundingDoublingHighMul (BigInt), edges and random", () => {
  const random = new Random(7);
  const values = [...EDGES, ...Array.from({ length: 2000 }, () => (random.nextUint32() | 0))];
  const multipliers = [
    ...MULTIPLIERS,
    ...Array.from({ length: 50 }, () => 2 ** 30 + (random.nextUint32() >>> 2)),
  ];
  for (const a of values) {
    for (const b of multipliers) {
      assert.equal(roundingHighMul(a, b), referenceRoundingHighMul(a, b), `roundingHighMul(${a}, ${b})`);
    }
  }
});

Deno.test("roundingDivideByPot rounds half away from zero, every exponent", () => {
  const random = new Random(8);
  const values = [...EDGES, ...Array.from({ length: 500 }, () => (random.nextUint32() | 0))];
  for (const x of values) {
    for (let e = 0; e <= 31; e++) {
      assert.equal(
        roundingDivideByPot(x, e),
        referenceRoundingDivideByPot(x, e),
        `roundingDivideByPot(${x}, ${e})`,
      );
    }
  }
  // Ties: 5 / 2 -> 3, -5 / 2 -> -3.
  assert.equal(roundingDivideByPot(5, 1), 3);
  assert.equal(roundingDivideByPot(-5, 1), -3);
});

Deno.test("requantize with a left shift (a multiplier of 1 or more) wraps as int32 arithmetic does", () => {
  for (const acc of [...EDGES, 12345, -54321]) {
    for (const shift of [-2, -1, 0, 1, 7, 31]) {
      assert.equal(
        requantize(acc, 2 ** 30, shift),
        referenceRequantize(acc, 2 ** 30, shift),
        `${acc} ${shift}`,
      );
    }
  }
});

Deno.test("requantization: a multiplier and shift that reproduce the real multiplier to 2^-30, below 1 and above", () => {
  for (const real of [1e-9, 3.7e-6, 0.001, 0.25, 0.5, 0.7071, 0.99999, 1, 1.5, 3.99, 1000]) {
    const { multiplier, shift } = requantization(real);
    assert.ok(multiplier >= 2 ** 30 && multiplier < 2 ** 31, `${real}: multiplier ${multiplier}`);
    const back = multiplier * 2 ** -31 * 2 ** -shift;
    assert.ok(Math.abs(back - real) <= real * 2 ** -30, `${real}: ${back}`);
  }
  // Below 2^-32 the shift stops at 31 and the multiplier shrinks: still the nearest value it can hold.
  for (const real of [1e-10, 3e-12]) {
    const { multiplier, shift } = requantization(real);
    assert.equal(shift, 31);
    assert.ok(Math.abs(multiplier * 2 ** -62 - real) <= 2 ** -63, `${real}: ${multiplier}`);
  }
});
