import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { learningRateForEpoch, parseSchedule, PROTOCOL } from "../../lab/protocol.ts";

Deno.test("the lab's learning-rate schedule, epoch by epoch", () => {
  const expected: Record<number, number> = {
    1: 0.0005,
    2: 0.0005,
    3: 0.0002,
    5: 0.0002,
    6: 0.0001,
    8: 0.0001,
    9: 0.00005,
    12: 0.00005,
    13: 0.00001,
    20: 0.00001,
    40: 0.00001,
  };
  for (const [epoch, rate] of Object.entries(expected)) {
    assert.equal(learningRateForEpoch(Number(epoch)), rate);
  }
  assert.equal(PROTOCOL.batchSize, 4);
  assert.equal(PROTOCOL.epochs, 20);
});

Deno.test("a custom schedule applies from each listed epoch on", () => {
  const schedule = parseSchedule("1:0.1, 4:0.01");
  assert.deepEqual([1, 3, 4, 9].map((e) => learningRateForEpoch(e, schedule)), [0.1, 0.1, 0.01, 0.01]);
});

Deno.test("malformed schedules are one-line user errors", () => {
  for (const bad of ["", "1:", "2:0.1", "1:0.1,1:0.2", "1:0.1,3:-1", "1:abc", "one:0.1", "1:0.1;3:0.2"]) {
    assert.throws(() => parseSchedule(bad), (e) => e instanceof UserError && !e.message.includes("\n"), bad);
  }
});
