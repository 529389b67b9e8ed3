/**
 * The study on a Slurm cluster: the sweep's shards as one job array, and the merge of their parts as a
 * job that runs after all of them. This module writes the two job scripts, submits them through a
 * command runner (the real `sbatch` by default, anything in a test), reads the job ids Slurm answers,
 * waits for a job, and tells which rows of the study a merged result still lacks, by shard.
 *
 * Numbering: Slurm's array indices start at 0, the sweep's `--shard K/N` at 1: array task i runs
 * shard i + 1. The shard of a model and seed is the sweep's own rule (planTasks in cli/sweep.ts): the
 * list models x seeds in order, every N-th item from the (K-1)-th.
 */
import { DatabaseSync } from "node:sqlite";
import { UserError } from "../engine/errors.ts";
import { type ExecutionPath, isFinalStatus, type ResultRow } from "./results.ts";
import { storePath } from "./store.ts";

/** Everything the two job scripts need, with every path absolute (the jobs run on other machines). */
export interface ClusterPlan {
  /** The study's folder on storage every node sees: scripts, logs, parts, the merged result. */
  readonly out: string;
  /** The checkout the jobs run in (deno.json's folder). */
  readonly root: string;
  readonly shards: number;
  readonly models: readonly string[];
  readonly seeds: readonly number[];
  readonly paths: readonly ExecutionPath[];
  /** Flags passed to every shard's sweep as they are (--epochs 20, --train-limit 6000, ...). */
  readonly sweepArgs: readonly string[];
  /** The offline bundle's folder (deno task bundle DIR): tasks run `bash BUNDLE/run TASK ...`. */
  readonly bundle?: string;
  /** Without a bundle: the Deno that runs `deno task`, as found where the study was submitted. */
  readonly deno: string;
  readonly partition?: string;
  readonly account?: string;
  /** Slurm's time limit of each array task, as sbatch reads it (e.g. 12:00:00 or 2-00:00:00). */
  readonly time?: string;
  readonly gpusPerTask?: number;
  readonly cpusPerTask: number;
}

/** The files of a study in OUT, by role. */
export function studyFiles(out: string) {
  return {
    plan: `${out}/plan.json`,
    arrayScript: `${out}/study.sbatch`,
    mergeScript: `${out}/merge.sbatch`,
    logs: `${out}/logs`,
    parts: `${out}/parts`,
    part: (shard: number) => `${out}/parts/shard-${shard}.csv`,
    merged: `${out}/results.csv`,
    figures: `${out}/figures`,
  };
}

/** One model trained with one seed, in the sweep's order, and the shard (1-based) that trains it. */
export interface StudyTask {
  readonly model: string;
  readonly seed: number;
  readonly shard: number;
}

/** The sweep's task list and its division into shards (the rule of cli/sweep.ts's planTasks). */
export function shardTasks(models: readonly string[], seeds: readonly number[], shards: number): StudyTask[] {
  return models.flatMap((model) => seeds.map((seed) => ({ model, seed })))
    .map((task, index) => ({ ...task, shard: (index % shards) + 1 }));
}

/** Every (model, seed, path) of the plan without a final row in `rows`, with its shard. */
export function missingRows(
  plan: Pick<ClusterPlan, "models" | "seeds" | "paths" | "shards">,
  rows: ResultRow[],
) {
  const final = new Set(
    rows.filter((row) => isFinalStatus(row.status)).map((row) => `${row.model}|${row.path}|${row.seed ?? 0}`),
  );
  return shardTasks(plan.models, plan.seeds, plan.shards).flatMap((task) =>
    plan.paths.filter((path) => !final.has(`${task.model}|${path}|${task.seed}`)).map((path) => ({
      ...task,
      path,
    }))
  );
}

/** --seeds as the sweep reads it: a list and/or ranges (0,1,2 or 0-2). */
export function parseSeedList(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    const [from, to] = range ? [Number(range[1]), Number(range[2])] : [Number(part), Number(part)];
    if (!(range || /^\d+$/.test(part)) || from > to || to - from >= 1000 || to > 2 ** 32 - 1) {
      throw new UserError(`--seeds ${text}: "${part}" is not a seed or a range A-B (e.g. 0,1,2 or 0-2)`);
    }
    for (let seed = from; seed <= to; seed++) seeds.push(seed);
  }
  return [...new Set(seeds)];
}

/**
 * Slurm's --time in minutes: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S. Refused in one line otherwise, before
 * sbatch would refuse it.
 */
export function slurmMinutes(time: string): number {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(time.trim());
  if (!match || Number(time) === 0) {
    throw new UserError(
      `--time ${time}: use Slurm's form, minutes or [D-]HH:MM:SS (e.g. 90, 12:00:00, 2-00:00:00)`,
    );
  }
  const [days, a, b, c] = match.slice(1).map((part) => part === undefined ? undefined : Number(part));
  if (days !== undefined) return days * 1440 + a! * 60 + (b ?? 0) + (c ?? 0) / 60;
  if (c !== undefined) return a! * 60 + b! + c / 60;
  return a! + (b ?? 0) / 60;
}

/**
 * The sweep's own --time-limit-minutes for a task of `minutes`: it stops cleanly after a finished epoch
 * before Slurm kills it, keeping 15% of the time (at least 10 minutes, at most half) for the epoch and
 * measurement in progress.
 */
export function sweepMinutes(minutes: number): number {
  const margin = Math.min(minutes / 2, Math.max(10, minutes * 0.15));
  return Math.max(1, Math.floor(minutes - margin));
}

/** A word for bash, quoted only where it must be. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function words(list: readonly string[]): string {
  return list.map(shellQuote).join(" ");
}

/** The #SBATCH lines both jobs share: where they run and what they may use. */
function resourceLines(plan: ClusterPlan): string[] {
  return [
    `#SBATCH --chdir=${shellQuote(plan.root)}`,
    ...(plan.partition ? [`#SBATCH --partition=${shellQuote(plan.partition)}`] : []),
    ...(plan.account ? [`#SBATCH --account=${shellQuote(plan.account)}`] : []),
  ];
}

/** How a job script runs a deno task: the bundle's entry point on offline nodes, else this Deno. */
function taskRunner(plan: ClusterPlan): string[] {
  return plan.bundle
    ? [
      "# The offline bundle (deno task bundle): Deno, its packages and MNIST, nothing fetched on the node.",
      `run_task() { bash ${shellQuote(`${plan.bundle}/run`)} "$@"; }`,
    ]
    : [
      "# The Deno of the machine the study was submitted from (set DENO to use another).",
      `run_task() { "\${DENO:-${plan.deno}}" task "$@"; }`,
    ];
}

/**
 * The array job: task i runs shard i + 1 of the sweep into its own part of OUT. Safe to requeue: the
 * part's store skips every row already final, and a model interrupted mid-training resumes from the
 * training state saved after its last finished epoch.
 */
export function arrayScript(plan: ClusterPlan): string {
  const files = studyFiles(plan.out);
  const minutes = plan.time === undefined ? undefined : slurmMinutes(plan.time);
  const sweep = [
    "--models",
    plan.models.join(","),
    "--seeds",
    plan.seeds.join(","),
    "--paths",
    plan.paths.join(","),
    ...plan.sweepArgs,
    ...(minutes === undefined ? [] : ["--time-limit-minutes", String(sweepMinutes(minutes))]),
  ];
  const tasks = shardTasks(plan.models, plan.seeds, plan.shards);
  return [
    "#!/bin/bash",
    `# The study's sweep as a Slurm job array of ${plan.shards} tasks (written by deno task cluster-study).`,
    `# ${tasks.length} models x seeds, ${plan.paths.length} paths each; submit with: sbatch ${
      shellQuote(files.arrayScript)
    }`,
    "# Array task i runs shard i+1 of the sweep (Slurm counts from 0, --shard K/N from 1) and writes its",
    `# part, ${files.parts}/shard-K.csv (with its .sqlite store and its .state training states);`,
    "# merge.sbatch joins the parts when every task has ended.",
    "# Safe to requeue (--requeue): a rerun skips the rows its part already holds and resumes an",
    "# interrupted model at the epoch after its last saved one. To rerun one shard K by hand:",
    `#   sbatch --array=K-1 ${shellQuote(files.arrayScript)}`,
    `#SBATCH --job-name=study`,
    `#SBATCH --array=0-${plan.shards - 1}`,
    "#SBATCH --requeue",
    "#SBATCH --ntasks=1",
    `#SBATCH --cpus-per-task=${plan.cpusPerTask}`,
    ...(plan.gpusPerTask ? [`#SBATCH --gres=gpu:${plan.gpusPerTask}`] : []),
    ...(plan.time ? [`#SBATCH --time=${plan.time}`] : []),
    ...resourceLines(plan),
    "# One log per array task; a requeued or resubmitted run appends to it.",
    `#SBATCH --output=${shellQuote(files.logs)}/task-%a.log`,
    "#SBATCH --open-mode=append",
    "set -euo pipefail",
    "export NO_COLOR=1 # the log is a file",
    `shards=${plan.shards}`,
    `out=${shellQuote(plan.out)}`,
    '[ -n "${SLURM_ARRAY_TASK_ID:-}" ] || { echo "submit this with sbatch: it is a job array" >&2; exit 2; }',
    "shard=$((SLURM_ARRAY_TASK_ID + 1))",
    'echo "== shard $shard/$shards (array task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?})' +
    ' on $(hostname), run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date -u +%FT%TZ)"',
    ...taskRunner(plan),
    "# A rerun may land on another node, where the store cannot tell that the killed run's claims on its",
    "# models are dead (it checks pids on its own host only): this task is the part's one writer, so it",
    "# forgets them. (Do not run one shard twice at once.)",
    'if [ -e "$out/parts/shard-$shard.sqlite" ]; then',
    '  run_task cluster-study --release-claims "$out/parts/shard-$shard.csv"',
    "fi",
    ...(plan.time
      ? [
        `# --time-limit-minutes: the sweep stops after a finished epoch before Slurm's limit of ${plan.time}.`,
      ]
      : []),
    `run_task sweep --shard "$shard/$shards" ${words(sweep)} \\`,
    '  --out "$out/parts/shard-$shard.csv" --figures "$out/parts/shard-$shard-figures"',
    "",
  ].join("\n");
}

/**
 * The merge job, submitted to start after every array task has ended however it ended (afterany):
 * it merges the parts there are into OUT/results.csv with its figures and conclusions, and fails,
 * naming the shards to rerun, where a part lacks rows. (afterok would leave it pending for ever,
 * DependencyNeverSatisfied, as soon as one task failed: the finished rows would go unreported.)
 */
export function mergeScript(plan: ClusterPlan): string {
  const files = studyFiles(plan.out);
  return [
    "#!/bin/bash",
    "# Merges the study's parts into one results CSV, its figures and conclusions (deno task cluster-study).",
    `# Submitted after the array: sbatch --dependency=afterany:ARRAY_JOB_ID ${
      shellQuote(files.mergeScript)
    } ARRAY_JOB_ID`,
    `# Writes ${files.merged} and ${files.figures}/; exits 2, naming the shards to rerun, if rows are missing.`,
    "#SBATCH --job-name=study-merge",
    "#SBATCH --ntasks=1",
    "#SBATCH --cpus-per-task=1",
    ...resourceLines(plan),
    `#SBATCH --output=${shellQuote(files.logs)}/merge.log`,
    "#SBATCH --open-mode=append",
    "set -euo pipefail",
    "export NO_COLOR=1 # the log is a file",
    'echo "== merge on $(hostname), $(date -u +%FT%TZ)"',
    // A task requeued (preempted, or scontrol requeue) passes through an ended state before it is
    // pending again, which can satisfy afterany: wait until no task of the array ($1) is left to run.
    'if [ -n "${1:-}" ]; then',
    '  while [ -n "$(squeue -h -j "$1" -t PENDING,CONFIGURING,RUNNING,SUSPENDED,COMPLETING,REQUEUED -o %i 2>/dev/null)" ]; do',
    "    sleep 5",
    "  done",
    "fi",
    ...taskRunner(plan),
    `run_task cluster-study --merge ${shellQuote(plan.out)}`,
    "",
  ].join("\n");
}

/**
 * Forgets every claim in the results store of `csv` (a shard's part) and returns how many there were.
 * A part has one writer, its array task, so a claim found when the task starts is a killed run's.
 */
export function releaseClaims(csv: string): number {
  const db = new DatabaseSync(storePath(csv));
  try {
    db.exec("PRAGMA busy_timeout = 60000");
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'claims'").get();
    return table ? Number(db.prepare("DELETE FROM claims").run().changes) : 0;
  } finally {
    db.close();
  }
}

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end: the real one by default (runCommand), a stand-in in tests. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

/** Runs a Slurm command; one that is not installed is a UserError that says where to run instead. */
export const runCommand: CommandRunner = async (command, args) => {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args: [...args], stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${command} is not installed here: run this on the cluster's login node ` +
          `(or start a local one: bash scripts/slurm_local.sh start)`,
      );
    }
    throw error;
  }
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
};

/** The job id in sbatch's answer: `--parsable` prints "ID" or "ID;CLUSTER", else "Submitted batch job ID". */
export function parseJobId(output: string): string {
  const text = output.trim();
  const match = /^(\d+)(?:;\S+)?$/.exec(text) ?? /Submitted batch job (\d+)/.exec(text);
  if (!match) throw new UserError(`sbatch answered without a job id: "${text.split("\n")[0]}"`);
  return match[1];
}

async function sbatch(run: CommandRunner, args: readonly string[]): Promise<string> {
  const result = await run("sbatch", ["--parsable", ...args]);
  if (result.code !== 0) {
    throw new UserError(`sbatch ${args.join(" ")} failed: ${oneLine(result.stderr || result.stdout)}`);
  }
  return parseJobId(result.stdout);
}

/** Submits the array, then the merge to run after it; returns both job ids. */
export async function submitStudy(
  plan: ClusterPlan,
  run: CommandRunner = runCommand,
): Promise<{ array: string; merge: string }> {
  const files = studyFiles(plan.out);
  const array = await sbatch(run, [files.arrayScript]);
  const merge = await sbatch(run, [`--dependency=afterany:${array}`, files.mergeScript, array]);
  return { array, merge };
}

/** The states after which a job does nothing more (squeue's %T). */
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "PREEMPTED",
]);

/**
 * Waits until every job or array task of `job` has ended, asking squeue every `pollSeconds`; returns
 * each one's last state by id (a job squeue no longer lists counts as ended, state "gone").
 */
export async function waitForJob(
  job: string,
  run: CommandRunner = runCommand,
  pollSeconds = 2,
): Promise<Map<string, string>> {
  for (;;) {
    const result = await run("squeue", ["-h", "-r", "-t", "all", "-j", job, "-o", "%i %T"]);
    // squeue exits 1 for an id it has forgotten (older than MinJobAge): that job is over.
    if (result.code !== 0 && !/Invalid job id/i.test(result.stderr)) {
      throw new UserError(`squeue -j ${job} failed: ${oneLine(result.stderr)}`);
    }
    const states = new Map(
      result.stdout.trim().split("\n").filter(Boolean).map((line) =>
        line.trim().split(/\s+/) as [string, string]
      ),
    );
    if (states.size === 0) return new Map([[job, "gone"]]);
    if ([...states.values()].every((state) => ENDED.has(state))) return states;
    await new Promise((resolve) => setTimeout(resolve, pollSeconds * 1000));
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
