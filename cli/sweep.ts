/**
 * deno task sweep [flags]: the study. Each model is trained once per seed with the lab's protocol on
 * --train-backend, then measured on each path (accuracy, inference time, memory); one row per model,
 * path and seed lands in the results store (store.ts) the moment it is known, and a rerun skips the
 * rows already final. Before training, a few steps of each model are timed, so the sweep can say what
 * the study costs, skip what exceeds --budget-hours, and start the most expensive models first.
 * --jobs N trains N models at once, each in a process of its own (this file again, with --task);
 * training state is saved after every epoch, so a killed sweep resumes a model at its next epoch.
 * The figures are written at the end.
 */
import { dirname } from "node:path";
import type { BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { checkOutputFile, checkWritableDir, ensureWritableDir } from "../io/files.ts";
import { loadCheckpoint, loadSafetensors, saveSafetensors } from "../io/checkpoint_file.ts";
import type { CompiledModel, ModelSpec } from "../models/model.ts";
import { compileModel, kernelMode } from "../io/tuning_cache.ts";
import { evaluate } from "../models/epoch.ts";
import { modelByName } from "../models/zoo.ts";
import { checkRange, flagRanges, integerFlag, numberFlag, parseFlags, runMain } from "../io/command.ts";
import { learningRateForEpoch, parseSchedule, PROTOCOL, type ScheduleEntry } from "../lab/protocol.ts";
import { writeFigures } from "../lab/report.ts";
import { type ExecutionPath, isFinalStatus, type ResultRow } from "../lab/results.ts";
import { adapterLine, deviceDataSets, loadStudyData, type StudyData } from "../lab/session.ts";
import { createDenoBackend } from "../io/webgpu.ts";
import { BUDGET_SKIP, ResultStore, type StudyProtocol } from "../lab/store.ts";
import {
  describeMeasurement,
  familyOf,
  hiddenSizes,
  measuredColumns,
  measureOnPath,
  type MeasureOptions,
  memoryDevice,
  type PathMeasurement,
  selectModels,
  selectPaths,
  STUDY_MODELS,
} from "../lab/study.ts";
import { DivergedError, secondsPerTrainingStep, type TrainingProgress, trainModel } from "../lab/trainer.ts";

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

/**
 * The permissions of a job's process: the sweep task's. It starts no process, but --allow-run lets it
 * check that the sweep holding a claim is still alive (store.ts).
 */
const JOB_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
  "--allow-run",
  "--unstable-webgpu",
];

const USAGE =
  `usage: deno task sweep [--models LIST] [--seeds 0] [--paths cpu,webgpu] [--train-backend webgpu|cpu]
    [--epochs ${PROTOCOL.epochs}] [--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}]
    [--train-limit N] [--test-limit N] [--data DIR]
    [--warmup ${WARMUP_BATCHES}] [--timed-batches ${TIMED_BATCHES}] [--max-timing-seconds S]
    [--jobs 1] [--shard K/N] [--budget-hours H] [--time-limit-minutes M] [--estimate-only]
    [--out results/sweep.csv] [--figures results/figures] [--save-dir DIR] [--kernels fixed|tuned] [--quick]
  --models: model names and families (lenet5, mlp1, mlp2), comma-separated; all ${STUDY_MODELS.length} by default
  --seeds: seeds to train each model with, a list and/or ranges (0,1,2 or 0-2; also --seed N); every seed is a row
  --jobs: models trained at once, each in a process of its own, the costliest first (default 1; on a
    2-core machine with a software adapter, 2 jobs trained and measured four small MLPs in 39 s, 1 job in 61 s)
  --shard K/N: run only the K-th of N disjoint parts of the model-and-seed list (e.g. a cluster job
    array); merge the parts' results with deno task report --merge A.csv B.csv ...
  --budget-hours: skip a model whose estimated training time exceeds H hours (status "skipped: needs ~X h")
  --time-limit-minutes: stop cleanly after M minutes: finished rows stay, unfinished models are listed
    and resume at their next epoch when the sweep is run again
  --estimate-only: time a few training steps of each model, print the expected training times, stop
  --max-timing-seconds: time fewer batches (at least 10) on a path where --timed-batches would take longer
  --save-dir: a checkpoint per model and seed, DIR/MODEL-seedS.safetensors; a rerun measures from it
  --quick: --epochs ${QUICK.epochs} --train-limit ${QUICK.trainLimit} --test-limit ${QUICK.testLimit} ` +
  `--warmup ${QUICK.warmup} --timed-batches ${QUICK.timedBatches}
    --max-timing-seconds ${QUICK.maxTimingSeconds} --out ${QUICK.out} --figures ${QUICK.figures} ` +
  `(flags given win); a smoke run of the whole study: 4.0 minutes measured on a quiet 2-core machine,
    8.5 on shared cores
  The results store (OUT with .sqlite for .csv) keeps every row once, whoever writes it; a rerun
  into it with another protocol (epochs, batch size, schedule, seeds, data) is refused.
${
    flagRanges([
      "epochs",
      "batch-size",
      "seed",
      "seeds",
      "train-limit",
      "test-limit",
      "warmup",
      "timed-batches",
      "max-timing-seconds",
      "jobs",
      "shard",
      "budget-hours",
      "time-limit-minutes",
    ])
  }`;

const FLAGS = {
  models: { type: "string" },
  paths: { type: "string" },
  "train-backend": { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  "lr-schedule": { type: "string" },
  seed: { type: "string" },
  seeds: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  "max-timing-seconds": { type: "string" },
  jobs: { type: "string" },
  shard: { type: "string" },
  "budget-hours": { type: "string" },
  "time-limit-minutes": { type: "string" },
  "estimate-only": { type: "boolean" },
  out: { type: "string" },
  figures: { type: "string" },
  "save-dir": { type: "string" },
  quick: { type: "boolean" },
  // Internal: a job's process trains this one MODEL@SEED of the sweep its parent runs.
  task: { type: "string" },
  kernels: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

interface Sweep {
  readonly models: string[];
  readonly seeds: number[];
  readonly paths: ExecutionPath[];
  readonly trainBackend: BackendKind;
  readonly epochs: number;
  readonly batchSize: number;
  readonly schedule: ScheduleEntry[];
  readonly data: StudyData;
  readonly dataset: string;
  readonly measure: Omit<MeasureOptions, "progressLabel">;
  readonly out: string;
  readonly store: ResultStore;
  /** Where a model's training state waits between epochs: OUT less .csv, plus ".state". */
  readonly stateDir: string;
  readonly saveDir?: string;
  /** Adapter names by path, for the rows of measurements that never ran. */
  readonly adapters: Map<BackendKind, string>;
  /** performance.now() after which no epoch or model starts (Infinity: no limit). */
  readonly deadline: number;
}

/** One model trained with one seed: the sweep's unit of work. */
interface Task {
  readonly model: string;
  readonly seed: number;
  /** The paths still without a final row. */
  readonly pending: ExecutionPath[];
  /** Expected training seconds, when estimated. */
  estimate?: number;
}

/** What the rows of a model take from its training. */
interface Trained {
  readonly parameters: number;
  readonly trainSeconds: number;
  readonly peakTrainBytes: number;
  readonly load: (model: CompiledModel) => void | Promise<unknown>;
}

/** The time limit came: the model stopped after a finished epoch, and resumes there. */
class TimeLimitReached extends Error {}

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
  const seeds = parseSeeds(flags.seeds, flags.seed);
  const schedule = parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule);
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1) ?? quick?.trainLimit;
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1) ?? quick?.testLimit;
  const jobs = integerFlag("jobs", flags.jobs, 1) ?? 1;
  const shard = parseShard(flags.shard);
  const budgetHours = positiveNumberFlag("budget-hours", flags["budget-hours"]);
  const timeLimitMinutes = positiveNumberFlag("time-limit-minutes", flags["time-limit-minutes"]);
  const task = flags.task === undefined ? undefined : parseTask(flags.task, models, seeds);
  const measure = {
    batchSize,
    warmup: integerFlag("warmup", flags.warmup, 0) ?? quick?.warmup ?? WARMUP_BATCHES,
    batches: integerFlag("timed-batches", flags["timed-batches"], 1) ?? quick?.timedBatches ?? TIMED_BATCHES,
    maxTimingSeconds: integerFlag("max-timing-seconds", flags["max-timing-seconds"], 1) ??
      quick?.maxTimingSeconds,
    kernels: flags.kernels,
  };
  kernelMode(flags.kernels, "webgpu"); // a bad --kernels fails here, before any work
  const out = flags.out ?? quick?.out ?? "results/sweep.csv";
  const figures = flags.figures ?? quick?.figures ?? "results/figures";
  const saveDir = flags["save-dir"];
  const stateDir = `${out.replace(/\.csv$/i, "")}.state`;
  // Fail before hours of work, not after: every output must be writable.
  await checkOutputFile(out, "--out");
  await ensureWritableDir(dirname(out));
  await ensureWritableDir(stateDir);
  // Checked, not created: a sweep that fails leaves no empty figures folder (writeFigures creates it).
  if (!task && !flags["estimate-only"]) await checkWritableDir(figures);
  if (saveDir) await ensureWritableDir(saveDir);
  const data = await loadStudyData(flags.data, trainLimit, testLimit, batchSize);
  const dataset = flags.data ?? "mnist";
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
    if (flags["estimate-only"]) return;
    const runnable = budgetHours === undefined ? tasks : skipOverBudget(sweep, tasks, budgetHours);
    // The costliest first, so that the slowest model does not start last.
    runnable.sort((a, b) => (b.estimate ?? 0) - (a.estimate ?? 0));
    const unfinished = jobs === 1
      ? await runInProcess(sweep, runnable)
      : await runJobs(sweep, runnable, jobs);
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

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function trainBackendKind(value: string | undefined): BackendKind {
  const kind = value ?? "webgpu";
  if (kind !== "webgpu" && kind !== "cpu") throw new UserError(`--train-backend ${kind}: use webgpu or cpu`);
  return kind;
}

/** "0,1,2", "0-2" or "0,5-7": each seed once, in the order given; --seed N is the one-seed form. */
export function parseSeeds(seeds: string | undefined, seed: string | undefined): number[] {
  if (seeds !== undefined && seed !== undefined) throw new UserError("give --seeds or --seed, not both");
  if (seeds === undefined) return [integerFlag("seed", seed, 0) ?? PROTOCOL.seed];
  const list: number[] = [];
  for (const part of seeds.split(",").map((p) => p.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    const [from, to] = range ? [Number(range[1]), Number(range[2])] : [Number(part), Number(part)];
    if (!(range || /^\d+$/.test(part)) || !Number.isSafeInteger(to) || from > to || to - from >= 1000) {
      throw new UserError(`--seeds ${seeds}: "${part}" is not a seed or a range A-B (e.g. 0,1,2 or 0-2)`);
    }
    checkRange("seeds", to, `--seeds ${seeds}: seed ${to}`);
    for (let s = from; s <= to; s++) list.push(s);
  }
  return [...new Set(list)];
}

/** --shard K/N: 1 <= K <= N. */
function parseShard(value: string | undefined): { index: number; of: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const [k, n] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(k >= 1 && k <= n)) throw new UserError(`--shard ${value}: use K/N with 1 <= K <= N, e.g. 2/8`);
  checkRange("shard", n, `--shard ${value}: N`);
  return { index: k - 1, of: n };
}

function positiveNumberFlag(name: string, value: string | undefined): number | undefined {
  return numberFlag(name, value);
}

function parseTask(value: string, models: readonly string[], seeds: readonly number[]) {
  const [model, seedText] = value.split("@");
  const seed = Number(seedText);
  if (!models.includes(model) || !seeds.includes(seed)) {
    throw new UserError(`--task ${value}: not a MODEL@SEED of this sweep's --models and --seeds`);
  }
  return { model, seed };
}

/**
 * What every row of one store shares. The seed list belongs to it: a mean over seeds 0-2 and one
 * over seed 0 are not the same figure; studies with other seeds merge with `report --merge`.
 */
function studyProtocol(
  epochs: number,
  batchSize: number,
  schedule: readonly ScheduleEntry[],
  seeds: readonly number[],
  data: StudyData,
  dataset: string,
  trainBackend: BackendKind,
): StudyProtocol {
  return {
    epochs: String(epochs),
    "batch size": String(batchSize),
    "learning-rate schedule": formatSchedule(schedule),
    seeds: seeds.join(","),
    "training images per epoch": String(data.trainCount),
    "test images": String(data.testCount),
    "data set": dataset,
    "training backend": trainBackend,
  };
}

function formatSchedule(schedule: readonly ScheduleEntry[]): string {
  return schedule.map((e) => `${e.fromEpoch}:${e.rate}`).join(",");
}

/** The paths of a model and seed without a final row (a row skipped for the budget counts as pending). */
function pendingPaths(sweep: Sweep, model: string, seed: number): ExecutionPath[] {
  const final = new Set(
    sweep.store.rows()
      .filter((row) => row.model === model && (row.seed ?? 0) === seed)
      .filter((row) => isFinalStatus(row.status) && !BUDGET_SKIP.test(row.status))
      .map((row) => row.path),
  );
  return sweep.paths.filter((path) => !final.has(path));
}

/** Models x seeds in the study's order, this shard's share, less what an earlier run finished. */
function planTasks(sweep: Sweep, shard: { index: number; of: number } | undefined): Task[] {
  const all = sweep.models.flatMap((model) => sweep.seeds.map((seed) => ({ model, seed })));
  const mine = shard ? all.filter((_, i) => i % shard.of === shard.index) : all;
  const tasks: Task[] = [];
  for (const { model, seed } of mine) {
    const pending = pendingPaths(sweep, model, seed);
    if (pending.length === 0) console.log(`${model} seed ${seed}: measured in an earlier run, skipped`);
    else tasks.push({ model, seed, pending });
  }
  return tasks;
}

/**
 * Times a few training steps of each model and prints each model's expected training time and the
 * total; the store keeps the last cost measured per model, adapter and batch size, for the record.
 */
async function estimateTasks(sweep: Sweep, tasks: Task[]): Promise<void> {
  const adapter = sweep.adapters.get(sweep.trainBackend)!;
  const stepsPerEpoch = Math.ceil(sweep.data.trainCount / sweep.batchSize);
  const costs = new Map<string, number | Error>();
  for (const model of new Set(tasks.map((t) => t.model))) {
    if (performance.now() >= sweep.deadline) {
      costs.set(model, new Error("the time limit came first"));
      continue;
    }
    // Measured again on every run: a cost taken on a loaded machine must not outlive the load.
    try {
      const seconds = await measureStepCost(sweep, model);
      sweep.store.saveStepCost(model, adapter, sweep.batchSize, seconds);
      costs.set(model, seconds);
    } catch (error) {
      costs.set(model, error as Error);
    }
  }
  let total = 0;
  console.log(
    `sweep: expected training time on ${adapter} (${sweep.epochs} epochs of ${stepsPerEpoch} steps):`,
  );
  for (const task of tasks) {
    const cost = costs.get(task.model)!;
    if (cost instanceof Error) {
      console.log(`  ${task.model} seed ${task.seed}: cannot estimate (${oneLine(cost.message)})`);
      continue;
    }
    task.estimate = cost * stepsPerEpoch * sweep.epochs;
    total += task.estimate;
    console.log(
      `  ${task.model} seed ${task.seed}: ~${formatDuration(task.estimate)} (${formatStep(cost)}/step)`,
    );
  }
  console.log(`  total: ~${formatDuration(total)} of training, one model at a time`);
}

async function measureStepCost(sweep: Sweep, model: string): Promise<number> {
  const backend = await createDenoBackend(sweep.trainBackend);
  try {
    const sets = deviceDataSets(backend, sweep.data);
    // The kernels its training will run (tuning here fills the cache that training then reads).
    const mode = kernelMode(sweep.measure.kernels, sweep.trainBackend);
    const compiled = await compileModel(backend, modelByName(model), sweep.batchSize, 0, mode);
    return await secondsPerTrainingStep(compiled, sets.train, learningRateForEpoch(1, sweep.schedule));
  } finally {
    backend.destroy();
  }
}

/** Tasks whose estimate exceeds the budget get a final-for-now row saying what they need. */
function skipOverBudget(sweep: Sweep, tasks: Task[], budgetHours: number): Task[] {
  const adapter = sweep.adapters.get(sweep.trainBackend)!;
  const kept: Task[] = [];
  for (const task of tasks) {
    if (task.estimate === undefined || task.estimate <= budgetHours * 3600) {
      kept.push(task);
      continue;
    }
    const status = `skipped: needs ~${formatHours(task.estimate)} h on ${adapter} (budget ${budgetHours} h)`;
    console.log(`${task.model} seed ${task.seed}: ${status}`);
    for (const path of task.pending) record(sweep, resultRow(sweep, task.model, task.seed, path, status));
  }
  return kept;
}

function formatHours(seconds: number): string {
  const hours = seconds / 3600;
  return hours >= 10 ? hours.toFixed(0) : hours.toPrecision(2);
}

function formatDuration(seconds: number): string {
  if (seconds >= 3600) return `${formatHours(seconds)} h`;
  if (seconds >= 60) return `${(seconds / 60).toFixed(1)} min`;
  return `${seconds.toFixed(0)} s`;
}

function formatStep(seconds: number): string {
  return seconds >= 0.1 ? `${seconds.toFixed(2)} s` : `${(seconds * 1000).toPrecision(3)} ms`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function describeUnfinished(task: Task): string {
  return `${task.model} seed ${task.seed}`;
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
 * Runs the tasks in up to `jobs` processes at once, each `sweep.ts --task MODEL@SEED` with this
 * sweep's flags; their lines are passed through as they come. At the time limit the running jobs are
 * stopped (their last finished epoch is saved) and listed with the ones never started.
 */
async function runJobs(sweep: Sweep, tasks: Task[], jobs: number): Promise<Task[]> {
  const queue = [...tasks];
  const unfinished: Task[] = [];
  const running = new Set<Deno.ChildProcess>();
  const timer = Number.isFinite(sweep.deadline)
    ? setTimeout(() => {
      for (const child of running) child.kill("SIGTERM");
    }, Math.max(0, sweep.deadline - performance.now()))
    : undefined;
  let started = 0;
  const worker = async () => {
    for (let task = queue.shift(); task; task = queue.shift()) {
      if (performance.now() >= sweep.deadline) {
        unfinished.push(task, ...queue.splice(0));
        return;
      }
      const tag = `[${++started}/${tasks.length}]`;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...JOB_PERMISSIONS,
          new URL(import.meta.url).pathname,
          ...jobArgs(Deno.args),
          "--task",
          `${task.model}@${task.seed}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      running.add(child);
      const [status] = await Promise.all([
        child.status,
        relayLines(child.stdout, (line) => console.log(`${tag} ${line}`)),
        relayLines(child.stderr, (line) => console.error(`${tag} ${line}`)),
      ]);
      running.delete(child);
      if (!status.success) {
        if (performance.now() >= sweep.deadline) unfinished.push(task);
        else {console.log(
            `${tag} ${task.model} seed ${task.seed}: its job ended with exit code ${status.code}`,
          );}
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  clearTimeout(timer);
  return unfinished;
}

/** The parent's flags less those that only the parent acts on. */
function jobArgs(args: readonly string[]): string[] {
  const parentOnly = new Set(["--jobs", "--shard", "--budget-hours", "--time-limit-minutes", "--figures"]);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [name] = args[i].split("=");
    if (name === "--estimate-only") continue;
    if (parentOnly.has(name)) {
      if (!args[i].includes("=")) i++;
      continue;
    }
    kept.push(args[i]);
  }
  return kept;
}

async function relayLines(stream: ReadableStream<Uint8Array>, emit: (line: string) => void): Promise<void> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) emit(line);
  }
  if (buffered) emit(buffered);
}

/** Writes a row unless another writer finished it first (then says so). */
function record(sweep: Sweep, row: ResultRow): void {
  if (!sweep.store.record(row)) {
    console.log(`${row.model} seed ${row.seed} ${row.path}: already final in ${sweep.out}, kept`);
  }
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

function statePath(sweep: Sweep, task: Pick<Task, "model" | "seed">): string {
  return `${sweep.stateDir}/${task.model}-seed${task.seed}.safetensors`;
}

async function removeState(sweep: Sweep, task: Task): Promise<void> {
  await Deno.remove(statePath(sweep, task)).catch(() => {});
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
    const run = await trainModel(
      model,
      sets,
      { epochs, schedule: sweep.schedule, seed: task.seed, trainCount: data.trainCount },
      {
        testEachEpoch: false,
        progressLabel: tag,
        resume,
        afterEpoch: async (progress) => {
          if (progress.epoch < epochs) await saveState(sweep, task, model, progress);
          if (progress.epoch < epochs && performance.now() >= sweep.deadline) {
            console.log(`${tag}: time limit reached after epoch ${progress.epoch}; a rerun resumes here`);
            throw new TimeLimitReached();
          }
        },
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
    const values = await parameterValues(model);
    const trained = { parameters, trainSeconds: run.trainSeconds, peakTrainBytes };
    if (sweep.saveDir) {
      const testAccuracy = (await evaluate(model, sets.test)).accuracy;
      const path = checkpointPath(sweep.saveDir, task);
      await saveSafetensors(path, namedTensors(model, values), {
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

function namedTensors(model: CompiledModel, values: ReadonlyMap<string, Float32Array>) {
  return model.parameters.map((p) => ({ name: p.name, shape: [...p.shape], data: values.get(p.name)! }));
}

async function saveState(sweep: Sweep, task: Task, model: CompiledModel, progress: TrainingProgress) {
  await saveSafetensors(statePath(sweep, task), namedTensors(model, await parameterValues(model)), {
    ...protocolMetadata(sweep, task),
    epochsDone: String(progress.epoch),
    shuffleState: progress.shuffleState.join(","),
    trainSeconds: String(progress.trainSeconds),
    submits: String(progress.submits),
  });
}

/** The saved state of an interrupted training of this task, loaded into `model`, if there is one. */
async function loadState(
  sweep: Sweep,
  task: Task,
  model: CompiledModel,
  tag: string,
): Promise<TrainingProgress | undefined> {
  const path = statePath(sweep, task);
  let metadata: Record<string, string>;
  try {
    metadata = (await loadSafetensors(path)).metadata;
  } catch (error) {
    const missing = error instanceof UserError && /no such file/.test(error.message);
    if (!missing) console.log(`${tag}: not resuming from ${path} (${oneLine((error as Error).message)})`);
    return undefined;
  }
  const expected = protocolMetadata(sweep, task);
  const differs = Object.keys(expected).find((key) => metadata[key] !== expected[key]);
  const epoch = Number(metadata.epochsDone);
  if (differs || !(Number.isInteger(epoch) && epoch >= 1 && epoch < sweep.epochs)) {
    console.log(
      `${tag}: not resuming from ${path} (${differs ? `another ${differs}` : "no epoch to resume"})`,
    );
    return undefined;
  }
  await loadCheckpoint(model, path);
  return {
    epoch,
    shuffleState: metadata.shuffleState.split(",").map(Number),
    trainSeconds: Number(metadata.trainSeconds),
    submits: Number(metadata.submits),
  };
}

function checkpointPath(saveDir: string, task: Pick<Task, "model" | "seed">): string {
  return `${saveDir}/${task.model}-seed${task.seed}.safetensors`;
}

/** What a checkpoint must have been trained with to stand in for training now. */
function protocolMetadata(sweep: Sweep, task: Pick<Task, "model" | "seed">): Record<string, string> {
  return {
    model: task.model,
    epochs: String(sweep.epochs),
    seed: String(task.seed),
    batchSize: String(sweep.batchSize),
    learningRateSchedule: formatSchedule(sweep.schedule),
    trainImagesPerEpoch: String(sweep.data.trainCount),
    trainBackend: sweep.trainBackend,
    pixelMean: String(sweep.data.stats.mean),
    pixelStd: String(sweep.data.stats.std),
  };
}

/** The model as an earlier run saved it in --save-dir, if it was trained exactly as this run would. */
async function fromCheckpoint(sweep: Sweep, task: Task, tag: string): Promise<Trained | undefined> {
  if (!sweep.saveDir) return undefined;
  const path = checkpointPath(sweep.saveDir, task);
  let metadata: Record<string, string>;
  try {
    metadata = (await loadSafetensors(path)).metadata;
  } catch (error) {
    const missing = error instanceof UserError && /no such file/.test(error.message);
    if (!missing) console.log(`${tag}: not using ${path} (${(error as Error).message}); training again`);
    return undefined;
  }
  const expected = protocolMetadata(sweep, task);
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
  const reason = context + oneLine(String((error as Error)?.message ?? error));
  if (Deno.env.get("DEBUG")) console.error((error as Error)?.stack);
  if (error instanceof DivergedError) return `failed: ${reason}`;
  if (error instanceof UserError || /out of memory/i.test(reason)) return `skipped: ${reason}`;
  return `failed: ${reason}`;
}

/**
 * One row, carrying the whole protocol. train_seconds is the model's (every path's row);
 * peak_train_bytes only on the row of the path that trained, the only device whose training memory
 * was measured.
 */
function resultRow(
  sweep: Sweep,
  name: string,
  seed: number,
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
    seed,
    batch_size: sweep.batchSize,
    lr_schedule: formatSchedule(sweep.schedule),
    test_images: sweep.data.testCount,
    dataset: sweep.dataset,
    test_accuracy: measured?.testAccuracy ?? null,
    infer_ms_median: timing?.median ?? null,
    infer_ms_p10: timing?.p10 ?? null,
    infer_ms_p90: timing?.p90 ?? null,
    clock: measured?.timing.clock ?? "",
    param_bytes: measured?.memory.parameterBytes ?? null,
    activation_bytes: measured?.memory.activationBytes ?? null,
    peak_infer_bytes: measured?.peakInferBytes ?? null,
    peak_train_bytes: path === sweep.trainBackend ? trained?.peakTrainBytes ?? null : null,
    ...measuredColumns(measured),
    train_seconds: trained?.trainSeconds ?? null,
    status,
  };
}

if (import.meta.main) await runMain(main);
