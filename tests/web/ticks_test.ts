/** The charts' ticks (web/ticks.ts): steps of 1, 2, 5 times a power of ten, axes on ticks, short labels. */
import assert from "node:assert/strict";
import { decimalsFor, niceAxis, niceStep, tickLabel } from "../../web/ticks.ts";
import { Random } from "../helpers.ts";

Deno.test("the loss axis that read 0.00, 0.61, 1.2, 1.8, 2.5 reads 0, 0.5, ..., 2.5", () => {
  const axis = niceAxis(0, 2.43, 5);
  assert.deepEqual(axis.ticks, [0, 0.5, 1, 1.5, 2, 2.5]);
  assert.deepEqual(axis.ticks.map((t) => tickLabel(t, axis.step)), [
    "0.0",
    "0.5",
    "1.0",
    "1.5",
    "2.0",
    "2.5",
  ]);
});

Deno.test("accuracy near its top, epochs, and steps in thousands", () => {
  assert.deepEqual(niceAxis(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const fine = niceAxis(0.9312, 0.9497, 5);
  assert.deepEqual(fine.ticks, [0.93, 0.935, 0.94, 0.945, 0.95]);
  assert.equal(tickLabel(0.935, fine.step), "0.935");
  assert.deepEqual(niceAxis(0, 2, 6).ticks, [0, 0.5, 1, 1.5, 2]);
  const steps = niceAxis(0, 15000, 6);
  assert.deepEqual(steps.ticks, [0, 5000, 10000, 15000]);
  assert.deepEqual(steps.ticks.map((t) => tickLabel(t, steps.step)), ["0", "5k", "10k", "15k"]);
});

Deno.test("degenerate ranges: one value, reversed, not finite", () => {
  assert.deepEqual(niceAxis(0, 0).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceAxis(2.3, 2.3).ticks, [1, 1.5, 2, 2.5, 3, 3.5]);
  assert.deepEqual(niceAxis(1, 0).ticks, niceAxis(0, 1).ticks);
  assert.deepEqual(niceAxis(NaN, 3).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceStep(0, 5), 1);
});

Deno.test("any range: 1-2-5 steps, the data inside the axis, at most the intervals asked for", () => {
  const random = new Random(7);
  for (let trial = 0; trial < 2000; trial++) {
    const scale = 10 ** Math.floor(random.next() * 12 - 6);
    const low = (random.next() - 0.3) * scale, high = low + random.next() * scale;
    const intervals = 2 + Math.floor(random.next() * 8);
    const axis = niceAxis(low, high, intervals);
    const mantissa = axis.step / 10 ** Math.floor(Math.log10(axis.step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${axis.step}`);
    assert.ok(
      axis.min <= low + 1e-9 * scale && axis.max >= high - 1e-9 * scale,
      `${low}..${high}: ${axis.ticks}`,
    );
    assert.ok(axis.ticks.length - 1 <= intervals, `${axis.ticks.length - 1} intervals of ${intervals}`);
    const labels = axis.ticks.map((t) => tickLabel(t, axis.step));
    assert.equal(new Set(labels).size, labels.length, `labels repeat: ${labels}`);
    assert.ok(labels.every((label) => label.length <= 12), `${labels}`);
  }
  assert.equal(decimalsFor(0.05), 2);
  assert.equal(decimalsFor(500), 0);
});
