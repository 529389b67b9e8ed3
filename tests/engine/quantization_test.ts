import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  affineParamsFromRange,
  dequantizeValue,
  fixedPointFormat,
  formatName,
  integerFormat,
  integerRange,
  parseQuantFormat,
  quantizedMultiplier,
  quantizeValue,
  roundHalfEven,
  roundStochastic,
} from "../../engine/quantization.ts";
import { UserError } from "../../engine/errors.ts";

Deno.test("roundHalfEven sends ties to the even neighbour, as torch.round and WGSL's round do", () => {
  assertEquals([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 0, -2, 2, 3]);
});

Deno.test("roundStochastic rounds up with probability equal to the fraction", () => {
  assertEquals(roundStochastic(2.25, 0.2), 3);
  assertEquals(roundStochastic(2.25, 0.3), 2);
  assertEquals(roundStochastic(-2.75, 0.1), -2);
});

Deno.test("affine parameters match PyTorch's MinMaxObserver (values printed by torch 1.13)", () => {
  const uint8 = integerFormat(8, false, false);
  assertEquals(affineParamsFromRange(-1.3, 2.7, uint8), { scale: 0.01568627543747425, zeroPoint: 83 });
  assertEquals(affineParamsFromRange(0.2, 5.0, uint8), { scale: 0.019607843831181526, zeroPoint: 0 });
  assertEquals(affineParamsFromRange(-1.3, 2.7, integerFormat(8)), {
    scale: 0.021176470443606377,
    zeroPoint: 0,
  });
  assertEquals(affineParamsFromRange(-0.7, 0.1, integerFormat(8, false, true)), {
    scale: 0.0054901959374547005,
    zeroPoint: 128,
  });
});

Deno.test("quantizeValue rounds ties to even and saturates (torch.quantize_per_tensor, scale 1)", () => {
  const range = integerRange(integerFormat(8));
  assertEquals([0.5, -0.5, 1.5, 2.5, 100, 1000, -1000].map((x) => quantizeValue(x, 1, 0, range)), [
    0,
    0,
    2,
    2,
    100,
    127,
    -128,
  ]);
  assertEquals(dequantizeValue(quantizeValue(0.3, 0.1, 3, range), 0.1, 3), Math.fround(0.30000000000000004));
});

Deno.test("fixed point Qm.n holds m + n bits, sign included", () => {
  assertEquals(integerRange(fixedPointFormat(3, 5)), { min: -128, max: 127 });
  assertEquals(integerRange(fixedPointFormat(12, 20)), { min: -(2 ** 31), max: 2 ** 31 - 1 });
  assertThrows(() => fixedPointFormat(20, 20), UserError);
  assertThrows(() => fixedPointFormat(0, 8), UserError);
});

Deno.test("parseQuantFormat reads the lab's names and refuses others in one line", () => {
  for (const name of ["int8", "int4", "uint8", "q3.5", "q6.10", "q12.20", "f16"]) {
    assertEquals(formatName(parseQuantFormat(name)), name);
  }
  assertThrows(() => parseQuantFormat("int9"), UserError);
  assertThrows(() => parseQuantFormat("bf16"), /unknown number format "bf16"/);
});

Deno.test("quantizedMultiplier reproduces the real multiplier to 31 bits", () => {
  for (const real of [0.5, 0.0003, 0.999999999, 0.123456789]) {
    const { multiplier, shift } = quantizedMultiplier(real);
    const back = multiplier / 2 ** (31 + shift);
    if (Math.abs(back - real) > real * 2 ** -30) throw new Error(`${real} came back as ${back}`);
    if (multiplier < 2 ** 30 || multiplier >= 2 ** 31) {
      throw new Error(`multiplier ${multiplier} not normalised`);
    }
  }
  assertThrows(() => quantizedMultiplier(1.5), UserError);
});
