/**
 * The compression study's figures, Vega-Lite specs as the float study's (lab/figures/): accuracy against
 * bits (one line per method), against sparsity (magnitude vs random, with and without retraining), and
 * against stored bytes beside the float study's models.
 */
import type { TopLevelSpec } from "vega-lite";
import type { Figure } from "../figures/specs.ts";
import { ACCURACY_AXIS, CONFIG } from "../figures/style.ts";
import type { CompressRow } from "./study.ts";

const SIZE = { width: 260, height: 200 };

/** One row per model and key: the first path's (accuracy is the weights', the same on each path). */
function onePath(rows: readonly CompressRow[]): CompressRow[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const id = `${row.model}/${row.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function subtitle(rows: readonly CompressRow[]): string[] {
  const images = [...new Set(rows.map((row) => row.test_images))].join(", ");
  return [
    `test accuracy on ${images} MNIST test images; float32 models from the study's 20-epoch checkpoints`,
  ];
}

/** Lines of accuracy against `encoding.x`, one per `encoding.color`, a panel per model. */
function facetedLines(
  title: string,
  rows: readonly CompressRow[],
  points: readonly Record<string, unknown>[],
  encoding: { x: Record<string, unknown>; color: Record<string, unknown> },
): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: title, subtitle: subtitle(rows) },
    data: { values: points },
    facet: { field: "model", type: "nominal", title: null },
    columns: 3,
    spec: {
      ...SIZE,
      mark: { type: "line", point: true },
      encoding: {
        ...encoding,
        y: { field: "accuracy", type: "quantitative", ...ACCURACY_AXIS, scale: { zero: false } },
      },
    },
    resolve: { scale: { y: "independent" } },
    config: CONFIG,
  } as TopLevelSpec;
}

/** Accuracy against bits per weight, a line per quantization method, a panel per model. */
export function bitsSpec(rows: readonly CompressRow[]): TopLevelSpec {
  const points = onePath(rows).filter((row) => row.method !== "pruned" && row.qat_epochs === 0).map((
    row,
  ) => ({
    model: row.model,
    bits: row.bits,
    accuracy: row.test_accuracy,
    method: row.method === "float"
      ? "float32"
      : row.format.startsWith("q") || row.format.startsWith("u") || row.format === "f16"
      ? "stored as Qm.n / uint / f16"
      : `${row.method}${row.per_channel ? " per-channel" : ""}`,
  }));
  return facetedLines("Accuracy against bits per stored weight", rows, points, {
    x: {
      field: "bits",
      type: "quantitative",
      scale: { type: "log", base: 2 },
      title: "bits per weight (log)",
    },
    color: { field: "method", type: "nominal", title: "method" },
  });
}

/** Accuracy against sparsity: magnitude vs random, with and without retraining, a panel per model. */
export function sparsitySpec(rows: readonly CompressRow[]): TopLevelSpec {
  const floats = onePath(rows).filter((row) => row.method === "float");
  const pruned = onePath(rows).filter((row) => row.method === "pruned");
  const variants = [
    ...new Set(pruned.map((row) => `${row.prune_method}, ${row.retrain_epochs} retraining epoch(s)`)),
  ];
  const points = [
    ...pruned.map((row) => ({
      model: row.model,
      sparsity: row.sparsity,
      accuracy: row.test_accuracy,
      variant: `${row.prune_method}, ${row.retrain_epochs} retraining epoch(s)`,
    })),
    // Every line starts at the float model (sparsity 0).
    ...floats.flatMap((row) =>
      variants.map((variant) => ({ model: row.model, sparsity: 0, accuracy: row.test_accuracy, variant }))
    ),
  ];
  return facetedLines("Accuracy against sparsity (unstructured pruning)", rows, points, {
    x: { field: "sparsity", type: "quantitative", axis: { format: "%" }, title: "weights pruned" },
    color: { field: "variant", type: "nominal", title: "pruning" },
  });
}

/** A float study row: a model's accuracy and float32 parameter bytes. */
export interface FloatStudyPoint {
  readonly model: string;
  readonly test_accuracy: number;
  readonly param_bytes: number;
}

/** Accuracy against stored bytes: every compressed model beside the float study's models. */
export function bytesSpec(
  rows: readonly CompressRow[],
  floatStudy: readonly FloatStudyPoint[],
): TopLevelSpec {
  const points = [
    ...onePath(rows).filter((row) => row.method !== "float").map((row) => ({
      model: row.model,
      bytes: row.parameter_bytes,
      accuracy: row.test_accuracy,
      kind: row.method === "pruned" ? "pruned (sparse encoding)" : "quantized",
    })),
    ...floatStudy.map((row) => ({
      model: row.model,
      bytes: row.param_bytes,
      accuracy: row.test_accuracy,
      kind: "float32 (the study's models)",
    })),
  ].filter((point) => point.accuracy > 0.8);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: "Accuracy against stored parameter bytes",
      subtitle: [...subtitle(rows), "points below 80% accuracy left out"],
    },
    data: { values: points },
    width: 640,
    height: 420,
    mark: { type: "point", filled: true, size: 50, opacity: 0.8 },
    encoding: {
      x: {
        field: "bytes",
        type: "quantitative",
        scale: { type: "log" },
        axis: { format: "~s" },
        title: "parameter bytes (log)",
      },
      y: { field: "accuracy", type: "quantitative", ...ACCURACY_AXIS, scale: { zero: false } },
      color: { field: "kind", type: "nominal", title: null },
      shape: { field: "model", type: "nominal" },
      tooltip: [{ field: "model" }, { field: "bytes" }, { field: "accuracy" }],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** The three figures, named as their files are. */
export function compressFigures(
  rows: readonly CompressRow[],
  floatStudy: readonly FloatStudyPoint[],
): Figure[] {
  return [
    { name: "accuracy_vs_bits", spec: bitsSpec(rows) },
    { name: "accuracy_vs_sparsity", spec: sparsitySpec(rows) },
    { name: "accuracy_vs_bytes", spec: bytesSpec(rows, floatStudy) },
  ];
}
