/**
 * deno task sweep [flags]: the study. Each model is trained once with the lab's protocol on
 * --train-backend, then measured on each path (accuracy, inference time, memory); one CSV row per
 * model and path is appended the moment it is known, and a rerun skips the rows already final.
 * The figures are written at the end.
 */
import { dirname } from "node:path";
import type { BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { ensureWritableDir } from "../engine/files.ts";
import { loadSafetensors, saveSafetensors } from "../engine/safetensors.ts";
import { loadCheckpoint } from "../models/checkpoint.ts";
import { CompiledModel, type ModelSpec } from "../models/model.ts";
import { evaluate } from "../models/training.ts";
import { modelByName } from "../models/zoo.ts";
import { integerFlag, parseFlags, runMain } from "./cli.ts";
import { parseSchedule, PROTOCOL, type ScheduleEntry } from "./protocol.ts";
import { writeFigures } from "./report.ts";
import {
  appendResult,
  doneKeys,
  type ExecutionPath,
  readResults,
  resultKey,
  type ResultRow,
} from "./results.ts";
import { adapterLine, createBackend, deviceDataSets, loadStudyData, type StudyData } from "./session.ts";
import {
  describeMeasurement,
  familyOf,
  hiddenSizes,
  measureOnPath,
  type MeasureOptions,
  memoryDevice,
  type PathMeasurement,
  selectModels,
  selectPaths,
  STUDY_MODELS,
} from "./study.ts";
import { DivergedError, trainModel } from "./trainer.ts";

/** Inference timing by default: warm-up batches, then timed ones. */
const WARMUP_BATCHES = 20;
const TIMED_BATCHES = 200;

/**
 * --quick: every model and both paths within 20 minutes on a 2-core machine's software adapter (8.5
 * minutes measured, on shared cores). The largest MLP (147 million parameters) takes about 2 s per
 * training step there and 1.2 s per inference batch on the CPU path, so the data are small, and a path
 * times fewer batches where its share would take longer than maxTimingSeconds. A smoke run of the
 * instrument, not a result: 50 steps at the lab's learning rates leave most models near chance.
 */
const QUICK = {
  epochs: 1,
  trainLimit: 200,
  testLimit: 200,
  warmup: 2,
  timedBatches: 50,
  maxTimingSeconds: 2,
  out: "results/quick/sweep.csv",
  figures: "results/quick/figures",
};

const USAGE = `usage: deno task sweep [--models LIST] [--paths cpu,webgpu] [--train-backend webgpu|cpu]
    [--epochs ${PROTOCOL.epochs}] [--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}]
    [--seed ${PROTOCOL.seed}] [--train-limit N] [--test-limit N] [--data DIR]
    [--warmup ${WARMUP_BATCHES}] [--timed-batches ${TIMED_BATCHES}] [--max-timing-seconds S]
    [--out results/sweep.csv] [--figures results/figures] [--save-dir DIR] [--quick]
  --models: model names and families (lenet5, mlp1, mlp2), comma-separated; all ${STUDY_MODELS.length} by default
  --max-timing-seconds: time fewer batches (at least 10) on a path where --timed-batches would take longer
  --save-dir: a checkpoint per model, DIR/MODEL.safetensors; a rerun measures from it instead of retraining
  --quick: --epochs ${QUICK.epochs} --train-limit ${QUICK.trainLimit} --test-limit ${QUICK.testLimit} ` +
  `--warmup ${QUICK.warmup} --timed-batches ${QUICK.timedBatches}
    --max-timing-seconds ${QUICK.maxTimingSeconds} --out ${QUICK.out} --figures ${QUICK.figures} ` +
  `(flags given win); a smoke run of the whole study, about 9 minutes here`;

const FLAGS = {
  models: { type: "string" },
  paths: { type: "string" },
  "train-backend": { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  "lr-schedule": { type: "string" },
  seed: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  "max-timing-seconds": { type: "string" },
  out: { type: "string" },
  figures: { type: "string" },
  "save-dir": { type: "string" },
  quick: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

interface Sweep {
  readonly models: string[];
  readonly paths: ExecutionPath[];
  readonly trainBackend: BackendKind;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly schedule: ScheduleEntry[];
  readonly data: StudyData;
  readonly measure: Omit<MeasureOptions, "progressLabel">;
  readonly out: string;
  readonly saveDir?: string;
  /** Adapter names by path, for the rows of measurements that never ran. */
  readonly adapters: Map<BackendKind, string>;
}

/** What the rows of a model take from its training. */
interface Trained {
  readonly parameters: number;
  readonly trainSeconds: number;
  readonly peakTrainBytes: number;
  readonly load: (model: CompiledModel) => void | Promise<unknown>;
}

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length > 0) {
    throw new UserError(`unexpected argument "${positionals[0]}": choose models with --models (see --help)`);
  }
  const quick = flags.quick ? QUICK : undefined;
  const models = selectModels(flags.models);
  const paths = selectPaths(flags.paths);
  const trainBackend = trainBackendKind(flags["train-backend"]);
  const epochs = integerFlag("epochs", flags.epochs, 0) ?? quick?.epochs ?? PROTOCOL.epochs;
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const seed = integerFlag("seed", flags.seed, 0) ?? PROTOCOL.seed;
  const schedule = parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule);
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1) ?? quick?.trainLimit;
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1) ?? quick?.testLimit;
  const measure = {
    batchSize,
    warmup: integerFlag("warmup", flags.warmup, 0) ?? quick?.warmup ?? WARMUP_BATCHES,
    batches: integerFlag("timed-batches", flags["timed-batches"], 1) ?? quick?.timedBatches ?? TIMED_BATCHES,
    maxTimingSeconds: integerFlag("max-timing-seconds", flags["max-timing-seconds"], 1) ??
      quick?.maxTimingSeconds,
  };
  const out = flags.out ?? quick?.out ?? "results/sweep.csv";
  const figures = flags.figures ?? quick?.figures ?? "results/figures";
  const saveDir = flags["save-dir"];
  // Fail before hours of work, not after: every output must be writable.
  await ensureWritableDir(dirname(out));
  await ensureWritableDir(figures);
  if (saveDir) await ensureWritableDir(saveDir);
  const earlier = await readResults(out);
  const data = await loadStudyData(flags.data, trainLimit, testLimit, batchSize);
  checkSameProtocol(earlier, out, models, epochs, epochs * data.trainCount);

  const adapters = new Map<BackendKind, string>();
  for (const kind of new Set<BackendKind>([trainBackend, ...paths])) {
    const backend = await createBackend(kind);
    console.log(adapterLine(backend));
    adapters.set(kind, backend.adapter.name);
    backend.destroy();
  }
  const epochCount = count(epochs, "epoch");
  const protocol = `${epochCount} of ${data.trainCount} images (batch ${batchSize}, seed ${seed})`;
  console.log(
    `sweep: ${models.length} models on ${paths.join(" and ")}, trained on ${trainBackend} for ${protocol}; ` +
      `${data.testCount} test images; results in ${out}`,
  );
  const sweep: Sweep = {
    models,
    paths,
    trainBackend,
    epochs,
    batchSize,
    seed,
    schedule,
    data,
    measure,
    out,
    saveDir,
    adapters,
  };
  const done = doneKeys(earlier);
  const start = performance.now();
  let written = 0;
  for (const [index, name] of models.entries()) {
    const pending = paths.filter((path) => !done.has(resultKey({ model: name, path })));
    const tag = `[${index + 1}/${models.length}] ${name}`;
    if (pending.length === 0) console.log(`${tag}: measured in an earlier run, skipped`);
    else written += await sweepModel(sweep, name, pending, tag);
  }
  const minutes = (performance.now() - start) / 60000;
  console.log(`sweep: ${written} rows written in ${minutes.toFixed(1)} min`);
  const rows = await readResults(out);
  if (!rows.some((row) => row.status === "ok")) {
    console.log("sweep: no rows with status ok, so no figures");
    return;
  }
  const files = await writeFigures(rows, figures);
  console.log(`sweep: wrote ${files.length} figure files to ${figures}`);
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function trainBackendKind(value: string | undefined): BackendKind {
  const kind = value ?? "webgpu";
  if (kind !== "webgpu" && kind !== "cpu") throw new UserError(`--train-backend ${kind}: use webgpu or cpu`);
  return kind;
}

/** A results file from another protocol would mix two studies in one table: refuse it. */
function checkSameProtocol(
  rows: readonly ResultRow[],
  out: string,
  models: readonly string[],
  epochs: number,
  trainImages: number,
): void {
  const other = rows.find((row) =>
    models.includes(row.model) && row.epochs !== null &&
    (row.epochs !== epochs || row.train_images !== trainImages)
  );
  if (other) {
    throw new UserError(
      `${out} has ${other.model} trained for ${other.epochs} epochs on ${other.train_images} images, ` +
        `this run asks for ${epochs} on ${trainImages}: choose another --out, or move the file aside`,
    );
  }
}

/** Trains (or loads) one model and measures it on each pending path; returns the rows written. */
async function sweepModel(
  sweep: Sweep,
  name: string,
  pending: ExecutionPath[],
  tag: string,
): Promise<number> {
  let trained: Trained;
  try {
    trained = await fromCheckpoint(sweep, name, tag) ?? await train(sweep, modelByName(name), tag);
  } catch (error) {
    const status = failureStatus(error, `training on ${sweep.trainBackend}: `);
    console.log(`${tag}: ${status}`);
    for (const path of pending) await appendResult(sweep.out, resultRow(sweep, name, path, status));
    return pending.length;
  }
  for (const path of pending) {
    let measured: PathMeasurement;
    try {
      measured = await measureOnPath(path, name, trained.load, sweep.data, {
        ...sweep.measure,
        progressLabel: `${tag} ${path}`,
      });
    } catch (error) {
      const status = failureStatus(error);
      console.log(`${tag} ${path}: ${status}`);
      await appendResult(sweep.out, resultRow(sweep, name, path, status, trained));
      continue;
    }
    console.log(`${tag} ${path}: ${describeMeasurement(measured)}`);
    await appendResult(sweep.out, resultRow(sweep, name, path, "ok", trained, measured));
  }
  return pending.length;
}

/** Trains a model on a fresh backend of its own, whose ledger's peak is then this training's alone. */
async function train(sweep: Sweep, spec: ModelSpec, tag: string): Promise<Trained> {
  const { data, epochs, trainBackend } = sweep;
  const backend = await createBackend(trainBackend);
  const device = memoryDevice(trainBackend);
  try {
    // The data sets first, so that the peak less their bytes is exactly the model's own peak.
    const sets = deviceDataSets(backend, data);
    const dataBytes = backend.ledger.live(device);
    const model = new CompiledModel(backend, spec, sweep.batchSize, sweep.seed);
    const parameters = model.parameterCount();
    console.log(
      `${tag}: ${parameters.toLocaleString("en")} parameters; training on ${trainBackend}, ` +
        `${count(epochs, "epoch")} of ${data.trainCount} images`,
    );
    const run = await trainModel(
      model,
      sets,
      { epochs, schedule: sweep.schedule, seed: sweep.seed, trainCount: data.trainCount },
      {
        testEachEpoch: false,
        progressLabel: tag,
        onEpoch: (result, pass) =>
          console.log(
            `${tag} epoch ${result.epoch}/${epochs}  lr ${result.learningRate}  loss ${
              result.trainLoss.toFixed(4)
            }  ` +
              `${(pass.samples / pass.seconds).toFixed(0)} img/s  ${pass.seconds.toFixed(1)} s`,
          ),
      },
    );
    const peakTrainBytes = backend.ledger.peak(device) - dataBytes;
    const values = new Map<string, Float32Array>();
    for (const parameter of model.parameters) {
      values.set(parameter.name, (await backend.read(parameter.value)) as Float32Array);
    }
    const trained = { parameters, trainSeconds: run.trainSeconds, peakTrainBytes };
    if (sweep.saveDir) {
      const testAccuracy = (await evaluate(model, sets.test)).accuracy;
      const path = checkpointPath(sweep.saveDir, spec.name);
      const tensors = model.parameters.map((p) => ({
        name: p.name,
        shape: [...p.shape],
        data: values.get(p.name)!,
      }));
      await saveSafetensors(path, tensors, {
        ...protocolMetadata(sweep, spec.name),
        testAccuracy: String(testAccuracy),
        pad: String(spec.pad),
        parameters: String(parameters),
        trainSeconds: String(run.trainSeconds),
        peakTrainBytes: String(peakTrainBytes),
      });
      console.log(`${tag}: saved ${path}`);
    }
    return { ...trained, load: (inference) => inference.loadParameters(values) };
  } finally {
    backend.destroy();
  }
}

function checkpointPath(saveDir: string, name: string): string {
  return `${saveDir}/${name}.safetensors`;
}

/** What a checkpoint must have been trained with to stand in for training now. */
function protocolMetadata(sweep: Sweep, name: string): Record<string, string> {
  return {
    model: name,
    epochs: String(sweep.epochs),
    seed: String(sweep.seed),
    batchSize: String(sweep.batchSize),
    learningRateSchedule: sweep.schedule.map((e) => `${e.fromEpoch}:${e.rate}`).join(","),
    trainImagesPerEpoch: String(sweep.data.trainCount),
    trainBackend: sweep.trainBackend,
    pixelMean: String(sweep.data.stats.mean),
    pixelStd: String(sweep.data.stats.std),
  };
}

/** The model as an earlier run saved it in --save-dir, if it was trained exactly as this run would. */
async function fromCheckpoint(sweep: Sweep, name: string, tag: string): Promise<Trained | undefined> {
  if (!sweep.saveDir) return undefined;
  const path = checkpointPath(sweep.saveDir, name);
  let metadata: Record<string, string>;
  try {
    metadata = (await loadSafetensors(path)).metadata;
  } catch (error) {
    const missing = error instanceof UserError && /no such file/.test(error.message);
    if (!missing) console.log(`${tag}: not using ${path} (${(error as Error).message}); training again`);
    return undefined;
  }
  const expected = protocolMetadata(sweep, name);
  const differs = Object.keys(expected).find((key) => metadata[key] !== expected[key]);
  if (differs) {
    console.log(`${tag}: ${path} was trained with another ${differs}; training again`);
    return undefined;
  }
  console.log(`${tag}: trained in an earlier run, measuring ${path}`);
  return {
    parameters: Number(metadata.parameters),
    trainSeconds: Number(metadata.trainSeconds),
    peakTrainBytes: Number(metadata.peakTrainBytes),
    load: (model) => loadCheckpoint(model, path),
  };
}

/**
 * A model that cannot run here (the adapter's limits, out of memory) is skipped; a diverged loss, a lost
 * device or anything unforeseen is a failure. Both are final: a rerun does not repeat them.
 */
function failureStatus(error: unknown, context = ""): string {
  const reason = context + String((error as Error)?.message ?? error).replace(/\s+/g, " ").trim();
  if (Deno.env.get("DEBUG")) console.error((error as Error)?.stack);
  if (error instanceof DivergedError) return `failed: ${reason}`;
  if (error instanceof UserError || /out of memory/i.test(reason)) return `skipped: ${reason}`;
  return `failed: ${reason}`;
}

/**
 * One CSV row. train_seconds is the model's (both rows); peak_train_bytes only on the row of the
 * path that trained, the only device whose training memory was measured.
 */
function resultRow(
  sweep: Sweep,
  name: string,
  path: ExecutionPath,
  status: string,
  trained?: Trained,
  measured?: PathMeasurement,
): ResultRow {
  const [hidden1 = null, hidden2 = null] = hiddenSizes(name);
  const timing = measured?.timing.perBatch;
  return {
    model: name,
    family: familyOf(name),
    hidden1,
    hidden2,
    parameters: measured?.parameters ?? trained?.parameters ?? null,
    path,
    adapter: measured?.adapter ?? sweep.adapters.get(path) ?? "",
    epochs: sweep.epochs,
    train_images: sweep.epochs * sweep.data.trainCount,
    test_accuracy: measured?.testAccuracy ?? null,
    infer_ms_median: timing?.median ?? null,
    infer_ms_p10: timing?.p10 ?? null,
    infer_ms_p90: timing?.p90 ?? null,
    clock: measured?.timing.clock ?? "",
    param_bytes: measured?.memory.parameterBytes ?? null,
    activation_bytes: measured?.memory.activationBytes ?? null,
    peak_infer_bytes: measured?.peakInferBytes ?? null,
    peak_train_bytes: path === sweep.trainBackend ? trained?.peakTrainBytes ?? null : null,
    train_seconds: trained?.trainSeconds ?? null,
    status,
  };
}

if (import.meta.main) await runMain(main);
