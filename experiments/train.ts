/**
 * deno task train MODEL [flags]: trains one model with the lab's protocol (every value a flag),
 * printing one line per epoch, and with --json one JSON line at the end.
 */
import { dirname } from "node:path";
import { UserError } from "../engine/errors.ts";
import { ensureWritableDir } from "../engine/files.ts";
import { Random } from "../engine/random.ts";
import { loadCheckpoint, saveCheckpoint } from "../models/checkpoint.ts";
import { CompiledModel } from "../models/model.ts";
import { evaluate, trainEpoch } from "../models/training.ts";
import { modelByName } from "../models/zoo.ts";
import { integerFlag, parseFlags, runMain } from "./cli.ts";
import { ProgressLine } from "./progress.ts";
import { learningRateForEpoch, parseSchedule, PROTOCOL } from "./protocol.ts";
import {
  adapterLine,
  backendKind,
  createBackend,
  deviceDataSets,
  dispatchesPerStep,
  loadStudyData,
} from "./session.ts";

const USAGE = `usage: deno task train MODEL [--backend webgpu|cpu] [--epochs ${PROTOCOL.epochs}] ` +
  `[--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}] [--seed ${PROTOCOL.seed}] ` +
  `[--train-limit N] [--test-limit N] [--data DIR] [--save PATH] [--weights PATH] [--json]
  MODEL: lenet5, mlp-H or mlp-H1-H2 (e.g. mlp-300-100)`;

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
  help: { type: "boolean", short: "h" },
} as const;

/** A seed's shuffling stream, apart from its initialisation stream. */
export const SHUFFLE_STREAM = 0x5eed;

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
  const epochs = integerFlag("epochs", flags.epochs, 0) ?? PROTOCOL.epochs;
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const seed = integerFlag("seed", flags.seed, 0) ?? PROTOCOL.seed;
  const schedule = parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule);
  // Fail before training, not after: a result that cannot be saved would be lost.
  if (flags.save) await ensureWritableDir(dirname(flags.save));
  const data = await loadStudyData(
    flags.data,
    integerFlag("train-limit", flags["train-limit"], 1),
    integerFlag("test-limit", flags["test-limit"], 1),
    batchSize,
  );
  const backend = await createBackend(kind);
  console.log(adapterLine(backend));
  const model = new CompiledModel(backend, spec, batchSize, seed);
  if (flags.weights) await loadCheckpoint(model, flags.weights);
  const sets = deviceDataSets(backend, data);
  console.log(
    `${spec.name}: ${model.parameterCount().toLocaleString("en")} parameters; ${
      model.describe().join(", ")
    }; ` +
      `batch ${batchSize}, ${data.trainCount} training and ${data.testCount} test images; ` +
      `${dispatchesPerStep(model)} dispatches per training step`,
  );
  const shuffle = new Random(seed + SHUFFLE_STREAM);
  const progress = new ProgressLine();
  const history = [];
  let trainSeconds = 0, testAccuracy = NaN, submits = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const rate = learningRateForEpoch(epoch, schedule);
    const trained = await trainEpoch(
      model,
      sets.train,
      rate,
      shuffle.permutation(data.trainCount),
      (done, all, s) =>
        progress.update(
          `epoch ${epoch}/${epochs}`,
          done,
          all,
          `${((done * batchSize) / Math.max(s, 1e-9)).toFixed(0)} img/s`,
        ),
    );
    progress.clear();
    if (!Number.isFinite(trained.loss)) {
      throw new UserError(
        `loss became ${trained.loss} in epoch ${epoch}: lower the learning rate (--lr-schedule)`,
      );
    }
    const tested = await evaluate(model, sets.test);
    trainSeconds += trained.seconds;
    submits += trained.submits;
    testAccuracy = tested.accuracy;
    const imagesPerSecond = trained.samples / trained.seconds;
    history.push({
      epoch,
      learningRate: rate,
      trainLoss: trained.loss,
      testAccuracy,
      seconds: trained.seconds,
    });
    console.log(
      `epoch ${String(epoch).padStart(2)}/${epochs}  lr ${rate}  loss ${trained.loss.toFixed(4)}  ` +
        `test accuracy ${testAccuracy.toFixed(4)}  ${imagesPerSecond.toFixed(0)} img/s  ` +
        `${trained.seconds.toFixed(1)} s  (${trained.submits} submits)`,
    );
  }
  if (epochs === 0) testAccuracy = (await evaluate(model, sets.test)).accuracy;
  if (flags.save) {
    await saveCheckpoint(model, flags.save, {
      epochs: String(epochs),
      seed: String(seed),
      batchSize: String(batchSize),
      learningRateSchedule: schedule.map((e) => `${e.fromEpoch}:${e.rate}`).join(","),
      testAccuracy: String(testAccuracy),
      pixelMean: String(data.stats.mean),
      pixelStd: String(data.stats.std),
      pad: String(spec.pad),
    });
    console.log(`saved ${flags.save}`);
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
