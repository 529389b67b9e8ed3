/**
 * The study's figures 3 to 9 from the results rows, each a Vega-Lite spec (scatter.ts: 3 to 6; per_model.ts:
 * 7 to 9), with the subtitles that say how they were measured: the protocol, adapters and clocks.
 */
import type { TopLevelSpec } from "vega-lite";
import { type ExecutionPath, isOurPath, type PeerPath, type ResultPath, type ResultRow } from "../results.ts";
import { describeSeeds, type SeedSummary } from "../seeds.ts";
import { accuracyBarsSpec, inferenceTimeSpec, memorySpec } from "./per_model.ts";
import { scatterSpec, type ScatterX } from "./scatter.ts";
import { distinct, PATH_LABELS, type Point, toPoint } from "./style.ts";

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
  const orderOf = (shown: readonly Point[]) =>
    [...new Map(shown.map((point) => [point.model, point.parameters]))]
      .sort(([modelA, parametersA], [modelB, parametersB]) =>
        parametersA - parametersB || modelA.localeCompare(modelB)
      )
      .map(([model]) => model);
  const modelOrder = orderOf(points);
  // Accuracy is the weights': a peer's (our checkpoint again) would only repeat ours.
  const ourRows = rows.filter((row) => isOurPath(row.path));
  const ourPoints = points.filter((_, i) => isOurPath(rows[i].path));
  const scatter = (path: ExecutionPath, xField: ScatterX, peer?: PeerPath) => {
    const pathRows = rows.filter((row) => row.path === path);
    const subtitle = [protocol, `Adapter: ${distinct(pathRows.map((row) => row.adapter))}`];
    if (xField === "inferMs") subtitle.push(`Timed with: ${distinct(pathRows.map((row) => row.clock))}`);
    else {
      const rings = pathRows.some((row) => row.measured_bytes !== null && row.measured_bytes !== undefined);
      subtitle.push(...MEMORY_SUBTITLE.slice(0, rings ? 2 : 1));
    }
    const ours = points.filter((point) => point.path === PATH_LABELS[path]);
    const peers = peer ? peerSeries(points, ours, PATH_LABELS[peer]) : [];
    if (peer && peers.length > 0) subtitle.push(...peerLines(rows, peer, xField));
    return scatterSpec(PATH_LABELS[path], ours, xField, subtitle, peers);
  };
  return [
    { name: "fig3_accuracy_vs_memory_cpu", spec: scatter("cpu", "opBytes", "pytorch-cpu") },
    { name: "fig4_accuracy_vs_memory_gpu", spec: scatter("webgpu", "opBytes") },
    { name: "fig5_accuracy_vs_time_cpu", spec: scatter("cpu", "inferMs", "pytorch-cpu") },
    { name: "fig6_accuracy_vs_time_gpu", spec: scatter("webgpu", "inferMs") },
    {
      name: "fig7_accuracy_per_model",
      spec: accuracyBarsSpec(ourPoints, orderOf(ourPoints), [protocol, ...adapterLines(ourRows)]),
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

/**
 * A peer's points for a figure of ours: each at its own accuracy, or where its row has none (no checkpoint
 * evaluated in it), at our accuracy of the same model, the same network's.
 */
function peerSeries(points: readonly Point[], ours: readonly Point[], label: string): Point[] {
  const accuracy = new Map(ours.map((point) => [point.model, point]));
  return points.filter((point) => point.path === label).map((point) => {
    if (point.accuracy !== null) return point;
    const mine = accuracy.get(point.model);
    return {
      ...point,
      accuracy: mine?.accuracy ?? null,
      accuracyMin: mine?.accuracyMin ?? null,
      accuracyMax: mine?.accuracyMax ?? null,
    };
  });
}

/** What the crosses are: the peer, its adapter and clock, and where their accuracy comes from. */
function peerLines(rows: readonly ResultRow[], peer: PeerPath, xField: ScatterX): string[] {
  const peerRows = rows.filter((row) => row.path === peer);
  const borrowed = peerRows.some((row) => row.test_accuracy === null);
  return [
    `Crosses: ${PATH_LABELS[peer]}, the same networks (${distinct(peerRows.map((row) => row.adapter))}), ` +
    `joined to ours by a dotted line` +
    (borrowed ? "; at our accuracy where PyTorch evaluated no checkpoint" : ""),
    ...(xField === "inferMs"
      ? [`${PATH_LABELS[peer]} timed with: ${distinct(peerRows.map((row) => row.clock))}`]
      : []),
  ];
}

const MEMORY_SUBTITLE = [
  "Filled: op_bytes, bytes the operators of one batch of 4 allocate, counted as PyTorch's profiler counts them",
  "Ring: measured_bytes, growth of a fresh process's resident memory (RSS) while the model is built and run",
];

/** The paths the rows have, in PATH_LABELS' order: a peer that did not run gets no line. */
function pathsOf(rows: readonly ResultRow[]): ResultPath[] {
  return (Object.keys(PATH_LABELS) as ResultPath[]).filter((path) =>
    isOurPath(path) || rows.some((row) => row.path === path)
  );
}

function adapterLines(rows: readonly ResultRow[]): string[] {
  return pathsOf(rows).map((path) =>
    `${PATH_LABELS[path]} path adapter: ${
      distinct(rows.filter((row) => row.path === path).map((row) => row.adapter))
    }`
  );
}

/** "Kernel clock, CPU: ..." and the same for WebGPU, one line each. */
function kernelClockLines(rows: readonly ResultRow[]): string[] {
  return pathsOf(rows).map((path) =>
    `Kernel clock, ${PATH_LABELS[path]}: ${
      distinct(rows.filter((row) => row.path === path).map((row) => row.clock))
    }`
  );
}
