/**
 * The lab's conclusions about accuracy, tested on the sweep's rows instead of eyeballed: each states the
 * pairs it compares, the difference with a 95% interval over seeds and test images, and a verdict.
 *
 * A pair's difference is taken seed by seed over the seeds both models have (the same seed gives both
 * the same shuffling), so the seed spread is that of the difference. The interval combines that spread
 * (Student's t over the seeds, when there are two or more) with the sampling error of each accuracy on
 * a finite test set (binomial, normal approximation); with one seed only the test-set term is known,
 * and the verdict says so.
 */
import type { ResultRow } from "./results.ts";

export type Verdict = "supported" | "contradicted" | "not decided by this data";

export interface Comparison {
  /** The model expected to be better, and the one it is compared with. */
  readonly better: string;
  readonly worse: string;
  /** Mean over the common seeds of better's accuracy less worse's, and its 95% interval. */
  readonly difference: number;
  readonly low: number;
  readonly high: number;
  readonly seeds: number;
  /** Why these two were paired, e.g. "param_bytes 318 KiB vs 327 KiB". */
  readonly pairing?: string;
}

export interface Conclusion {
  readonly claim: string;
  readonly comparisons: readonly Comparison[];
  readonly verdict: Verdict;
  /** How the verdict follows from the comparisons, in one sentence. */
  readonly reasoning: string;
}

/** Two-sided 97.5% quantiles of Student's t for 1 to 10 degrees of freedom; 1.96 beyond. */
const T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
const Z_975 = 1.96;
/** Two models count as having equal memory when one's is within this factor of the other's. */
export const EQUAL_MEMORY_RATIO = 1.5;

/** The rows that carry a model's accuracy: one path's (accuracy is the weights', the same on each path). */
function accuracyRows(rows: readonly ResultRow[]): Map<string, Map<number, ResultRow>> {
  const byModel = new Map<string, Map<number, ResultRow>>();
  const preferred = (row: ResultRow) => row.path === "webgpu" ? 0 : 1;
  for (const row of [...rows].sort((a, b) => preferred(a) - preferred(b))) {
    if (row.status !== "ok" || row.test_accuracy === null) continue;
    const seeds = byModel.get(row.model) ?? new Map<number, ResultRow>();
    if (!seeds.has(row.seed ?? 0)) seeds.set(row.seed ?? 0, row);
    byModel.set(row.model, seeds);
  }
  return byModel;
}

/** better - worse over their common seeds, with its 95% interval; undefined when they share no seed. */
export function compare(
  better: ReadonlyMap<number, ResultRow>,
  worse: ReadonlyMap<number, ResultRow>,
): Omit<Comparison, "better" | "worse"> | undefined {
  const seeds = [...better.keys()].filter((seed) => worse.has(seed));
  const n = seeds.length;
  if (n === 0) return undefined;
  const differences = seeds.map((s) => better.get(s)!.test_accuracy! - worse.get(s)!.test_accuracy!);
  const mean = differences.reduce((a, b) => a + b, 0) / n;
  const sampling = (rows: ReadonlyMap<number, ResultRow>) => {
    const values = seeds.map((s) => rows.get(s)!);
    const p = values.reduce((sum, row) => sum + row.test_accuracy!, 0) / n;
    const images = Math.min(...values.map((row) => row.test_images ?? 10000));
    return (p * (1 - p)) / images;
  };
  let half = Z_975 * Math.sqrt(sampling(better) + sampling(worse));
  if (n >= 2) {
    const variance = differences.reduce((sum, d) => sum + (d - mean) ** 2, 0) / (n - 1);
    const seedHalf = (T_975[n - 2] ?? Z_975) * Math.sqrt(variance / n);
    half = Math.hypot(half, seedHalf);
  }
  return { difference: mean, low: mean - half, high: mean + half, seeds: n };
}

function verdictOf(comparison: Pick<Comparison, "low" | "high">): Verdict {
  if (comparison.low > 0) return "supported";
  if (comparison.high < 0) return "contradicted";
  return "not decided by this data";
}

/** The lab's first conclusion: LeNet-5 is more accurate than every MLP. */
export function lenetHighest(rows: readonly ResultRow[]): Conclusion | undefined {
  const byModel = accuracyRows(rows);
  const lenet = byModel.get("lenet5");
  if (!lenet) return undefined;
  const comparisons: Comparison[] = [];
  for (const [model, seeds] of byModel) {
    if (model === "lenet5") continue;
    const result = compare(lenet, seeds);
    if (result) comparisons.push({ better: "lenet5", worse: model, ...result });
  }
  if (comparisons.length === 0) return undefined;
  comparisons.sort((a, b) => a.difference - b.difference);
  const verdicts = comparisons.map(verdictOf);
  const closest = comparisons[0];
  let verdict: Verdict, reasoning: string;
  if (verdicts.includes("contradicted")) {
    const beaten = comparisons.filter((c) => verdictOf(c) === "contradicted").map((c) => c.worse);
    verdict = "contradicted";
    reasoning = `${beaten.join(", ")} ${beaten.length === 1 ? "is" : "are"} more accurate than LeNet-5 ` +
      `beyond the interval`;
  } else if (verdicts.every((v) => v === "supported")) {
    verdict = "supported";
    reasoning = `LeNet-5 is ahead of all ${comparisons.length} MLPs beyond the interval; the closest is ` +
      `${closest.worse} (${points(closest.difference)} points)`;
  } else {
    verdict = "not decided by this data";
    const open = comparisons.filter((c) => verdictOf(c) !== "supported").map((c) => c.worse);
    reasoning = `LeNet-5 is not ahead of ${open.join(", ")} beyond the interval`;
  }
  return { claim: "LeNet-5 has the highest test accuracy", comparisons, verdict, reasoning };
}

/**
 * The lab's second conclusion: at equal memory, two hidden layers beat one by about 1 point. Each
 * two-layer MLP is paired with the one-layer MLP nearest to it in memory (op_bytes, the lab's measure,
 * where the rows have it; else param_bytes, and the pairing says so), if within EQUAL_MEMORY_RATIO.
 */
export function twoLayersBeatOne(rows: readonly ResultRow[]): Conclusion | undefined {
  const byModel = accuracyRows(rows);
  const memoryField = rows.some((row) => typeof (row as { op_bytes?: unknown }).op_bytes === "number")
    ? "op_bytes"
    : "param_bytes";
  const memoryOf = (seeds: ReadonlyMap<number, ResultRow>) =>
    (seeds.values().next().value as Record<string, unknown>)[memoryField] as number | null;
  const one = [...byModel].filter(([, seeds]) => seeds.values().next().value!.family === "mlp1");
  const two = [...byModel].filter(([, seeds]) => seeds.values().next().value!.family === "mlp2");
  const comparisons: Comparison[] = [];
  for (const [model, seeds] of two) {
    const memory = memoryOf(seeds);
    if (memory == null) continue;
    const nearest = one
      .filter(([, other]) => memoryOf(other) != null)
      .sort(([, a], [, b]) =>
        Math.abs(Math.log(memoryOf(a)! / memory)) - Math.abs(Math.log(memoryOf(b)! / memory))
      )[0];
    // Memories more than half again apart are not "equal memory": such a model has no partner.
    if (!nearest || Math.abs(Math.log(memoryOf(nearest[1])! / memory)) > Math.log(EQUAL_MEMORY_RATIO)) {
      continue;
    }
    const result = compare(seeds, nearest[1]);
    if (!result) continue;
    comparisons.push({
      better: model,
      worse: nearest[0],
      ...result,
      pairing: `${memoryField} ${kib(memory)} vs ${kib(memoryOf(nearest[1])!)}`,
    });
  }
  if (comparisons.length === 0) return undefined;
  const mean = comparisons.reduce((sum, c) => sum + c.difference, 0) / comparisons.length;
  const supported = comparisons.filter((c) => verdictOf(c) === "supported").length;
  const contradicted = comparisons.filter((c) => verdictOf(c) === "contradicted").length;
  const verdict: Verdict = supported > 0 && contradicted === 0 && supported === comparisons.length
    ? "supported"
    : contradicted > 0 && supported === 0 && contradicted === comparisons.length
    ? "contradicted"
    : "not decided by this data";
  const aboutOne = comparisons.filter((c) => c.low <= 0.01 && 0.01 <= c.high).length;
  const n = comparisons.length;
  const reasoning =
    `over ${n} pair${n === 1 ? "" : "s"} the two-layer MLP is ahead by ${points(mean)} points ` +
    `on average; beyond the interval, ${supported} favour${supported === 1 ? "s" : ""} two layers and ` +
    `${contradicted} one layer; ${aboutOne} of the ${n} intervals contain the lab's 1 point; paired by ${memoryField}`;
  return {
    claim: "At equal memory, two hidden layers beat one by about 1 point",
    comparisons,
    verdict,
    reasoning,
  };
}

function points(fraction: number): string {
  return (100 * fraction).toFixed(2);
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** Both accuracy conclusions as Markdown, for the report's conclusions.md and the README. */
export function conclusionsMarkdown(rows: readonly ResultRow[]): string {
  const lines = [
    "# The lab's accuracy conclusions, tested",
    "",
    "Differences in percentage points (better less worse), mean over the seeds both models have, with a 95% " +
    "interval over seeds (Student's t) and test images (binomial).",
  ];
  for (const conclusion of [lenetHighest(rows), twoLayersBeatOne(rows)]) {
    if (!conclusion) continue;
    lines.push(
      "",
      `## ${conclusion.claim}: ${conclusion.verdict}`,
      "",
      `${conclusion.reasoning[0].toUpperCase()}${conclusion.reasoning.slice(1)}.`,
      "",
      "| better | worse | difference | 95% interval | seeds | verdict | paired by |",
      "| --- | --- | ---: | --- | ---: | --- | --- |",
      ...conclusion.comparisons.map((c) =>
        `| ${c.better} | ${c.worse} | ${points(c.difference)} | ${points(c.low)} to ${points(c.high)} | ` +
        `${c.seeds} | ${verdictOf(c)} | ${c.pairing ?? ""} |`
      ),
    );
  }
  return lines.join("\n") + "\n";
}
