/**
 * deno task compress-study: the float study's models through the compression plan (lab/compress/study.ts),
 * each row in a resumable store, then the figures and the tested conclusions.
 */
import { UserError } from "../engine/errors.ts";
import { loadSafetensors } from "../io/checkpoint_file.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { ensureWritableDir, exists } from "../io/files.ts";
import { writeCompressReport } from "../lab/compress/report.ts";
import { CompressStore, runModelPlan, STUDY_CHECKPOINTS, studyPlan } from "../lab/compress/study.ts";
import { withCheckpointNormalisation } from "../lab/evaluate.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { loadStudyData } from "../lab/session.ts";
import { selectPaths } from "../lab/study.ts";
import { checkCheckpoint } from "../models/checkpoint.ts";
import { DEFAULT_CALIBRATION_IMAGES } from "../lab/compress/compress.ts";
import { trainStudyCheckpoint } from "../lab/compress/train.ts";
import { createDenoBackend } from "../io/webgpu.ts";
import { modelByName } from "../models/zoo.ts";

const CHECKPOINTS = "docs/results/study20/limit/checkpoints";
const OUT = "docs/results/compress/compress.csv";
const FIGURES = "docs/figures/compress";
const FLOAT_STUDY = "docs/results/study20/limit/seeds34.csv,docs/results/study20/limit/mlp1024.csv";

const USAGE = `usage: deno task compress-study [--models ${
  STUDY_CHECKPOINTS.join(",")
}] [--checkpoints ${CHECKPOINTS}]
    [--quick] [--retrain-epochs 1] [--paths cpu] [--train-limit N] [--test-limit N] [--calibrate ${DEFAULT_CALIBRATION_IMAGES}]
    [--warmup 5] [--timed-batches 20] [--out ${OUT}] [--figures ${FIGURES}] [--float-study ${FLOAT_STUDY}]
  --models: checkpoint names MODEL-seedS in --checkpoints (MODEL-seedS.safetensors); a missing one is
    trained first with the lab's protocol (on the first of --paths, resumable)
  --retrain-epochs 0 leaves out the rows that retrain (pruning with retraining, QAT)
  A rerun with the same --out skips the rows done.
${flagRanges(["train-limit", "test-limit", "warmup", "timed-batches"])}`;

const FLAGS = {
  models: { type: "string" },
  checkpoints: { type: "string" },
  quick: { type: "boolean" },
  "retrain-epochs": { type: "string" },
  paths: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  calibrate: { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  out: { type: "string" },
  figures: { type: "string" },
  "float-study": { type: "string" },
  data: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length > 0) throw new UserError(`unexpected "${positionals[0]}" (see --help)`);
  const names = flags.models?.split(",").map((s) => s.trim()) ?? [...STUDY_CHECKPOINTS];
  const models = names.map((stem) => {
    const match = /^(.+)-seed(\d+)$/.exec(stem);
    if (!match) throw new UserError(`--models: "${stem}" is not MODEL-seedS (e.g. lenet5-seed3)`);
    return {
      model: modelByName(match[1]).name,
      seed: Number(match[2]),
      path: `${flags.checkpoints ?? CHECKPOINTS}/${stem}.safetensors`,
    };
  });
  const retrainEpochs = integerFlag("epochs", flags["retrain-epochs"], 0) ?? 1;
  const plan = studyPlan({ quick: flags.quick, retrainEpochs });
  const out = flags.out ?? OUT;
  const figures = flags.figures ?? FIGURES;
  await ensureWritableDir(out.replace(/\/[^/]*$/, "") || ".");
  await ensureWritableDir(figures);
  const calibrationImages = integerFlag("train-limit", flags.calibrate, 1) ?? DEFAULT_CALIBRATION_IMAGES;
  const options = {
    paths: selectPaths(flags.paths ?? "cpu"),
    batchSize: PROTOCOL.batchSize,
    warmup: integerFlag("warmup", flags.warmup, 0) ?? 5,
    timedBatches: integerFlag("timed-batches", flags["timed-batches"], 1) ?? 20,
    calibrationImages,
    onProgress: (line: string) => console.error(line),
  };
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1);
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1);
  const store = new CompressStore(out);
  try {
    for (const { model, seed, path } of models) {
      const raw = await loadStudyData(flags.data, trainLimit, testLimit, PROTOCOL.batchSize);
      if (!await exists(path)) {
        console.error(
          `${path} is missing: training ${model} seed ${seed} (${PROTOCOL.epochs} epochs, resumable)`,
        );
        const backend = await createDenoBackend(options.paths[0]);
        try {
          await trainStudyCheckpoint(backend, model, seed, raw, path);
        } finally {
          backend.destroy();
        }
      }
      const checkpoint = await loadSafetensors(path);
      checkCheckpoint(checkpoint, model, path);
      const data = withCheckpointNormalisation(raw, checkpoint.metadata);
      if (calibrationImages > data.trainCount) {
        throw new UserError(
          `--calibrate ${calibrationImages}: only ${data.trainCount} training images in use`,
        );
      }
      const added = await runModelPlan(store, model, checkpoint, data, plan, options);
      console.log(`${model}: ${added} row(s) added to ${out}`);
    }
    const floatStudy = (flags["float-study"] ?? FLOAT_STUDY).split(",").filter((p) => p.trim());
    const written = await writeCompressReport(store.rows(), floatStudy, figures, out);
    console.log(`wrote ${written.join(", ")}`);
  } finally {
    store.close();
  }
}

if (import.meta.main) await runMain(main);
