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
import { isOurPath, RESULT_PATHS, type ResultPath, type ResultRow } from "./results.ts";

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
  /** The standard deviation of the per-seed differences (null with one seed, where it is unknown). */
  readonly seedSpread: number | null;
  /** The half-width the test images' sampling error alone gives the interval (binomial, 95%). */
  readonly imageHalf: number;
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

/** Two-sided 97.5% quantiles of Student's t for 1 to 10 degrees of freedom. */
const T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
const Z_975 = 1.96;

/**
 * Student's t 97.5% quantile for `df` degrees of freedom: the table to 10, beyond it the Cornish-Fisher
 * expansion in 1/df (within 0.001 of the exact value from 11 on: 2.201 at 11, 2.042 at 30).
 */
export function t975(df: number): number {
  if (df <= T_975.length) return T_975[df - 1];
  const z = Z_975;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3);
}
/** Two models count as having equal memory when one's is within this factor of the other's. */
export const EQUAL_MEMORY_RATIO = 1.5;

/** The rows that carry a model's accuracy: one path's (accuracy is the weights', the same on each path). */
function accuracyRows(rows: readonly ResultRow[]): Map<string, Map<number, ResultRow>> {
  const byModel = new Map<string, Map<number, ResultRow>>();
  const preferred = (row: ResultRow) => row.path === "webgpu" ? 0 : 1;
  for (const row of [...rows].sort((a, b) => preferred(a) - preferred(b))) {
    // Our engine's rows: a peer's accuracy is our checkpoint's again, where it has one.
    if (row.status !== "ok" || row.test_accuracy === null || !isOurPath(row.path)) continue;
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
  const imageHalf = Z_975 * Math.sqrt(sampling(better) + sampling(worse));
  const seedSpread = n >= 2
    ? Math.sqrt(differences.reduce((sum, d) => sum + (d - mean) ** 2, 0) / (n - 1))
    : null;
  const half = intervalHalf(imageHalf, seedSpread, n);
  return { difference: mean, low: mean - half, high: mean + half, seeds: n, seedSpread, imageHalf };
}

/** The 95% half-width with n seeds: the test images' term and, from two seeds on, Student's t over seeds. */
function intervalHalf(imageHalf: number, seedSpread: number | null, n: number): number {
  return seedSpread === null || n < 2
    ? imageHalf
    : Math.hypot(imageHalf, t975(n - 1) * seedSpread / Math.sqrt(n));
}

/** The most seeds seedsToDecide looks for. */
export const MAX_SEEDS_SEARCHED = 1000;

/**
 * How many seeds an undecided comparison's interval would need to exclude zero if the spread of its
 * differences stayed as observed and its mean difference d did not move: the smallest n with
 * sqrt(h_img^2 + (t_{n-1} s / sqrt(n))^2) < |d|, h_img the test images' half-width (which more seeds do not
 * shrink) and s the per-seed differences' standard deviation. "one seed" where s is unknown; Infinity
 * where h_img alone reaches |d| (then no number of seeds decides it; more test images would be needed).
 */
export function seedsToDecide(
  comparison: Pick<Comparison, "difference" | "seeds" | "seedSpread" | "imageHalf">,
): number | "one seed" {
  const target = Math.abs(comparison.difference);
  if (comparison.seedSpread === null) return "one seed";
  if (comparison.imageHalf >= target) return Infinity;
  for (let n = Math.max(2, comparison.seeds); n <= MAX_SEEDS_SEARCHED; n++) {
    if (intervalHalf(comparison.imageHalf, comparison.seedSpread, n) < target) return n;
  }
  return Infinity;
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

/** What seedsToDecide says, in a table cell. */
export function describeSeedsToDecide(comparison: Comparison): string {
  if (verdictOf(comparison) !== "not decided by this data") return "";
  const needed = seedsToDecide(comparison);
  if (needed === "one seed") return "a 2nd seed first (one shows no spread)";
  if (needed === Infinity) return "none suffice (the test images' error alone reaches the difference)";
  return String(needed);
}

export const SEEDS_FORMULA = "Seeds to decide (for an interval that reaches zero): the smallest n with " +
  "sqrt(h_img² + (t_{n-1} · s / √n)²) < |d|, where d is the mean difference, s the standard deviation of " +
  "the per-seed differences observed, t_{n-1} Student's 97.5% quantile and h_img the test images' " +
  "half-width (which more seeds do not shrink); it assumes d and s stay as observed.";

/** The accuracy and time conclusions as Markdown, for the report's conclusions.md and the README. */
export function conclusionsMarkdown(rows: readonly ResultRow[]): string {
  const lines = [
    "# The lab's conclusions, tested",
    "",
    "Accuracy: differences in percentage points (better less worse), mean over the seeds both models have, " +
    "with a 95% interval over seeds (Student's t) and test images (binomial). " + SEEDS_FORMULA,
  ];
  for (const conclusion of [lenetHighest(rows), twoLayersBeatOne(rows)]) {
    if (!conclusion) continue;
    lines.push(
      "",
      `## ${conclusion.claim}: ${conclusion.verdict}`,
      "",
      `${conclusion.reasoning[0].toUpperCase()}${conclusion.reasoning.slice(1)}.`,
      "",
      "| better | worse | difference | 95% interval | seeds | verdict | seeds to decide | paired by |",
      "| --- | --- | ---: | --- | ---: | --- | --- | --- |",
      ...conclusion.comparisons.map((c) =>
        `| ${c.better} | ${c.worse} | ${points(c.difference)} | ${points(c.low)} to ${points(c.high)} | ` +
        `${c.seeds} | ${verdictOf(c)} | ${describeSeedsToDecide(c)} | ${c.pairing ?? ""} |`
      ),
    );
  }
  const time = timeConclusions(rows);
  if (time.length > 0) {
    lines.push(
      "",
      "Time: inference time per batch of 4 on each path that has it, our two paths and PyTorch's as the " +
        "lab ran it; the median with its 10th to 90th percentile, one figure per model (its first seed).",
    );
  }
  for (const conclusion of time) {
    lines.push(
      "",
      `## ${conclusion.claim}, ${conclusion.pathLabel}: ${conclusion.verdict}`,
      "",
      `${conclusion.reasoning[0].toUpperCase()}${conclusion.reasoning.slice(1)}.`,
    );
    if (conclusion.table.rows.length === 0) continue;
    lines.push(
      "",
      `| ${conclusion.table.header.join(" | ")} |`,
      `| ${conclusion.table.header.map(() => "---").join(" | ")} |`,
      ...conclusion.table.rows.map((cells) => `| ${cells.join(" | ")} |`),
    );
  }
  return lines.join("\n") + "\n";
}

// ---------- the conclusions about time ----------

/** A conclusion about inference time on one path: its verdict and the table it follows from. */
export interface TimeConclusion {
  readonly claim: string;
  readonly path: ResultPath;
  readonly pathLabel: string;
  readonly verdict: Verdict;
  readonly reasoning: string;
  readonly table: { header: string[]; rows: string[][] };
}

const PATH_NAMES: Record<ResultPath, string> = {
  cpu: "our CPU path (TypeScript twins)",
  webgpu: "our WebGPU path",
  "pytorch-cpu": "PyTorch on the CPU",
  "pytorch-cuda": "PyTorch on CUDA",
};

/** One timed row per model on a path: its first seed's (the time is the network's, not the seed's). */
function timedRows(rows: readonly ResultRow[], path: ResultPath): Map<string, ResultRow> {
  const byModel = new Map<string, ResultRow>();
  const sorted = [...rows].sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0));
  for (const row of sorted) {
    if (row.path !== path || row.status !== "ok" || !(row.infer_ms_median! > 0)) continue;
    if (!byModel.has(row.model)) byModel.set(row.model, row);
  }
  return byModel;
}

const neurons = (row: ResultRow) => (row.hidden1 ?? 0) + (row.hidden2 ?? 0);
/** The timing's spread: p10 to p90, or the median alone where the row has no percentiles. */
const low = (row: ResultRow) => row.infer_ms_p10 ?? row.infer_ms_median!;
const high = (row: ResultRow) => row.infer_ms_p90 ?? row.infer_ms_median!;

/** Two-sided sign test: the chance of a split at least as uneven as k against m with fair coins. */
export function signTest(k: number, m: number): number {
  const n = k + m;
  if (n === 0) return 1;
  let tail = 0, choose = 1;
  for (let i = 0; i <= Math.min(k, m); i++) {
    tail += choose;
    choose = (choose * (n - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

/**
 * "On the CPU, inference time follows the total number of neurons", on one path. Among the MLPs, the
 * pairs whose neuron count and parameter count order them oppositely (A has more hidden neurons, B more
 * parameters) are the ones that tell the two apart: in each, the time follows the neurons if A is slower
 * beyond the timing's spread (A's p10 above B's p90), the parameters if B is. Supported when the pairs
 * that decide favour the neurons by a two-sided sign test at 5%, contradicted when they favour the
 * parameters so, not decided otherwise (too few such pairs, or the timings overlap).
 */
export function timeFollowsNeurons(rows: readonly ResultRow[], path: ResultPath): TimeConclusion | undefined {
  const mlps = [...timedRows(rows, path).values()].filter((row) => row.family !== "lenet5" && row.parameters);
  if (mlps.length < 2) return undefined;
  let neuronsWin = 0, parametersWin = 0, overlap = 0;
  const table: string[][] = [];
  for (const a of mlps) {
    for (const b of mlps) {
      if (!(neurons(a) > neurons(b) && a.parameters! < b.parameters!)) continue;
      const follows = low(a) > high(b) ? "neurons" : high(a) < low(b) ? "parameters" : "within the spread";
      if (follows === "neurons") neuronsWin++;
      else if (follows === "parameters") parametersWin++;
      else overlap++;
      table.push([
        `${a.model} (${neurons(a)} neurons, ${a.parameters!.toLocaleString("en")} parameters)`,
        `${b.model} (${neurons(b)}, ${b.parameters!.toLocaleString("en")})`,
        `${ms(a)} vs ${ms(b)}`,
        follows,
      ]);
    }
  }
  const p = signTest(neuronsWin, parametersWin);
  const verdict: Verdict = p < 0.05
    ? (neuronsWin > parametersWin ? "supported" : "contradicted")
    : "not decided by this data";
  const slopes = `log-log slope of time on neurons ${fit(mlps, neurons)}, on parameters ${
    fit(mlps, (row) => row.parameters!)
  } over ${mlps.length} MLPs`;
  const reasoning = table.length === 0
    ? `no two MLPs here order neurons and parameters oppositely, so the two cannot be told apart; ${slopes}`
    : `of ${table.length} pairs of MLPs that order neurons and parameters oppositely, the time follows the ` +
      `neurons in ${neuronsWin}, the parameters in ${parametersWin}, and ${overlap} lie within the timing's ` +
      `spread (sign test p = ${p.toPrecision(2)}); ${slopes}`;
  return {
    claim: "On the CPU, inference time follows the total number of neurons",
    path,
    pathLabel: PATH_NAMES[path],
    verdict,
    reasoning,
    table: {
      header: ["more neurons", "more parameters", "ms per batch (p10-p90)", "time follows"],
      rows: table,
    },
  };
}

/** MLPs this small count as "the smaller MLPs" of the lab's time claim: mlp-30 to mlp-300 and mlp-100-30. */
export const SMALL_MLP_NEURONS = 300;
/** "About 10x": within a factor of 2 of it. */
export const ABOUT_TEN = { low: 5, high: 20 } as const;

/**
 * "LeNet-5's inference time is up to about 10 times the smaller MLPs'", on one path: LeNet-5's time over
 * each MLP with at most SMALL_MLP_NEURONS hidden neurons, with its range (LeNet-5's p10 over the MLP's p90
 * to p90 over p10). The largest ratio is the claim's "up to": supported when its range lies within
 * ABOUT_TEN (5x to 20x), contradicted when it lies wholly outside, not decided when it straddles a bound.
 */
export function lenetTimeRatio(rows: readonly ResultRow[], path: ResultPath): TimeConclusion | undefined {
  const timed = timedRows(rows, path);
  const lenet = timed.get("lenet5");
  const small = [...timed.values()].filter((row) =>
    row.family !== "lenet5" && neurons(row) <= SMALL_MLP_NEURONS
  );
  if (!lenet || small.length === 0) return undefined;
  const ratios = small.map((mlp) => ({
    mlp,
    ratio: lenet.infer_ms_median! / mlp.infer_ms_median!,
    low: low(lenet) / high(mlp),
    high: high(lenet) / low(mlp),
  })).sort((a, b) => b.ratio - a.ratio);
  const largest = ratios[0];
  const within = largest.low >= ABOUT_TEN.low && largest.high <= ABOUT_TEN.high;
  const outside = largest.high < ABOUT_TEN.low || largest.low > ABOUT_TEN.high;
  const verdict: Verdict = within ? "supported" : outside ? "contradicted" : "not decided by this data";
  const range = (r: { ratio: number; low: number; high: number }) =>
    `${r.ratio.toFixed(1)}x (${r.low.toFixed(1)}-${r.high.toFixed(1)})`;
  const reasoning =
    `LeNet-5 takes ${ms(lenet)} ms per batch, ${range(largest)} ${largest.mlp.model}'s, the largest ` +
    `ratio to the ${small.length} MLPs of at most ${SMALL_MLP_NEURONS} hidden neurons (the smallest ${
      range(ratios.at(-1)!)
    }, ${ratios.at(-1)!.mlp.model}); "about 10x" is taken as ${ABOUT_TEN.low}x to ${ABOUT_TEN.high}x`;
  return {
    claim: "LeNet-5's inference time is up to about 10 times the smaller MLPs'",
    path,
    pathLabel: PATH_NAMES[path],
    verdict,
    reasoning,
    table: {
      header: ["MLP", "ms per batch (p10-p90)", "LeNet-5's time over it (range)"],
      rows: ratios.map((r) => [r.mlp.model, ms(r.mlp), range(r)]),
    },
  };
}

/** Both time conclusions on every path that has timed rows: "on the CPU" on the CPU paths only. */
export function timeConclusions(rows: readonly ResultRow[]): TimeConclusion[] {
  const paths = RESULT_PATHS.filter((path) => rows.some((row) => row.path === path && row.status === "ok"));
  return [
    ...paths.filter((path) => path === "cpu" || path === "pytorch-cpu").map((path) =>
      timeFollowsNeurons(rows, path)
    ),
    ...paths.map((path) => lenetTimeRatio(rows, path)),
  ].filter((conclusion): conclusion is TimeConclusion => conclusion !== undefined);
}

function ms(row: ResultRow): string {
  const format = (value: number) => value >= 10 ? value.toFixed(1) : value.toPrecision(3);
  return `${format(row.infer_ms_median!)} (${format(low(row))}-${format(high(row))})`;
}

/** The least-squares slope of log time on log x. */
function fit(rows: readonly ResultRow[], x: (row: ResultRow) => number): string {
  const points = rows.map((row) => [Math.log(x(row)), Math.log(row.infer_ms_median!)]);
  const mx = points.reduce((sum, [px]) => sum + px, 0) / points.length;
  const my = points.reduce((sum, [, py]) => sum + py, 0) / points.length;
  const sxy = points.reduce((sum, [px, py]) => sum + (px - mx) * (py - my), 0);
  const sxx = points.reduce((sum, [px]) => sum + (px - mx) ** 2, 0);
  return sxx > 0 ? (sxy / sxx).toFixed(2) : "undefined";
}
