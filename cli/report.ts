/**
 * The study's figures (3 to 9) from the sweep's results CSV: Vega-Lite specs rendered headless to SVG,
 * then to PNG with resvg.
 *
 *   deno task report [--csv results/sweep.csv] [--out results/figures]
 *   deno task report --merge A.csv B.csv ... --csv merged.csv [--out DIR]
 */
import { dirname } from "node:path";
import process from "node:process";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import type { TopLevelSpec } from "vega-lite";
import { UserError } from "../engine/errors.ts";
import { ensureWritableDir, readFileBytes, writeFileAtomic } from "../io/files.ts";
import { parseFlags, runMain } from "../io/command.ts";
import { type ExecutionPath, type Family, parseResults, type ResultRow } from "../lab/results.ts";
import { conclusionsMarkdown } from "../lab/conclusions.ts";
import { describeSeeds, type SeedSummary, summariseSeeds } from "../lab/seeds.ts";
import { mergeStores } from "../lab/store.ts";

const USAGE = "usage: deno task report [--csv results/sweep.csv] [--out results/figures]\n" +
  "       deno task report --merge A.csv B.csv ... --csv MERGED.csv [--out results/figures]\n" +
  "  --merge: joins the results of sweeps run apart (shards, seeds) into a new store at --csv, then draws it";

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

interface Figure {
  name: string;
  spec: TopLevelSpec;
}

/** Writes figures 3 to 9 as SVG and PNG into `outDir`; rows whose status is not `ok` are left out. */
export async function writeFigures(rows: readonly ResultRow[], outDir: string): Promise<string[]> {
  const okRows = rows.filter((row) => row.status === "ok");
  if (okRows.length === 0) {
    throw new UserError("no result rows with status ok, nothing to plot; run the sweep first");
  }
  await ensureWritableDir(outDir);
  const written: string[] = [];
  for (const figure of studyFigures(summariseSeeds(okRows), protocolLine(okRows))) {
    const svg = await renderSvg(figure.spec);
    const png = await renderPng(svg);
    for (const [extension, data] of [["svg", svg], ["png", png]] as const) {
      const path = `${outDir}/${figure.name}.${extension}`;
      await writeFileAtomic(path, data);
      written.push(path);
    }
  }
  const table = `${outDir}/results.md`;
  await writeFileAtomic(table, markdownTable(rows));
  written.push(table);
  const conclusions = `${outDir}/conclusions.md`;
  await writeFileAtomic(conclusions, conclusionsMarkdown(rows));
  written.push(conclusions);
  return written;
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

function studyFigures(summaries: readonly SeedSummary[], protocol: string): Figure[] {
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
    data: { values: placeLabels(plotted, xDomain, yDomain, obstacles) },
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

const LABEL_FONT_SIZE = 8;
const MARKER_RADIUS = 5;
/** Advance widths in em of DejaVu Sans for the characters of model names; others count as 0.6 em. */
const CHARACTER_WIDTHS: Record<string, number> = { "-": 0.361, l: 0.278, m: 0.974, t: 0.392 };

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Puts each point's label where it overlaps no marker and no other label: beside the point if there is
 * room, else a few rings further out with a leader line back to it. Crowded points choose first.
 * Adds the label's left-middle anchor (`labelX`, `labelY`, in data units) and `leader` to each point.
 */
function placeLabels<T extends { x: number; y: number; model: string }>(
  points: T[],
  xDomain: [number, number],
  yDomain: [number, number],
  others: readonly { x: number; x2?: number; y: number }[] = [],
): (T & { labelX: number; labelY: number; leader: boolean })[] {
  const { width, height } = SCATTER_SIZE;
  const logSpan = Math.log(xDomain[1] / xDomain[0]);
  const toPixels = ({ x, y }: { x: number; y: number }) => ({
    px: width * Math.log(x / xDomain[0]) / logSpan,
    py: height * (yDomain[1] - y) / (yDomain[1] - yDomain[0]),
  });
  const pixels = points.map(toPixels);
  const obstacles: Box[] = pixels.map(({ px, py }) => ({
    left: px - MARKER_RADIUS,
    right: px + MARKER_RADIUS,
    top: py - MARKER_RADIUS,
    bottom: py + MARKER_RADIUS,
  }));
  // Rings (a marker) and whiskers (a line from x to x2) are in the way of labels too.
  for (const other of others) {
    const start = toPixels(other), end = toPixels({ x: other.x2 ?? other.x, y: other.y });
    const reach = other.x2 === undefined ? MARKER_RADIUS : 1;
    obstacles.push({
      left: start.px - reach,
      right: end.px + reach,
      top: start.py - reach,
      bottom: start.py + reach,
    });
  }
  const neighbours = pixels.map((a) =>
    pixels.filter((b) => Math.hypot(a.px - b.px, a.py - b.py) < 40).length
  );
  const order = points.map((_, i) => i).sort((a, b) => neighbours[b] - neighbours[a]);
  const placed = new Array<T & { labelX: number; labelY: number; leader: boolean }>(points.length);
  for (const i of order) {
    const { px, py } = pixels[i];
    const labelWidth = [...points[i].model].reduce((sum, c) => sum + (CHARACTER_WIDTHS[c] ?? 0.6), 0) *
      LABEL_FONT_SIZE;
    const labelHeight = LABEL_FONT_SIZE + 2;
    const candidates = labelCandidates(px, py, labelWidth, labelHeight)
      .filter((box) => box.left >= 0 && box.right <= width && box.top >= 0 && box.bottom <= height);
    const overlap = (box: Box) => obstacles.reduce((sum, other) => sum + overlapArea(box, other), 0);
    const free = candidates.find((box) => overlap(box) === 0);
    const box = free ?? candidates.reduce((best, box) =>
      overlap(box) < overlap(best) ? box : best, candidates[0]) ??
      labelCandidates(px, py, labelWidth, labelHeight)[0];
    obstacles.push(box);
    const middle = (box.top + box.bottom) / 2;
    const gap = Math.hypot(
      Math.max(box.left - px, 0, px - box.right),
      Math.max(box.top - py, 0, py - box.bottom),
    );
    placed[i] = {
      ...points[i],
      labelX: xDomain[0] * Math.exp(logSpan * box.left / width),
      labelY: yDomain[1] - (yDomain[1] - yDomain[0]) * middle / height,
      leader: gap > MARKER_RADIUS + 4,
    };
  }
  return placed;
}

/** Label boxes around a point at (px, py), nearest first: right, left, above, below, then the diagonals. */
function labelCandidates(px: number, py: number, width: number, height: number): Box[] {
  const boxes: Box[] = [];
  for (let ring = 0; ring < 6; ring++) {
    const distance = MARKER_RADIUS + 2 + ring * 9;
    const diagonal = distance * Math.SQRT1_2;
    const corners: [number, number][] = [
      [px + distance, py - height / 2],
      [px - distance - width, py - height / 2],
      [px - width / 2, py - distance - height],
      [px - width / 2, py + distance],
      [px + diagonal, py - diagonal - height],
      [px + diagonal, py + diagonal],
      [px - diagonal - width, py - diagonal - height],
      [px - diagonal - width, py + diagonal],
    ];
    for (const [left, top] of corners) boxes.push({ left, top, right: left + width, bottom: top + height });
  }
  return boxes;
}

function overlapArea(a: Box, b: Box): number {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return width > 0 && height > 0 ? width * height : 0;
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

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await loadVega();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Vega's Node build pulls in node-fetch, whose `punycode` import prints a deprecation warning on every run. */
async function loadVega() {
  // Node's documented switch, missing from Deno's typings of `process`.
  const warnings = process as { noDeprecation?: boolean };
  const noDeprecation = warnings.noDeprecation;
  warnings.noDeprecation = true;
  try {
    const vega = await import("vega");
    const vegaLite = await import("vega-lite");
    return { vega, vegaLite };
  } finally {
    warnings.noDeprecation = noDeprecation;
  }
}

/**
 * TrueType fonts resvg can use, best first: Debian's fonts-dejavu-core, then Liberation, looked up in the
 * XDG data folders (/usr/local/share:/usr/share unless $XDG_DATA_DIRS says otherwise; the offline bundle
 * puts its font there).
 */
function fontCandidates(): { family: string; files: string[] }[] {
  const dirs = (Deno.env.get("XDG_DATA_DIRS") || "/usr/local/share:/usr/share").split(":").filter(Boolean);
  const families = [
    { family: "DejaVu Sans", files: ["dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"] },
    {
      family: "Liberation Sans",
      files: ["liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf"],
    },
  ];
  return families.flatMap(({ family, files }) =>
    dirs.map((dir) => ({ family, files: files.map((file) => `${dir}/fonts/truetype/${file}`) }))
  );
}

let resvgReady: Promise<{ family: string; fontBuffers: Uint8Array[] }> | undefined;

/** Loads resvg's wasm and a system font once per process. */
function initResvg() {
  resvgReady ??= (async () => {
    await initWasm(
      await Deno.readFile(new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"))),
    );
    const candidates = fontCandidates();
    for (const { family, files } of candidates) {
      const fontBuffers = await Promise.all(files.map((file) => Deno.readFile(file).catch(() => null)));
      if (fontBuffers[0] !== null) {
        return {
          family,
          fontBuffers: fontBuffers.filter((font) => font !== null),
        };
      }
    }
    console.warn(
      `report: no TrueType font found (${candidates[0].files[0]}); the PNGs will have no text, ` +
        "install one with apt-get install fonts-dejavu-core (the SVGs are complete)",
    );
    return { family: "sans-serif", fontBuffers: [] };
  })();
  return resvgReady;
}

/**
 * The results as a Markdown table, one line per model, both paths side by side (for the README): an
 * accuracy is the mean over the model's seeds, with their min to max; the rest is the first seed's.
 */
export function markdownTable(rows: readonly ResultRow[]): string {
  const summaries = new Map<string, Partial<Record<ExecutionPath, SeedSummary>>>();
  for (const summary of summariseSeeds(rows)) {
    const { model, path } = summary.row;
    summaries.set(model, { ...summaries.get(model), [path]: summary });
  }
  const statuses = new Map<string, Set<string>>();
  const parameters = new Map<string, number>();
  for (const row of rows) {
    statuses.set(row.model, (statuses.get(row.model) ?? new Set()).add(row.status));
    if (row.parameters !== null) parameters.set(row.model, row.parameters);
  }
  const cell = (value: number | null | undefined, digits: number) =>
    value == null ? "" : value.toFixed(digits);
  const kib = (value: number | null | undefined) => value == null ? "" : (value / 1024).toFixed(1);
  const accuracy = (summary?: SeedSummary) => {
    if (summary?.row.test_accuracy == null) return "";
    const spread = summary.seeds.length > 1
      ? ` (${cell(summary.accuracyMin, 4)}-${cell(summary.accuracyMax, 4)})`
      : "";
    return `${cell(summary.row.test_accuracy, 4)}${spread}`;
  };
  const time = (row?: ResultRow) =>
    row?.infer_ms_median == null
      ? ""
      : `${cell(row.infer_ms_median, 3)} (${cell(row.infer_ms_p10, 3)}-${cell(row.infer_ms_p90, 3)})`;
  const lines = [
    "| model | parameters | seeds | accuracy cpu | accuracy gpu (min-max) | ms/batch cpu (p10-p90) | " +
    "ms/batch gpu (p10-p90) | op KiB | param KiB | training min | status |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  // Models never built (skipped rows carry no parameter count) come last, by family and layer widths.
  const widths = new Map(
    rows.map((row) => [row.model, [row.family, row.hidden1 ?? 0, row.hidden2 ?? 0]] as const),
  );
  const byWidths = (a: string, b: string) => {
    const [familyA, a1, a2] = widths.get(a)!, [familyB, b1, b2] = widths.get(b)!;
    return familyA.localeCompare(familyB) || a1 - b1 || a2 - b2;
  };
  const models = [...statuses.keys()].sort((a, b) =>
    (parameters.get(a) ?? Infinity) - (parameters.get(b) ?? Infinity) || byWidths(a, b) || a.localeCompare(b)
  );
  for (const model of models) {
    const { cpu, webgpu } = summaries.get(model) ?? {};
    const any = (webgpu ?? cpu)?.row;
    const seeds = (webgpu ?? cpu)?.seeds;
    const minutes = any?.train_seconds == null ? "" : (any.train_seconds / 60).toFixed(1);
    lines.push(
      `| ${model} | ${parameters.get(model)?.toLocaleString("en") ?? ""} | ${
        seeds ? describeSeeds(seeds) : ""
      } | ` +
        `${accuracy(cpu)} | ${accuracy(webgpu)} | ${time(cpu?.row)} | ${time(webgpu?.row)} | ` +
        `${kib(any?.op_bytes)} | ${kib(any?.param_bytes)} | ${minutes} | ${
          [...statuses.get(model)!].join("; ")
        } |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Renders at twice the SVG's size, so the small labels stay legible in a printed page. */
async function renderPng(svg: string): Promise<Uint8Array> {
  const { family, fontBuffers } = await initResvg();
  const resvg = new Resvg(svg, {
    font: { fontBuffers, defaultFontFamily: family, sansSerifFamily: family },
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
  });
  try {
    return resvg.render().asPng();
  } finally {
    resvg.free();
  }
}

const FLAGS = {
  csv: { type: "string" },
  out: { type: "string" },
  merge: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals: sources } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (sources.length > 0 && !flags.merge) {
    throw new UserError(`unexpected argument "${sources[0]}" (see --help)`);
  }
  const csv = flags.csv ?? "results/sweep.csv", out = flags.out ?? "results/figures";
  if (csv.trim() === "" || out.trim() === "") throw new UserError("--csv and --out need a path (see --help)");
  if (flags.merge) {
    await ensureWritableDir(dirname(csv));
    const merged = mergeStores(sources, csv);
    console.log(`report: merged ${sources.length} stores into ${csv}: ${merged.length} rows`);
  }
  const rows = parseResults(new TextDecoder().decode(await readFileBytes(csv)), csv);
  const written = await writeFigures(rows, out);
  console.log(`report: wrote ${written.length} files to ${out}`);
}

if (import.meta.main) await runMain(main);
