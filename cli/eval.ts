/**
 * deno task eval MODEL --weights PATH [flags]: a saved model's test accuracy, inference time and memory
 * on each path, measured as the sweep measures them, as a table (and one JSON line with --json).
 */
import { UserError } from "../engine/errors.ts";
import { loadSafetensors } from "../io/checkpoint_file.ts";
import { checkCheckpoint } from "../models/checkpoint.ts";
import { modelByName } from "../models/zoo.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { kernelMode } from "../io/tuning_cache.ts";
import { loadStudyData } from "../lab/session.ts";
import {
  measureCheckpoint,
  measurementJson,
  measurementTable,
  withCheckpointNormalisation,
} from "../lab/evaluate.ts";
import { selectPaths } from "../lab/study.ts";

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
  const measured = await measureCheckpoint(name, weights, checkpoint, data, paths, options);
  console.log(`${name} from ${weights}, ${data.testCount} test images, batch ${batchSize}:`);
  console.log(measurementTable(measured));
  if (flags.json) console.log(measurementJson(name, weights, metadata, batchSize, measured));
}

if (import.meta.main) await runMain(main);
