/** The compression study's outputs from its rows: the figures (SVG and PNG), a Markdown table, the conclusions. */
import { writeFileAtomic } from "../../io/files.ts";
import { renderPng, renderSvg } from "../figures/render.ts";
import { formatBytes, formatMs } from "../study.ts";
import { compressConclusionsMarkdown } from "./conclusions.ts";
import { compressFigures } from "./figures.ts";
import { type CompressRow, floatStudyRows } from "./study.ts";

/** The rows as a Markdown table, one line per model, key and path. */
export function compressMarkdownTable(rows: readonly CompressRow[]): string {
  const header = "| model | compression | path | accuracy | parameters | op bytes | file | ms/batch |";
  const lines = rows.map((row) =>
    `| ${row.model} | ${row.description} | ${row.path} | ${row.test_accuracy.toFixed(4)} | ${
      formatBytes(row.parameter_bytes)
    } | ${formatBytes(row.op_bytes)} | ${formatBytes(row.file_bytes)} | ${
      row.ms_per_batch === null ? "-" : formatMs(row.ms_per_batch)
    } |`
  );
  return [header, "|" + " --- |".repeat(8), ...lines].join("\n") + "\n";
}

/** Writes the figures into `figuresDir` and the table and conclusions beside the CSV; returns the paths. */
export async function writeCompressReport(
  rows: readonly CompressRow[],
  floatStudyCsvs: readonly string[],
  figuresDir: string,
  csvPath: string,
): Promise<string[]> {
  const floatStudy = [];
  for (const path of floatStudyCsvs) floatStudy.push(...floatStudyRows(await Deno.readTextFile(path)));
  const written: string[] = [];
  for (const figure of compressFigures(rows, floatStudy)) {
    const svg = await renderSvg(figure.spec);
    for (const [extension, data] of [["svg", svg], ["png", await renderPng(svg)]] as const) {
      const path = `${figuresDir}/${figure.name}.${extension}`;
      await writeFileAtomic(path, data);
      written.push(path);
    }
  }
  const base = csvPath.replace(/\.csv$/i, "");
  await writeFileAtomic(`${base}.md`, compressMarkdownTable(rows));
  await writeFileAtomic(`${base}_conclusions.md`, compressConclusionsMarkdown(rows));
  written.push(`${base}.md`, `${base}_conclusions.md`);
  return written;
}
