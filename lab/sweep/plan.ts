/**
 * The sweep's plan: the work (models x seeds, a shard's share, less what is final in the store), the
 * protocol every row of a store shares, what each model's training will cost (a few steps timed) and
 * which models the budget leaves out. Also the parsers of the flags that say which work: --seeds,
 * --shard, --task, --train-backend.
 */
import type { BackendKind } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { checkRange, integerFlag } from "../../io/command.ts";
import { compileModel, kernelMode } from "../../io/tuning_cache.ts";
import { createDenoBackend } from "../../io/webgpu.ts";
import { secondsPerTrainingStep } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import { learningRateForEpoch, PROTOCOL, type ScheduleEntry } from "../protocol.ts";
import { type ExecutionPath, isFinalStatus } from "../results.ts";
import { deviceDataSets, type StudyData } from "../session.ts";
import { BUDGET_SKIP, type ResultStore, type StudyProtocol } from "../store.ts";
import type { MeasureOptions } from "../study.ts";

/** A sweep as it runs: what it trains and measures, how, and where its results go. */
export interface Sweep {
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
export interface Task {
  readonly model: string;
  readonly seed: number;
  /** The paths still without a final row. */
  readonly pending: ExecutionPath[];
  /** Expected training seconds, when estimated. */
  estimate?: number;
}

/** The K-th (from 0) of N disjoint parts of the model-and-seed list. */
export interface Shard {
  readonly index: number;
  readonly of: number;
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
export function parseShard(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const [k, n] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(k >= 1 && k <= n)) throw new UserError(`--shard ${value}: use K/N with 1 <= K <= N, e.g. 2/8`);
  checkRange("shard", n, `--shard ${value}: N`);
  return { index: k - 1, of: n };
}

/** --task MODEL@SEED: one of this sweep's models and seeds (a job's process trains it). */
export function parseTask(value: string, models: readonly string[], seeds: readonly number[]) {
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
export function studyProtocol(
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

export function formatSchedule(schedule: readonly ScheduleEntry[]): string {
  return schedule.map((e) => `${e.fromEpoch}:${e.rate}`).join(",");
}

/** The paths of a model and seed without a final row (a row skipped for the budget counts as pending). */
export function pendingPaths(sweep: Sweep, model: string, seed: number): ExecutionPath[] {
  const final = new Set(
    sweep.store.rows()
      .filter((row) => row.model === model && (row.seed ?? 0) === seed)
      .filter((row) => isFinalStatus(row.status) && !BUDGET_SKIP.test(row.status))
      .map((row) => row.path),
  );
  return sweep.paths.filter((path) => !final.has(path));
}

/** Models x seeds in the study's order, this shard's share. */
export function shardWork(
  sweep: Pick<Sweep, "models" | "seeds">,
  shard: Shard | undefined,
): { model: string; seed: number }[] {
  const all = sweep.models.flatMap((model) => sweep.seeds.map((seed) => ({ model, seed })));
  return shard ? all.filter((_, i) => i % shard.of === shard.index) : all;
}

/** Models x seeds in the study's order, this shard's share, less what an earlier run finished. */
export function planTasks(sweep: Sweep, shard: Shard | undefined): Task[] {
  const tasks: Task[] = [];
  for (const { model, seed } of shardWork(sweep, shard)) {
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
export async function estimateTasks(sweep: Sweep, tasks: Task[]): Promise<void> {
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

/**
 * The tasks whose estimate exceeds the budget, each with the status its rows get (what it needs), and
 * the tasks kept.
 */
export function overBudget(
  sweep: Sweep,
  tasks: readonly Task[],
  budgetHours: number,
): { kept: Task[]; skipped: { task: Task; status: string }[] } {
  const adapter = sweep.adapters.get(sweep.trainBackend)!;
  const kept: Task[] = [], skipped: { task: Task; status: string }[] = [];
  for (const task of tasks) {
    if (task.estimate === undefined || task.estimate <= budgetHours * 3600) kept.push(task);
    else {
      const status = `skipped: needs ~${
        formatHours(task.estimate)
      } h on ${adapter} (budget ${budgetHours} h)`;
      skipped.push({ task, status });
    }
  }
  return { kept, skipped };
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

export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function describeUnfinished(task: Task): string {
  return `${task.model} seed ${task.seed}`;
}
