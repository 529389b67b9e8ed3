/**
 * deno task eval MODEL --weights PATH [flags]: a saved model's test accuracy, inference time and memory
 * on each path, measured as the sweep measures them, as a table (and one JSON line with --json).
 */
import { UserError } from "../engine/errors.ts";
import { loadCheckpoint, loadSafetensors } from "../io/checkpoint_file.ts";
import { checkCheckpoint } from "../models/checkpoint.ts";
import type { CompiledModel } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { kernelMode } from "../io/tuning_cache.ts";
import { loadStudyData, type StudyData } from "../lab/session.ts";
import { formatBytes, formatMs, measureOnPath, type PathMeasurement, selectPaths } from "../lab/study.ts";

const WARMUP_BATCHES = 20;
const TIMED_BATCHES = 200;

const USAGE = `usage: deno task eval MODEL --weights PATH [--paths cpu,webgpu] [--test-limit N] [--data DIR]
    [--batch-size ${PROTOCOL.batchSize}] [--warmup ${WARMUP_BATCHES}] [--timed-batches ${TIMED_BATCHES}] [--kernels fixed|tuned] [--json]
  MODEL: the model the checkpoint was saved for, e.g. lenet5 or mlp-300-100
${flagRanges(["test-limit", "batch-size", "warmup", "timed-batches"])}`;

const FLAGS = {
  weights: { type: "string" },
  paths: { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  "batch-size": { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  json: { type: "boolean" },
  kernels: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    throw new UserError(
      "name one model, e.g. deno task eval lenet5 --weights lenet5.safetensors (see --help)",
    );
  }
  const { name } = modelByName(positionals[0]);
  const weights = flags.weights;
  if (!weights?.trim()) throw new UserError(`name the checkpoint to evaluate: --weights PATH`);
  const paths = selectPaths(flags.paths);
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const options = {
    batchSize,
    warmup: integerFlag("warmup", flags.warmup, 0) ?? WARMUP_BATCHES,
    batches: integerFlag("timed-batches", flags["timed-batches"], 1) ?? TIMED_BATCHES,
    kernels: flags.kernels,
  };
  kernelMode(flags.kernels, "webgpu"); // a bad --kernels fails here, before any work
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1);
  const checkpoint = await loadSafetensors(weights);
  const { metadata } = checkpoint;
  checkCheckpoint(checkpoint, name, weights);
  const data = withCheckpointNormalisation(
    await loadStudyData(flags.data, undefined, testLimit, batchSize),
    metadata,
  );
  const measured: PathMeasurement[] = [];
  for (const path of paths) {
    const load = (model: CompiledModel) => loadCheckpoint(model, weights, checkpoint);
    measured.push(
      await measureOnPath(path, name, load, data, { ...options, progressLabel: `${name} ${path}` }),
    );
  }
  console.log(`${name} from ${weights}, ${data.testCount} test images, batch ${batchSize}:`);
  console.log(table(measured));
  if (flags.json) {
    console.log(JSON.stringify({
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
    }));
  }
}

/** The pixel mean and std the model was trained with, where the checkpoint records them. */
function withCheckpointNormalisation(data: StudyData, metadata: Record<string, string>): StudyData {
  const mean = Number(metadata.pixelMean), std = Number(metadata.pixelStd);
  if (!Number.isFinite(mean) || !(std > 0)) return data;
  return { ...data, stats: { mean, std } };
}

function table(measured: readonly PathMeasurement[]): string {
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

if (import.meta.main) await runMain(main);
