import assert from "node:assert/strict";
import {
  compare,
  conclusionsMarkdown,
  lenetHighest,
  lenetTimeRatio,
  seedsToDecide,
  signTest,
  t975,
  timeConclusions,
  timeFollowsNeurons,
  twoLayersBeatOne,
} from "../../lab/conclusions.ts";
import type { ResultPath, ResultRow } from "../../lab/results.ts";
import { STUDY_MODELS } from "../../lab/study.ts";
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

Deno.test("seeds to decide: the smallest n whose interval at the observed spread excludes zero", () => {
  // By hand: h_img 0.005, s 0.01, |d| 0.012. n = 5: t(4) = 2.776, 2.776 * 0.01 / sqrt(5) = 0.01241, with
  // h_img 0.01338 > 0.012; n = 6: t(5) = 2.571, 0.01050, with h_img 0.01163 < 0.012.
  const comparison = { difference: -0.012, seeds: 3, seedSpread: 0.01, imageHalf: 0.005 };
  assert.equal(seedsToDecide(comparison), 6);
  assert.equal(seedsToDecide({ ...comparison, seedSpread: null, seeds: 1 }), "one seed");
  assert.equal(
    seedsToDecide({ ...comparison, imageHalf: 0.012 }),
    Infinity,
    "the test images alone reach |d|",
  );
  // Beyond the table, the expansion: t(11) = 2.201, t(30) = 2.042.
  assert.ok(Math.abs(t975(11) - 2.201) < 1e-3 && Math.abs(t975(30) - 2.042) < 1e-3);
  assert.equal(t975(2), 4.303);
});

Deno.test("the report gives each undecided comparison the seeds it would need, and the formula", () => {
  // LeNet-5 ahead of mlp-300 by 0.4 points on average, seed by seed 0.2 to 0.6: undecided over 3 seeds.
  const lenet = [0, 1, 2].map((s) => row("lenet5", s, 0.95));
  const mlp = [0.948, 0.946, 0.944].map((accuracy, s) => row("mlp-300", s, accuracy));
  const [comparison] = lenetHighest([...lenet, ...mlp])!.comparisons;
  assert.equal(comparison.low < 0, true, "undecided");
  const needed = seedsToDecide(comparison);
  assert.ok(typeof needed === "number");
  const markdown = conclusionsMarkdown([...lenet, ...mlp]);
  assert.match(markdown, /smallest n with sqrt\(h_img² \+ \(t_\{n-1\} · s \/ √n\)²\) < \|d\|/);
  const line = markdown.split("\n").find((text) => text.startsWith("| lenet5 | mlp-300 |"))!;
  assert.match(line, needed === Infinity ? /none suffice/ : new RegExp(`\\| ${needed} \\|`));
});

/** An MLP's ok row on `path` whose median time is `ms`, within 2% either way. */
function timed(model: string, path: ResultPath, ms: number): ResultRow {
  const hidden = model === "lenet5" ? [] : model.slice(4).split("-").map(Number);
  const family = model === "lenet5" ? "lenet5" : hidden.length === 1 ? "mlp1" : "mlp2";
  return {
    ...syntheticRow(family, hidden, path),
    infer_ms_median: ms,
    infer_ms_p10: ms * 0.98,
    infer_ms_p90: ms * 1.02,
  };
}

/** The study's 30 MLPs: eight of their pairs order neurons and parameters oppositely. */
const MLPS = STUDY_MODELS.filter((model) => model !== "lenet5");

/** Our CPU path's time proportional to one count, PyTorch's CPU time to the other. */
function store(ours: "neurons" | "parameters", torch: "neurons" | "parameters"): ResultRow[] {
  const time = (model: string, path: ResultPath, by: "neurons" | "parameters") => {
    const row = timed(model, path, 1);
    const neurons = (row.hidden1 ?? 0) + (row.hidden2 ?? 0);
    return timed(model, path, by === "neurons" ? neurons * 1e-3 : row.parameters! * 1e-5);
  };
  return MLPS.flatMap((model) => [time(model, "cpu", ours), time(model, "pytorch-cpu", torch)]);
}

Deno.test("time follows the neurons: tested on each CPU path, PyTorch's as well as ours", () => {
  const verdicts = (rows: ResultRow[]) =>
    Object.fromEntries(
      ["cpu", "pytorch-cpu"].map((path) => [path, timeFollowsNeurons(rows, path as ResultPath)!]),
    );
  const agree = verdicts(store("neurons", "neurons"));
  assert.equal(agree.cpu.verdict, "supported");
  assert.equal(agree["pytorch-cpu"].verdict, "supported");
  assert.match(agree.cpu.reasoning, /of 8 pairs .* the time follows the neurons in 7, the parameters in 0/);
  // PyTorch contradicts the claim where its time follows the parameters, whatever our path does.
  const split = verdicts(store("neurons", "parameters"));
  assert.equal(split.cpu.verdict, "supported");
  assert.equal(split["pytorch-cpu"].verdict, "contradicted");
  const swapped = verdicts(store("parameters", "neurons"));
  assert.equal(swapped.cpu.verdict, "contradicted");
  assert.equal(swapped["pytorch-cpu"].verdict, "supported");
  // Timings whose spreads overlap decide nothing.
  const flat = MLPS.map((model) => timed(model, "pytorch-cpu", 0.05));
  assert.equal(timeFollowsNeurons(flat, "pytorch-cpu")!.verdict, "not decided by this data");
  // Both conclusions reach the report for each CPU path; only the ratio for the GPU path.
  const markdown = conclusionsMarkdown(store("neurons", "parameters"));
  assert.match(markdown, /follows the total number of neurons, our CPU path \(TypeScript twins\): supported/);
  assert.match(markdown, /follows the total number of neurons, PyTorch on the CPU: contradicted/);
});

Deno.test("LeNet-5 up to about 10x the small MLPs: tested per path, PyTorch's CPU too", () => {
  const rows = (path: ResultPath, lenetMs: number) => [
    timed("lenet5", path, lenetMs),
    timed("mlp-30", path, 0.1),
    timed("mlp-100", path, 0.2),
    timed("mlp-1024", path, 5), // not a small MLP: left out
  ];
  const on = (path: ResultPath, lenetMs: number) => lenetTimeRatio(rows(path, lenetMs), path)!;
  assert.equal(on("cpu", 1).verdict, "supported", "10x mlp-30");
  assert.equal(on("pytorch-cpu", 5).verdict, "contradicted", "50x mlp-30: far beyond about 10x");
  assert.equal(on("pytorch-cpu", 0.3).verdict, "contradicted", "3x: well short of it");
  assert.equal(on("pytorch-cpu", 2).verdict, "not decided by this data", "20x: on the bound");
  assert.deepEqual(on("cpu", 1).table.rows.map(([model]) => model), ["mlp-30", "mlp-100"]);
  const both = timeConclusions([...rows("cpu", 1), ...rows("pytorch-cpu", 5), ...rows("webgpu", 1)]);
  assert.deepEqual(
    both.filter((c) => c.claim.startsWith("LeNet-5")).map((c) => [c.path, c.verdict]),
    [["cpu", "supported"], ["webgpu", "supported"], ["pytorch-cpu", "contradicted"]],
  );
});

Deno.test("the sign test: a 6-0 split is significant at 5%, a 5-0 split is not", () => {
  assert.ok(Math.abs(signTest(6, 0) - 2 / 64) < 1e-12);
  assert.ok(signTest(5, 0) > 0.05);
  assert.equal(signTest(0, 0), 1);
  assert.equal(signTest(3, 3), 1);
});
