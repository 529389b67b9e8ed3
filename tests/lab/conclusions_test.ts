import assert from "node:assert/strict";
import { compare, conclusionsMarkdown, lenetHighest, twoLayersBeatOne } from "../../lab/conclusions.ts";
import type { ResultRow } from "../../lab/results.ts";
import { syntheticRow } from "./rows.ts";

/** A model's ok row on the GPU path for one seed, with a chosen accuracy. */
function row(model: string, seed: number, accuracy: number, paramBytes?: number): ResultRow {
  const hidden = model === "lenet5" ? [] : model.slice(4).split("-").map(Number);
  const family = model === "lenet5" ? "lenet5" : hidden.length === 1 ? "mlp1" : "mlp2";
  const base = syntheticRow(family, hidden, "webgpu", seed);
  // Without op_bytes, so that the pairing below is by the param_bytes chosen here.
  return { ...base, test_accuracy: accuracy, param_bytes: paramBytes ?? base.param_bytes, op_bytes: null };
}

const bySeed = (rows: ResultRow[]) => new Map(rows.map((r) => [r.seed!, r]));

Deno.test("compare: the interval is Student's t over seeds combined with the test set's binomial error", () => {
  const a = bySeed([row("lenet5", 0, 0.95), row("lenet5", 1, 0.96), row("lenet5", 2, 0.955)]);
  const b = bySeed([row("mlp-300", 0, 0.94), row("mlp-300", 1, 0.94), row("mlp-300", 2, 0.94)]);
  const result = compare(a, b)!;
  // By hand: differences 0.010, 0.020, 0.015; mean 0.015, sd 0.005; t(2) = 4.303.
  const seedHalf = 4.303 * 0.005 / Math.sqrt(3);
  const testHalf = 1.96 * Math.sqrt(0.955 * 0.045 / 10000 + 0.94 * 0.06 / 10000);
  const half = Math.hypot(seedHalf, testHalf);
  assert.equal(result.seeds, 3);
  assert.ok(Math.abs(result.difference - 0.015) < 1e-12);
  assert.ok(
    Math.abs(result.high - result.low - 2 * half) < 1e-9,
    `${result.high - result.low} vs ${2 * half}`,
  );
  // Only seeds both have count; none in common gives nothing.
  assert.equal(compare(a, bySeed([row("mlp-300", 1, 0.9)]))!.seeds, 1);
  assert.equal(compare(a, bySeed([row("mlp-300", 7, 0.9)])), undefined);
});

Deno.test("LeNet-5 highest: supported, contradicted or undecided as the intervals fall", () => {
  const lenet = [0, 1, 2].map((s) => row("lenet5", s, 0.955 + 0.001 * s));
  const far = [0, 1, 2].map((s) => row("mlp-300", s, 0.93));
  assert.equal(lenetHighest([...lenet, ...far])!.verdict, "supported");
  const above = [0, 1, 2].map((s) => row("mlp-1024", s, 0.975));
  const contradicted = lenetHighest([...lenet, ...far, ...above])!;
  assert.equal(contradicted.verdict, "contradicted");
  assert.match(contradicted.reasoning, /mlp-1024 is more accurate/);
  const close = [0, 1, 2].map((s) => row("mlp-512", s, 0.955 + 0.001 * ((s + 1) % 3)));
  const undecided = lenetHighest([...lenet, ...far, ...close])!;
  assert.equal(undecided.verdict, "not decided by this data");
  assert.equal(undecided.comparisons[0].worse, "mlp-512", "the closest competitor first");
  // Rows that are not ok say nothing.
  assert.equal(lenetHighest([...lenet, { ...above[0], status: "skipped: needs ~3 h" }].slice(3)), undefined);
});

Deno.test("two layers beat one: each two-layer MLP meets the one-layer MLP nearest in memory", () => {
  const rows = [
    row("mlp-100", 0, 0.92, 318_040),
    row("mlp-300", 0, 0.93, 954_040),
    row("mlp-100-30", 0, 0.94, 327_360),
    row("mlp-300-100", 0, 0.95, 1_066_440),
  ];
  const conclusion = twoLayersBeatOne(rows)!;
  assert.deepEqual(conclusion.comparisons.map((c) => [c.better, c.worse]), [
    ["mlp-100-30", "mlp-100"],
    ["mlp-300-100", "mlp-300"],
  ]);
  assert.equal(conclusion.verdict, "supported");
  assert.match(conclusion.comparisons[0].pairing!, /^param_bytes 320 KiB vs 311 KiB$/);
  assert.match(
    conclusion.reasoning,
    /ahead by 2\.00 points on average; beyond the interval, 2 favour two layers/,
  );
  const worse = rows.map((r) => r.family === "mlp2" ? { ...r, test_accuracy: r.test_accuracy! - 0.05 } : r);
  assert.equal(twoLayersBeatOne(worse)!.verdict, "contradicted");
  const markdown = conclusionsMarkdown(rows);
  assert.match(markdown, /## At equal memory, two hidden layers beat one by about 1 point: supported/);
  assert.match(markdown, /\| mlp-100-30 \| mlp-100 \| 2\.00 \| /);
});
