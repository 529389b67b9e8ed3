/**
 * A saved model measured as the sweep measures it (accuracy, inference time, memory) on each path: what
 * `deno task eval` prints, as a table and as one JSON object.
 */
import type { DecodedSafetensors } from "../engine/safetensors.ts";
import { loadCheckpoint } from "../io/checkpoint_file.ts";
import type { CompiledModel } from "../models/model.ts";
import type { StudyData } from "./session.ts";
import { formatBytes, formatMs, measureOnPath, type MeasureOptions, type PathMeasurement } from "./study.ts";
import type { ExecutionPath } from "./results.ts";

/** Measures the checkpoint at `weights` (already read and checked: `checkpoint`) of model `name` on each path. */
export async function measureCheckpoint(
  name: string,
  weights: string,
  checkpoint: DecodedSafetensors,
  data: StudyData,
  paths: readonly ExecutionPath[],
  options: Omit<MeasureOptions, "progressLabel">,
): Promise<PathMeasurement[]> {
  const measured: PathMeasurement[] = [];
  for (const path of paths) {
    const load = (model: CompiledModel) => loadCheckpoint(model, weights, checkpoint);
    measured.push(
      await measureOnPath(path, name, load, data, { ...options, progressLabel: `${name} ${path}` }),
    );
  }
  return measured;
}

/** The pixel mean and std the model was trained with, where the checkpoint records them. */
export function withCheckpointNormalisation(data: StudyData, metadata: Record<string, string>): StudyData {
  const mean = Number(metadata.pixelMean), std = Number(metadata.pixelStd);
  if (!Number.isFinite(mean) || !(std > 0)) return data;
  return { ...data, stats: { mean, std } };
}

/** The measurements as a text table, one line per path, and the clock of each. */
export function measurementTable(measured: readonly PathMeasurement[]): string {
  const header = [
    "path",
    "accuracy",
    "ms/batch",
    "p10",
    "p90",
    "streamed ms",
    "latency ms",
    "parameters",
    "activations",
    "peak",
  ];
  const rows = measured.map((m) => [
    m.path,
    m.testAccuracy.toFixed(4),
    formatMs(m.timing.perBatch.median),
    formatMs(m.timing.perBatch.p10),
    formatMs(m.timing.perBatch.p90),
    formatMs(m.timing.streamed.median),
    formatMs(m.timing.latency.median),
    formatBytes(m.memory.parameterBytes),
    formatBytes(m.memory.activationBytes),
    formatBytes(m.peakInferBytes),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  const clocks = measured.map((m) => `${m.path}: ${m.adapter}; ms/batch by ${m.timing.clock}`);
  return [line(header), ...rows.map(line), ...clocks].join("\n");
}

/** The measurements as `deno task eval --json` prints them. */
export function measurementJson(
  name: string,
  weights: string,
  metadata: Record<string, string>,
  batchSize: number,
  measured: readonly PathMeasurement[],
): string {
  return JSON.stringify({
    model: name,
    weights,
    savedTestAccuracy: metadata.testAccuracy === undefined ? null : Number(metadata.testAccuracy),
    batchSize,
    paths: measured.map((m) => ({
      path: m.path,
      adapter: m.adapter,
      testAccuracy: m.testAccuracy,
      testImages: m.testImages,
      inferMs: m.timing.perBatch,
      clock: m.timing.clock,
      streamedMs: m.timing.streamed.median,
      latencyMs: m.timing.latency,
      parameterBytes: m.memory.parameterBytes,
      activationBytes: m.memory.activationBytes,
      peakInferBytes: m.peakInferBytes,
    })),
  });
}
