/**
 * deno task train MODEL [flags]: trains one model with the lab's protocol (every value a flag),
 * printing one line per epoch, and with --json one JSON line at the end.
 */
import { dirname } from "node:path";
import { UserError } from "../engine/errors.ts";
import { checkOutputPath, ensureWritableDir } from "../io/files.ts";
import { loadCheckpoint, loadSafetensors, saveCheckpoint } from "../io/checkpoint_file.ts";
import { checkCheckpoint } from "../models/checkpoint.ts";
import { modelByName } from "../models/zoo.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import {
  adapterLine,
  backendKind,
  deviceDataSets,
  dispatchesPerStep,
  loadStudyData,
} from "../lab/session.ts";
import { createDenoBackend } from "../io/webgpu.ts";
import { trainModel } from "../models/trainer.ts";
import { ProgressLine } from "../io/progress.ts";
import { compileModel, kernelMode } from "../io/tuning_cache.ts";

const USAGE = `usage: deno task train MODEL [--backend webgpu|cpu] [--epochs ${PROTOCOL.epochs}] ` +
  `[--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}] [--seed ${PROTOCOL.seed}] ` +
  `[--train-limit N] [--test-limit N] [--data DIR] [--save PATH] [--weights PATH] [--kernels fixed|tuned] [--json]
  MODEL: lenet5, lenet5-avg, mlp-H or mlp-H1-H2 (e.g. mlp-300-100)
  --kernels: today's kernels, or variants chosen by measurement on the adapter (default: tuned on webgpu)
${flagRanges(["epochs", "batch-size", "seed", "train-limit", "test-limit"])}`;

const FLAGS = {
  backend: { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  "lr-schedule": { type: "string" },
  seed: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  save: { type: "string" },
  weights: { type: "string" },
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
    throw new UserError("name one model, e.g. deno task train lenet5 (see --help)");
  }
  const spec = modelByName(positionals[0]);
  const kind = backendKind(flags.backend);
  const kernels = kernelMode(flags.kernels, kind);
  const epochs = integerFlag("epochs", flags.epochs, 0) ?? PROTOCOL.epochs;
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const seed = integerFlag("seed", flags.seed, 0) ?? PROTOCOL.seed;
  const schedule = parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule);
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1);
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1);
  // Fail before training, not after: a result that cannot be saved would be lost.
  const save = flags.save;
  if (save !== undefined) await checkOutputPath(save, "--save");
  const weights = flags.weights;
  if (weights !== undefined && weights.trim() === "") {
    throw new UserError(`--weights "": name a checkpoint file`);
  }
  const checkpoint = weights === undefined ? undefined : await loadSafetensors(weights);
  if (checkpoint) checkCheckpoint(checkpoint, spec.name, weights!);
  const data = await loadStudyData(flags.data, trainLimit, testLimit, batchSize);
  const backend = await createDenoBackend(kind);
  console.log(adapterLine(backend));
  const model = await compileModel(backend, spec, batchSize, seed, kernels);
  if (checkpoint) await loadCheckpoint(model, weights!, checkpoint);
  const sets = deviceDataSets(backend, data);
  console.log(
    `${spec.name}: ${model.parameterCount().toLocaleString("en")} parameters; ${
      model.describe().join(", ")
    }; ` +
      `batch ${batchSize}, ${data.trainCount} training and ${data.testCount} test images; ` +
      `${dispatchesPerStep(model)} dispatches per training step`,
  );
  const progress = new ProgressLine();
  const { history, trainSeconds, submits, testAccuracy } = await trainModel(
    model,
    sets,
    { epochs, schedule, seed, trainCount: data.trainCount },
    {
      onProgress: progress.trainingCallback("", epochs, batchSize),
      onEpoch: (result, trained) => {
        progress.clear();
        console.log(
          `epoch ${String(result.epoch).padStart(2)}/${epochs}  lr ${result.learningRate}  ` +
            `loss ${result.trainLoss.toFixed(4)}  test accuracy ${result.testAccuracy.toFixed(4)}  ` +
            `${(trained.samples / trained.seconds).toFixed(0)} img/s  ` +
            `${trained.seconds.toFixed(1)} s  (${trained.submits} submits)`,
        );
      },
    },
  ).finally(() => progress.clear());
  if (epochs === 0) console.log(`test accuracy ${testAccuracy.toFixed(4)} (no training: --epochs 0)`);
  if (save !== undefined) {
    await ensureWritableDir(dirname(save));
    await saveCheckpoint(model, save, {
      epochs: String(epochs),
      seed: String(seed),
      batchSize: String(batchSize),
      learningRateSchedule: schedule.map((e) => `${e.fromEpoch}:${e.rate}`).join(","),
      testAccuracy: String(testAccuracy),
      pixelMean: String(data.stats.mean),
      pixelStd: String(data.stats.std),
      pad: String(spec.pad),
    });
    console.log(`saved ${save}`);
  }
  if (flags.json) {
    const trainImages = epochs * data.trainCount;
    console.log(JSON.stringify({
      model: spec.name,
      backend: kind,
      adapter: backend.adapter.name,
      softwareAdapter: backend.adapter.isSoftware,
      epochs,
      seed,
      batchSize,
      trainImages,
      testAccuracy,
      trainSeconds,
      imagesPerSecond: trainImages / trainSeconds,
      dispatchesPerStep: dispatchesPerStep(model),
      submits,
      history,
    }));
  }
  backend.destroy();
}

if (import.meta.main) await runMain(main);
