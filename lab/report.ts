/**
 * The study's report from its results rows: figures 3 to 9 (lab/figures/) as SVG and PNG, results.md (the
 * table) and conclusions.md; and the merge of sweeps run apart into one store.
 */
import { dirname } from "node:path";
import { UserError } from "../engine/errors.ts";
import { ensureWritableDir, writeFileAtomic } from "../io/files.ts";
import { isOurPath, type ResultPath, type ResultRow } from "./results.ts";
import { conclusionsMarkdown } from "./conclusions.ts";
import { describeSeeds, type SeedSummary, summariseSeeds } from "./seeds.ts";
import { mergeStores } from "./store.ts";
import { protocolLine, studyFigures } from "./figures/specs.ts";
import { renderPng, renderSvg } from "./figures/render.ts";

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
 * The results as a Markdown table, one line per model, both paths side by side (for the README): an
 * accuracy is the mean over the model's seeds, with their min to max; the rest is the first seed's.
 */
export function markdownTable(rows: readonly ResultRow[]): string {
  const summaries = new Map<string, Partial<Record<ResultPath, SeedSummary>>>();
  for (const summary of summariseSeeds(rows)) {
    const { model, path } = summary.row;
    summaries.set(model, { ...summaries.get(model), [path]: summary });
  }
  const statuses = new Map<string, Set<string>>();
  const parameters = new Map<string, number>();
  for (const row of rows) {
    // The status column is our paths'; a peer's row (e.g. PyTorch timing a model we skipped) lists its model.
    const statusesOfModel = statuses.get(row.model) ?? new Set();
    statuses.set(row.model, isOurPath(row.path) ? statusesOfModel.add(row.status) : statusesOfModel);
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
  // PyTorch's CPU time beside ours, where the rows have it (--peers pytorch), with the threads it ran on.
  const torch = rows.some((row) => row.path === "pytorch-cpu");
  const torchTime = (row?: ResultRow) =>
    row ? `${time(row)}${row.threads === null ? "" : `, ${row.threads} thr.`}` : "";
  const lines = [
    "| model | parameters | seeds | accuracy cpu | accuracy gpu (min-max) | ms/batch cpu (p10-p90) | " +
    "ms/batch gpu (p10-p90) | " + (torch ? "ms/batch PyTorch cpu (p10-p90) | " : "") +
    "op KiB | param KiB | training min | status |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | " + (torch ? "---: | " : "") +
    "---: | ---: | ---: | --- |",
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
    const { cpu, webgpu, "pytorch-cpu": pytorchCpu } = summaries.get(model) ?? {};
    const any = (webgpu ?? cpu)?.row;
    const seeds = (webgpu ?? cpu)?.seeds;
    const minutes = any?.train_seconds == null ? "" : (any.train_seconds / 60).toFixed(1);
    lines.push(
      `| ${model} | ${parameters.get(model)?.toLocaleString("en") ?? ""} | ${
        seeds ? describeSeeds(seeds) : ""
      } | ` +
        `${accuracy(cpu)} | ${accuracy(webgpu)} | ${time(cpu?.row)} | ${time(webgpu?.row)} | ` +
        (torch ? `${torchTime(pytorchCpu?.row)} | ` : "") +
        `${kib(any?.op_bytes ?? pytorchCpu?.row.op_bytes)} | ${
          kib(any?.param_bytes ?? pytorchCpu?.row.param_bytes)
        } | ${minutes} | ${[...statuses.get(model)!].join("; ")} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Joins the stores of sweeps run apart (shards, seeds) into a new store at `csv`; returns its rows. */
export async function mergeResults(
  sources: readonly string[],
  csv: string,
  options: { preferLater?: boolean } = {},
): Promise<ResultRow[]> {
  await ensureWritableDir(dirname(csv));
  return mergeStores(sources, csv, options);
}
