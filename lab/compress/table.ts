/** `deno task compress`'s output: a text table of the float and compressed models per path, and one JSON object. */
import { formatBytes, formatMs } from "../study.ts";
import type { CompressResult } from "./compress.ts";

/** One line per model and path, then what pruning and QAT add, then the clocks. */
export function compressTable(result: CompressResult): string {
  const header = ["model", "path", "accuracy", "parameters", "op bytes", "file", "ms/batch"];
  const rows = result.measurements.map((m) => [
    m.variant,
    m.path,
    m.testAccuracy.toFixed(4),
    formatBytes(m.parameterBytes),
    formatBytes(m.opBytes),
    formatBytes(m.fileBytes),
    m.msPerBatch === null ? "-" : formatMs(m.msPerBatch),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  const notes: string[] = [];
  if (result.pruning) {
    notes.push(
      `accuracy right after pruning, before retraining: ${
        result.pruning.accuracyBeforeRetraining.toFixed(4)
      }`,
    );
  }
  if (result.qat) {
    const converted = Object.entries(result.qat.convertedAccuracy).map(([path, a]) =>
      `${a.toFixed(4)} (${path})`
    );
    notes.push(
      `QAT: fake-quantised ${result.qat.fakeQuantAccuracy.toFixed(4)}, converted to int8 ${
        converted.join(", ")
      }; ` +
        `largest difference ${result.qat.largestDifference.toFixed(4)}`,
    );
  }
  const clocks = [
    ...new Set(result.measurements.map((m) => `${m.path}: ${m.adapter}; ms/batch by ${m.clock}`)),
  ];
  return [line(header), ...rows.map(line), ...notes, ...clocks].join("\n");
}

/** The result as `--json` prints it (the checkpoint's bytes and QAT's scales left out). */
export function compressJson(result: CompressResult): string {
  const { checkpoint: _bytes, qat, ...rest } = result;
  const qatSummary = qat && { ...qat, params: undefined };
  return JSON.stringify({ ...rest, ...(qatSummary ? { qat: qatSummary } : {}) });
}
