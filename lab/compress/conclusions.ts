/**
 * The compression study's conclusions, tested on its rows as lab/conclusions.ts tests the float study's:
 * each states what it compares and a verdict, "not decided by this data" where the rows are missing.
 */
import type { Verdict } from "../conclusions.ts";
import type { CompressRow } from "./study.ts";

/** A claim about the compression rows and whether they bear it out. */
export interface CompressConclusion {
  readonly claim: string;
  readonly verdict: Verdict;
  /** The figures the verdict follows from, in one sentence. */
  readonly reasoning: string;
}

/** int8 static may cost LeNet-5 at most this much accuracy (0.3 points). */
export const INT8_LENET_BUDGET = 0.003;
/** A pruned model counts as faster when its median time per batch is below this share of the float model's. */
export const FASTER_RATIO = 0.8;

const points = (x: number) => `${(100 * x).toFixed(2)} points`;

function find(
  rows: readonly CompressRow[],
  model: string,
  key: string,
  path?: string,
): CompressRow | undefined {
  return rows.find((row) =>
    row.model === model && row.key === key && (path === undefined || row.path === path)
  );
}

/** "int8 static costs LeNet-5 less than 0.3 points." */
export function int8CostsLenetLittle(rows: readonly CompressRow[]): CompressConclusion {
  const claim = `int8 static quantization costs LeNet-5 less than ${
    points(INT8_LENET_BUDGET)
  } of test accuracy`;
  const float = find(rows, "lenet5", "float"),
    int8 = float && find(rows, "lenet5", "int8-static", float.path);
  if (!float || !int8) {
    return { claim, verdict: "not decided by this data", reasoning: "no LeNet-5 int8 static row" };
  }
  const cost = float.test_accuracy - int8.test_accuracy;
  return {
    claim,
    verdict: cost < INT8_LENET_BUDGET ? "supported" : "contradicted",
    reasoning: `on ${int8.test_images} test images, float32 ${float.test_accuracy.toFixed(4)}, int8 static ${
      int8.test_accuracy.toFixed(4)
    }: a cost of ${points(cost)}`,
  };
}

/** "Pruned models are not faster": every pruned row's time per batch against its float model's on the same path. */
export function prunedNotFaster(rows: readonly CompressRow[]): CompressConclusion {
  const claim = `pruned models are not faster: no pruned model runs a batch in less than ${
    FASTER_RATIO * 100
  }% of its float model's time`;
  const ratios: { row: CompressRow; ratio: number }[] = [];
  for (const row of rows) {
    if (row.method !== "pruned" || row.ms_per_batch === null) continue;
    const float = find(rows, row.model, "float", row.path);
    if (float?.ms_per_batch) ratios.push({ row, ratio: row.ms_per_batch / float.ms_per_batch });
  }
  if (ratios.length === 0) {
    return { claim, verdict: "not decided by this data", reasoning: "no timed pruned row" };
  }
  const fastest = ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  return {
    claim,
    verdict: fastest.ratio >= FASTER_RATIO ? "supported" : "contradicted",
    reasoning:
      `over ${ratios.length} timed pruned rows the fastest, ${fastest.row.model} ${fastest.row.key} on ${fastest.row.path}, took ${
        (100 * fastest.ratio).toFixed(0)
      }% of its float model's time per batch (same clock, same path)`,
  };
}

/** "At 90% sparsity without retraining, magnitude pruning keeps more accuracy than random pruning" on every model. */
export function magnitudeBeatsRandom(rows: readonly CompressRow[]): CompressConclusion {
  const claim =
    "at 90% sparsity without retraining, magnitude pruning keeps more accuracy than random pruning, " +
    "on every model";
  const pairs = [...new Set(rows.map((row) => row.model))].flatMap((model) => {
    const magnitude = find(rows, model, "prune-magnitude-0.9-retrain0");
    const random = magnitude && find(rows, model, "prune-random-0.9-retrain0", magnitude.path);
    return magnitude && random ? [{ model, gap: magnitude.test_accuracy - random.test_accuracy }] : [];
  });
  if (pairs.length === 0) {
    return { claim, verdict: "not decided by this data", reasoning: "no 90% pruning rows" };
  }
  const smallest = pairs.reduce((a, b) => (b.gap < a.gap ? b : a));
  return {
    claim,
    verdict: smallest.gap > 0 ? "supported" : "contradicted",
    reasoning: `over ${pairs.length} model(s), the smallest gap (magnitude less random) is ${
      points(smallest.gap)
    } (${smallest.model})`,
  };
}

/** Every conclusion, in the order the doc gives them. */
export function compressConclusions(rows: readonly CompressRow[]): CompressConclusion[] {
  return [int8CostsLenetLittle(rows), prunedNotFaster(rows), magnitudeBeatsRandom(rows)];
}

/** The conclusions as Markdown. */
export function compressConclusionsMarkdown(rows: readonly CompressRow[]): string {
  const lines = compressConclusions(rows).map((c) => `- **${c.claim}**: ${c.verdict}. ${c.reasoning}.`);
  return `# Conclusions of the compression study\n\n${lines.join("\n")}\n`;
}
