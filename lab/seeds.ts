/**
 * Rows of one model and path trained with several seeds, folded into one: the mean accuracy with its
 * spread (min to max) and the seeds it covers. Every other figure is the model's, not the seed's (the
 * same architecture has the same memory and, up to noise, the same time): taken from the first seed.
 */
import type { ResultRow } from "./results.ts";

export interface SeedSummary {
  /** The first seed's row, its test_accuracy replaced by the mean over seeds. */
  readonly row: ResultRow;
  readonly seeds: readonly number[];
  readonly accuracyMin: number | null;
  readonly accuracyMax: number | null;
}

/** One summary per model and path of the `ok` rows, in the order the models first appear. */
export function summariseSeeds(rows: readonly ResultRow[]): SeedSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const row of rows) {
    if (row.status !== "ok") continue;
    const key = `${row.model}|${row.path}`;
    groups.set(key, [...groups.get(key) ?? [], row]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0));
    const accuracies = sorted.map((row) => row.test_accuracy).filter((a): a is number => a !== null);
    const mean = accuracies.length === 0 ? null : accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
    return {
      row: { ...sorted[0], test_accuracy: mean },
      seeds: sorted.map((row) => row.seed ?? 0),
      accuracyMin: accuracies.length === 0 ? null : Math.min(...accuracies),
      accuracyMax: accuracies.length === 0 ? null : Math.max(...accuracies),
    };
  });
}

/** "0-2", "0,3,5" or "0": the seeds a figure or table covers. */
export function describeSeeds(seeds: readonly number[]): string {
  const sorted = [...new Set(seeds)].sort((a, b) => a - b);
  const contiguous = sorted.every((seed, i) => i === 0 || seed === sorted[i - 1] + 1);
  return contiguous && sorted.length > 2 ? `${sorted[0]}-${sorted.at(-1)}` : sorted.join(",");
}
