/** Figures 7 to 9: per model, its accuracy, its inference time by three clocks, and its memory by five measures. */
import type { TopLevelSpec } from "vega-lite";
import {
  ACCURACY_AXIS,
  accuracyValues,
  CONFIG,
  FAMILY_SCALE,
  modelAxis,
  modelAxisY,
  PANEL_HEADER,
  PATH_COLOR,
  PATH_LABELS,
  PEER_LABELS,
  type Point,
} from "./style.ts";

export function accuracyBarsSpec(points: Point[], modelOrder: string[], subtitle: string[]): TopLevelSpec {
  const accuracies = accuracyValues(points);
  // Bars from zero would hide differences of a tenth of a point: the axis spans the accuracies with a
  // step of margin (1 point where they lie within 10 points, as after 20 epochs; else 5), and its title
  // says where it starts.
  const low = Math.min(...accuracies), high = Math.max(...accuracies);
  const step = high - low < 0.1 ? 0.01 : 0.05;
  const floor = Math.max(0, Math.floor(low / step) * step - step);
  const ceiling = Math.min(1, Math.ceil(high / step) * step + step);
  return {
    title: { text: "Test accuracy per model, CPU and WebGPU paths", subtitle },
    data: { values: points.filter((point) => point.accuracy !== null) },
    facet: { row: { field: "path", type: "nominal", title: null, header: PANEL_HEADER } },
    spec: {
      width: 1000,
      height: 200,
      encoding: { x: modelAxis(modelOrder) },
      layer: [
        {
          mark: { type: "bar", clip: true },
          encoding: {
            y: {
              field: "accuracy",
              type: "quantitative",
              scale: { domain: [floor, ceiling] },
              axis: { ...ACCURACY_AXIS, title: `Test accuracy (axis starts at ${Math.round(floor * 100)}%)` },
            },
            color: { field: "family", type: "nominal", title: "Model family", scale: FAMILY_SCALE },
          },
        },
        {
          // The spread over seeds: min to max.
          mark: { type: "rule", strokeWidth: 1.5, color: "#222222", clip: true },
          transform: [{ filter: "isValid(datum.accuracyMin) && isValid(datum.accuracyMax)" }],
          encoding: {
            y: { field: "accuracyMin", type: "quantitative" },
            y2: { field: "accuracyMax" },
          },
        },
      ],
    },
    config: CONFIG,
  };
}

/** The three clocks, as figure 8 names them. */
const CLOCK_LABELS = {
  kernel: "Kernel (the study's figure)",
  streamed: "Streamed, per batch",
  latency: "One batch with readback",
} as const;

/** Rows of models, one panel per path, each clock a point at its median with a p10-p90 whisker. */
export function inferenceTimeSpec(
  points: Point[],
  modelOrder: string[],
  subtitle: string[],
  clocks: string[],
): TopLevelSpec {
  const values = points.flatMap((point) =>
    ([
      ["kernel", point.inferMs, point.inferMsP10, point.inferMsP90],
      ["streamed", point.streamedMs, point.streamedMsP10, point.streamedMsP90],
      ["latency", point.latencyMs, point.latencyMsP10, point.latencyMsP90],
    ] as const).flatMap(([clock, median, p10, p90]) =>
      // A peer's figure is its one-batch wall time: its latency point would repeat it.
      median === null || median <= 0 || (clock === "latency" && PEER_LABELS.has(point.path))
        ? []
        : [{ model: point.model, path: point.path, clock: CLOCK_LABELS[clock], median, p10, p90 }]
    )
  );
  const x = { type: "quantitative", scale: { type: "log" } } as const;
  const color = {
    field: "clock",
    type: "nominal",
    title: "Clock",
    scale: { domain: Object.values(CLOCK_LABELS), range: ["#1f77b4", "#2ca02c", "#d62728"] },
  } as const;
  return {
    title: {
      text: "Inference time per batch of 4, per model, three clocks",
      subtitle: [
        ...subtitle,
        "Point: median; whisker: 10th to 90th percentile",
        ...clocks,
        "Streamed: batches back to back, one readback per chunk",
        "One batch with readback: a batch run and its logits read back",
      ],
    },
    data: { values },
    facet: { column: { field: "path", type: "nominal", title: null, header: PANEL_HEADER } },
    spec: {
      width: 300,
      height: 15 * modelOrder.length,
      encoding: {
        y: modelAxisY(modelOrder),
        yOffset: { field: "clock", type: "nominal", sort: Object.values(CLOCK_LABELS) },
        color,
      },
      layer: [
        {
          mark: { type: "rule", strokeWidth: 1.5 },
          transform: [{ filter: "isValid(datum.p10) && isValid(datum.p90) && datum.p10 > 0" }],
          encoding: { x: { ...x, field: "p10" }, x2: { field: "p90" } },
        },
        {
          mark: { type: "point", filled: true, size: 30 },
          encoding: { x: { ...x, field: "median", title: "ms per batch (log scale)" } },
        },
      ],
    },
    config: { ...CONFIG, legend: { ...CONFIG.legend, orient: "bottom" } },
  };
}

/** The memory measures of figure 9, as their panels name them; op_bytes and param_bytes are the network's. */
const MEMORY_MEASURES = {
  opBytes: "op_bytes (the lab's)",
  paramBytes: "param_bytes",
  allocatedBytes: "allocated_bytes",
  measuredBytes: "measured_bytes (OS)",
  peakTrainBytes: "peak_train_bytes",
} as const;

const BOTH_PATHS = "Both paths (the network's)";

/** One panel per measure, rows of models, a point per path (one for measures of the network alone). */
export function memorySpec(points: Point[], modelOrder: string[], subtitle: string[]): TopLevelSpec {
  const values = points.flatMap((point) =>
    (Object.keys(MEMORY_MEASURES) as (keyof typeof MEMORY_MEASURES)[]).flatMap((measure) => {
      const bytes = point[measure];
      const network = measure === "opBytes" || measure === "paramBytes";
      if (
        bytes === null || bytes <= 0 ||
        (network && point.path !== PATH_LABELS.cpu && hasCpuRow(points, point))
      ) {
        return [];
      }
      return [{
        model: point.model,
        path: network ? BOTH_PATHS : point.path,
        measure: MEMORY_MEASURES[measure],
        bytes,
      }];
    })
  );
  return {
    title: {
      text: "Memory per model, four measures and the training peak, CPU and WebGPU paths",
      subtitle: [
        ...subtitle,
        "op_bytes: what the operators of one batch of 4 allocate, as PyTorch's profiler counts; param_bytes: the parameters",
        "allocated_bytes: all the backend allocated (ledger); measured_bytes: a fresh process's RSS growth",
        "peak_train_bytes: the ledger's peak while training (batch 4). Bytes on log axes, each panel its own",
      ],
    },
    data: { values },
    facet: {
      field: "measure",
      type: "nominal",
      title: null,
      sort: Object.values(MEMORY_MEASURES),
      header: PANEL_HEADER,
    },
    columns: 3,
    resolve: { scale: { x: "independent" } },
    spec: {
      width: 230,
      height: 14 * modelOrder.length,
      mark: { type: "point", filled: true, size: 30, opacity: 0.85 },
      encoding: {
        y: modelAxisY(modelOrder),
        yOffset: { field: "path", type: "nominal" },
        x: {
          field: "bytes",
          type: "quantitative",
          scale: { type: "log" },
          axis: { format: "~s" },
          title: "bytes (log scale)",
        },
        color: {
          field: "path",
          type: "nominal",
          title: "Execution path",
          scale: {
            domain: [...Object.values(PATH_LABELS), BOTH_PATHS],
            range: [...PATH_COLOR.scale.range, "#000000"],
          },
        },
      },
    },
    config: { ...CONFIG, legend: { ...CONFIG.legend, orient: "bottom" } },
  };
}

function hasCpuRow(points: Point[], point: Point): boolean {
  return points.some((other) => other.model === point.model && other.path === PATH_LABELS.cpu);
}
