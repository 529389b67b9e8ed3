/** The requantisation arithmetic (gemmlowp's, without 64-bit integers) against BigInt, edge cases included. */
import assert from "node:assert/strict";
import { Random } from "../../../engine/random.ts";
import { requantize, roundingDivideByPot, roundingHighMul } from "../../../kernels/quantize/int8.ts";
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
