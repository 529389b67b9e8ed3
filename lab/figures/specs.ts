/**
 * The Vega-Lite specs of the study's figures 3 to 9, from the results rows: what each figure plots, its
 * axes, colours and subtitles (the protocol, adapters and clocks it was measured with).
 */
import type { TopLevelSpec } from "vega-lite";
import type { ExecutionPath, Family, ResultRow } from "../results.ts";
import { describeSeeds, type SeedSummary } from "../seeds.ts";
import { LABEL_FONT_SIZE, placeLabels } from "./labels.ts";

const FAMILY_LABELS: Record<Family, string> = {
  lenet5: "LeNet-5",
  mlp1: "MLP, one hidden layer",
  mlp2: "MLP, two hidden layers",
};
const PATH_LABELS: Record<ExecutionPath, string> = { cpu: "CPU", webgpu: "WebGPU" };

/** One plotted row: the columns a figure reads, in the units its axes show. */
interface Point {
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

export interface Figure {
  name: string;
  spec: TopLevelSpec;
}

/**
 * What every figure's subtitle states first, so that a one-epoch figure can never pass for the study:
 * epochs, seeds (the points are means, the bars min to max), batch size.
 */
export function protocolLine(rows: readonly ResultRow[]): string {
  const values = (column: "epochs" | "batch_size") =>
    distinct(rows.map((row) => row[column] === null ? "" : String(row[column])));
  const seeds = [...new Set(rows.map((row) => row.seed ?? 0))];
  const seedText = seeds.length === 1
    ? `seed ${seeds[0]}`
    : `seeds ${describeSeeds(seeds)} (mean, bars from min to max where a model has several)`;
  return `${values("epochs")} epochs, ${seedText}, batch ${values("batch_size")}`;
}

/** The figures 3 to 9 of one study, named as their files are. */
export function studyFigures(summaries: readonly SeedSummary[], protocol: string): Figure[] {
  const rows = summaries.map((summary) => summary.row);
  const points = summaries.map(toPoint);
  const modelOrder = [...new Map(points.map((point) => [point.model, point.parameters]))]
    .sort(([modelA, parametersA], [modelB, parametersB]) =>
      parametersA - parametersB || modelA.localeCompare(modelB)
    )
    .map(([model]) => model);
  const scatter = (path: ExecutionPath, xField: ScatterX) => {
    const pathRows = rows.filter((row) => row.path === path);
    const subtitle = [protocol, `Adapter: ${distinct(pathRows.map((row) => row.adapter))}`];
    if (xField === "inferMs") subtitle.push(`Timed with: ${distinct(pathRows.map((row) => row.clock))}`);
    else {
      const rings = pathRows.some((row) => row.measured_bytes !== null && row.measured_bytes !== undefined);
      subtitle.push(...MEMORY_SUBTITLE.slice(0, rings ? 2 : 1));
    }
    return scatterSpec(
      PATH_LABELS[path],
      points.filter((point) => point.path === PATH_LABELS[path]),
      xField,
      subtitle,
    );
  };
  return [
    { name: "fig3_accuracy_vs_memory_cpu", spec: scatter("cpu", "opBytes") },
    { name: "fig4_accuracy_vs_memory_gpu", spec: scatter("webgpu", "opBytes") },
    { name: "fig5_accuracy_vs_time_cpu", spec: scatter("cpu", "inferMs") },
    { name: "fig6_accuracy_vs_time_gpu", spec: scatter("webgpu", "inferMs") },
    {
      name: "fig7_accuracy_per_model",
      spec: accuracyBarsSpec(points, modelOrder, [protocol, ...adapterLines(rows)]),
    },
    {
      name: "fig8_inference_time_per_model",
      spec: inferenceTimeSpec(points, modelOrder, [protocol, ...adapterLines(rows)], kernelClockLines(rows)),
    },
    {
      name: "fig9_memory_per_model",
      spec: memorySpec(points, modelOrder, [protocol, ...adapterLines(rows)]),
    },
  ];
}

const MEMORY_SUBTITLE = [
  "Filled: op_bytes, bytes the operators of one batch of 4 allocate, counted as PyTorch's profiler counts them",
  "Ring: measured_bytes, growth of a fresh process's resident memory (RSS) while the model is built and run",
];

type ScatterX = "opBytes" | "inferMs";

const SCATTER_AXES: Record<ScatterX, { what: string; title: string; format?: string }> = {
  opBytes: { what: "memory", title: "Memory (bytes, log scale)", format: "~s" },
  inferMs: {
    what: "inference time",
    title: "Inference time per batch (ms, log scale): median, whisker 10th to 90th percentile",
  },
};
const SCATTER_SIZE = { width: 640, height: 420 };

/**
 * Accuracy against memory or time on one path, one labelled point per model. Time: the median with a
 * whisker from the 10th to the 90th percentile. Memory: op_bytes, and a ring at the path's measured_bytes.
 */
function scatterSpec(path: string, pathPoints: Point[], xField: ScatterX, subtitle: string[]): TopLevelSpec {
  const plotted = pathPoints.flatMap((point) => {
    const x = point[xField];
    // A log axis cannot show zero, which a coarse clock can report for a tiny model.
    if (x === null || x <= 0 || point.accuracy === null) return [];
    const positive = (value: number | null) => value !== null && value > 0 ? value : null;
    const [low, high, ring] = xField === "inferMs"
      ? [positive(point.inferMsP10), positive(point.inferMsP90), null]
      : [null, null, positive(point.measuredBytes)];
    return [{ ...point, x, y: point.accuracy, low, high, ring }];
  });
  if (plotted.length === 0) subtitle = [...subtitle, "No rows with status ok on this path"];
  const xs = plotted.flatMap((point) =>
    [point.x, point.low, point.high, point.ring].filter((v) => v !== null)
  );
  const ys = accuracyValues(plotted);
  const yPad = Math.max((Math.max(...ys) - Math.min(...ys)) * 0.06, 0.002);
  // Fixed domains let the labels be placed here, in pixels, before Vega draws them.
  const xDomain: [number, number] = [Math.min(...xs) / 1.5, Math.max(...xs) * 1.5];
  const yDomain: [number, number] = [Math.min(...ys) - yPad, Math.max(...ys) + yPad];
  const familyColor = {
    field: "family",
    type: "nominal",
    title: "Model family",
    scale: FAMILY_SCALE,
  } as const;
  const axes = SCATTER_AXES[xField];
  const obstacles = plotted.flatMap((point) => [
    ...(point.ring === null ? [] : [{ x: point.ring, y: point.y }]),
    ...(point.low === null || point.high === null ? [] : [{ x: point.low, x2: point.high, y: point.y }]),
  ]);
  return {
    title: { text: `Test accuracy vs ${axes.what}, ${path} path`, subtitle },
    ...SCATTER_SIZE,
    data: { values: placeLabels(plotted, SCATTER_SIZE, xDomain, yDomain, obstacles) },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        scale: plotted.length > 0 ? { type: "log", domain: xDomain, nice: false } : { type: "log" },
        title: axes.title,
        ...(axes.format ? { axis: { format: axes.format } } : {}),
      },
      y: {
        field: "y",
        type: "quantitative",
        scale: plotted.length > 0 ? { domain: yDomain, nice: false } : { zero: false },
        axis: ACCURACY_AXIS,
      },
    },
    layer: [
      {
        mark: { type: "rule", color: "#aaaaaa", strokeWidth: 0.5 },
        transform: [{ filter: "datum.leader" }],
        encoding: { x2: { field: "labelX" }, y2: { field: "labelY" } },
      },
      {
        mark: { type: "rule", strokeWidth: 1.2, opacity: 0.7 },
        transform: [{ filter: "isValid(datum.accuracyMin) && isValid(datum.accuracyMax)" }],
        encoding: {
          y: { field: "accuracyMin", type: "quantitative" },
          y2: { field: "accuracyMax" },
          color: familyColor,
        },
      },
      {
        mark: { type: "rule", strokeWidth: 1.2, opacity: 0.7 },
        transform: [{ filter: "isValid(datum.low) && isValid(datum.high)" }],
        encoding: { x: { field: "low", type: "quantitative" }, x2: { field: "high" }, color: familyColor },
      },
      {
        mark: { type: "point", filled: false, size: 50, strokeWidth: 1.2, opacity: 0.8 },
        transform: [{ filter: "isValid(datum.ring)" }],
        encoding: {
          x: { field: "ring", type: "quantitative" },
          color: familyColor,
          shape: { ...familyColor, scale: { domain: FAMILY_SCALE.domain } },
        },
      },
      {
        mark: { type: "point", filled: true, size: 70, opacity: 0.85 },
        encoding: { color: familyColor, shape: { ...familyColor, scale: { domain: FAMILY_SCALE.domain } } },
      },
      {
        mark: { type: "text", fontSize: LABEL_FONT_SIZE, align: "left", baseline: "middle" },
        encoding: {
          x: { field: "labelX", type: "quantitative" },
          y: { field: "labelY", type: "quantitative" },
          text: { field: "model" },
          color: familyColor,
        },
      },
    ],
    config: CONFIG,
  };
}

/** Every accuracy a figure draws: each point's mean and the ends of its seed bar. */
function accuracyValues(points: readonly Point[]): number[] {
  return points.flatMap((point) =>
    [point.accuracy, point.accuracyMin, point.accuracyMax].filter((v): v is number => v !== null)
  );
}

function accuracyBarsSpec(points: Point[], modelOrder: string[], subtitle: string[]): TopLevelSpec {
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
function inferenceTimeSpec(
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
      median === null || median <= 0
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
function memorySpec(points: Point[], modelOrder: string[], subtitle: string[]): TopLevelSpec {
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

const FAMILY_SCALE = {
  domain: Object.values(FAMILY_LABELS),
  range: ["#d62728", "#1f77b4", "#2ca02c"],
};
const PATH_COLOR = {
  field: "path",
  type: "nominal",
  title: "Execution path",
  scale: { domain: Object.values(PATH_LABELS), range: ["#7f7f7f", "#ff7f0e"] },
} as const;
const ACCURACY_AXIS = { title: "Test accuracy", format: ".1%" };
const PANEL_HEADER = {
  labelOrient: "top",
  labelAnchor: "start",
  labelFontSize: 13,
  labelFontWeight: "bold",
} as const;
const CONFIG = {
  font: "sans-serif",
  title: { fontSize: 15, subtitleFontSize: 11, offset: 12 },
  axis: { titleFontSize: 12 },
  legend: { labelLimit: 400 },
};

/** Models down the side, labels horizontal and legible at README width. */
function modelAxisY(modelOrder: string[]) {
  return {
    field: "model",
    type: "nominal",
    sort: modelOrder,
    title: "Model (by number of parameters)",
    axis: { labelFontSize: 11, labelPadding: 4 },
  } as const;
}

function modelAxis(modelOrder: string[]) {
  return {
    field: "model",
    type: "nominal",
    sort: modelOrder,
    title: "Model (sorted by number of parameters)",
    axis: { labelAngle: -60, labelFontSize: 9 },
  } as const;
}

function toPoint({ row, accuracyMin, accuracyMax }: SeedSummary): Point {
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

function adapterLines(rows: readonly ResultRow[]): string[] {
  return (Object.keys(PATH_LABELS) as ExecutionPath[]).map((path) =>
    `${PATH_LABELS[path]} path adapter: ${
      distinct(rows.filter((row) => row.path === path).map((row) => row.adapter))
    }`
  );
}

/** "Kernel clock, CPU: ..." and the same for WebGPU, one line each. */
function kernelClockLines(rows: readonly ResultRow[]): string[] {
  return (Object.keys(PATH_LABELS) as ExecutionPath[]).map((path) =>
    `Kernel clock, ${PATH_LABELS[path]}: ${
      distinct(rows.filter((row) => row.path === path).map((row) => row.clock))
    }`
  );
}

function distinct(values: string[]): string {
  const unique = [...new Set(values.filter((value) => value !== ""))];
  return unique.length === 0 ? "none" : unique.join("; ");
}
