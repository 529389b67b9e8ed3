/**
 * What the study's figures share: the plotted point (a results row in the units the axes show), the
 * families' and paths' labels and colours, the accuracy and model axes, fonts and panel headers.
 */
import type { Family, ResultPath } from "../results.ts";
import type { SeedSummary } from "../seeds.ts";

export const FAMILY_LABELS: Record<Family, string> = {
  lenet5: "LeNet-5",
  mlp1: "MLP, one hidden layer",
  mlp2: "MLP, two hidden layers",
};

export const PATH_LABELS: Record<ResultPath, string> = {
  cpu: "CPU",
  webgpu: "WebGPU",
  "pytorch-cpu": "PyTorch CPU",
  "pytorch-cuda": "PyTorch CUDA",
};

/** The peers' labels: their series are drawn beside ours. */
export const PEER_LABELS: ReadonlySet<string> = new Set([
  PATH_LABELS["pytorch-cpu"],
  PATH_LABELS["pytorch-cuda"],
]);

/** One plotted row: the columns a figure reads, in the units its axes show. */
export interface Point {
  /** The spread over seeds, where a model has several that differ (null otherwise). */
  accuracyMin: number | null;
  accuracyMax: number | null;
  model: string;
  family: string;
  path: string;
  parameters: number;
  accuracy: number | null;
  inferMs: number | null;
  inferMsP10: number | null;
  inferMsP90: number | null;
  streamedMs: number | null;
  streamedMsP10: number | null;
  streamedMsP90: number | null;
  latencyMs: number | null;
  latencyMsP10: number | null;
  latencyMsP90: number | null;
  opBytes: number | null;
  paramBytes: number | null;
  allocatedBytes: number | null;
  measuredBytes: number | null;
  peakTrainBytes: number | null;
}

export function toPoint({ row, accuracyMin, accuracyMax }: SeedSummary): Point {
  return {
    accuracyMin: accuracyMin !== accuracyMax ? accuracyMin : null,
    accuracyMax: accuracyMin !== accuracyMax ? accuracyMax : null,
    model: row.model,
    family: FAMILY_LABELS[row.family],
    path: PATH_LABELS[row.path],
    parameters: row.parameters ?? 0,
    accuracy: row.test_accuracy,
    inferMs: row.infer_ms_median,
    inferMsP10: row.infer_ms_p10,
    inferMsP90: row.infer_ms_p90,
    streamedMs: row.streamed_ms_median,
    streamedMsP10: row.streamed_ms_p10,
    streamedMsP90: row.streamed_ms_p90,
    latencyMs: row.latency_ms_median,
    latencyMsP10: row.latency_ms_p10,
    latencyMsP90: row.latency_ms_p90,
    opBytes: row.op_bytes,
    paramBytes: row.param_bytes,
    allocatedBytes: row.allocated_bytes,
    measuredBytes: row.measured_bytes,
    peakTrainBytes: row.peak_train_bytes,
  };
}

export const FAMILY_SCALE = {
  domain: Object.values(FAMILY_LABELS),
  range: ["#d62728", "#1f77b4", "#2ca02c"],
};

export const PATH_COLOR = {
  field: "path",
  type: "nominal",
  title: "Execution path",
  scale: { domain: Object.values(PATH_LABELS), range: ["#7f7f7f", "#ff7f0e", "#9467bd", "#8c564b"] },
} as const;

export const ACCURACY_AXIS = { title: "Test accuracy", format: ".1%" };

export const PANEL_HEADER = {
  labelOrient: "top",
  labelAnchor: "start",
  labelFontSize: 13,
  labelFontWeight: "bold",
} as const;

export const CONFIG = {
  font: "sans-serif",
  title: { fontSize: 15, subtitleFontSize: 11, offset: 12 },
  axis: { titleFontSize: 12 },
  legend: { labelLimit: 400 },
};

/** Models down the side, labels horizontal and legible at README width. */
export function modelAxisY(modelOrder: string[]) {
  return {
    field: "model",
    type: "nominal",
    sort: modelOrder,
    title: "Model (by number of parameters)",
    axis: { labelFontSize: 11, labelPadding: 4 },
  } as const;
}

export function modelAxis(modelOrder: string[]) {
  return {
    field: "model",
    type: "nominal",
    sort: modelOrder,
    title: "Model (sorted by number of parameters)",
    axis: { labelAngle: -60, labelFontSize: 9 },
  } as const;
}

/** Every accuracy a figure draws: each point's mean and the ends of its seed bar. */
export function accuracyValues(points: readonly Point[]): number[] {
  return points.flatMap((point) =>
    [point.accuracy, point.accuracyMin, point.accuracyMax].filter((v): v is number => v !== null)
  );
}

export function distinct(values: string[]): string {
  const unique = [...new Set(values.filter((value) => value !== ""))];
  return unique.length === 0 ? "none" : unique.join("; ");
}
