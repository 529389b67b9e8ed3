/**
 * The study's figures 3 to 9 from the results rows, each a Vega-Lite spec (scatter.ts: 3 to 6; per_model.ts:
 * 7 to 9), with the subtitles that say how they were measured: the protocol, adapters and clocks.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ExecutionPath, ResultRow } from "../results.ts";
import { describeSeeds, type SeedSummary } from "../seeds.ts";
import { accuracyBarsSpec, inferenceTimeSpec, memorySpec } from "./per_model.ts";
import { scatterSpec, type ScatterX } from "./scatter.ts";
import { distinct, PATH_LABELS, toPoint } from "./style.ts";

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
