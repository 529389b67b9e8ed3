/**
 * `deno task cluster-study --shards N OUT`: the study on a Slurm cluster. Writes OUT/study.sbatch (a job
 * array whose task i runs shard i+1 of the sweep) and OUT/merge.sbatch (report --merge of the parts,
 * figures and conclusions), submits the array and then the merge to run after it, and prints the job
 * ids and how to watch them. `--merge OUT` is what the merge job runs. The scripts are lab/cluster.ts's.
 */
import { isAbsolute, resolve } from "node:path";
import { UserError } from "../engine/errors.ts";
import { ensureWritableDir, exists, writeFileAtomic } from "../io/files.ts";
import { checkRange, integerFlag, numberFlag, parseFlags, runMain } from "../io/command.ts";
import {
  arrayScript,
  type ClusterPlan,
  mergeScript,
  missingRows,
  parseSeedList,
  releaseClaims,
  slurmMinutes,
  studyFiles,
  submitStudy,
  waitForJob,
} from "../lab/cluster.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import { readResults } from "../lab/results.ts";
import { storePath } from "../lab/store.ts";
import { selectModels, selectPaths } from "../lab/study.ts";

const USAGE = `usage: deno task cluster-study --shards N [--seeds 0] [--models LIST] [--paths cpu,webgpu]
    [--gpus-per-task G] [--cpus-per-task 2] [--partition P] [--account A] [--time [D-]HH:MM:SS]
    [--bundle DIR] [--no-submit] [--wait] [sweep flags] OUT
       deno task cluster-study --merge OUT
  OUT            a folder on storage every node sees: the job scripts, logs/, parts/ (each shard's
                 results, store and training states), then results.csv and figures/ from the merge
  --shards N     array tasks; task i (Slurm counts from 0) runs the sweep's --shard i+1/N. Size it from
                 deno task sweep --estimate-only: about total training time / time per task
  --gpus-per-task  GPUs each array task asks for (--gres=gpu:G); --cpus-per-task its cores
  --time         each array task's limit; the sweep then stops cleanly after an epoch before it, and
                 a rerun of the shard (sbatch --array=K-1 OUT/study.sbatch) continues from there
  --bundle DIR   nodes without network: run each task from the offline bundle (deno task bundle DIR)
  --no-submit    write the scripts and print the sbatch lines, submit nothing
  --wait         after submitting, wait for the merge and say how it ended
  --release-claims PART.csv  what each array task runs first: forgets the claims a killed run of its
                 shard left in its part's store (on another node the store cannot see they are dead)
  --merge OUT    what the merge job runs: report --merge of the parts into OUT/results.csv and
                 OUT/figures, then the rows still missing, by shard (exit 2 if any)
  sweep flags passed to every shard: --epochs ${PROTOCOL.epochs} --batch-size --lr-schedule --train-limit
    --test-limit --data --warmup --timed-batches --max-timing-seconds --jobs --budget-hours
    --kernels --train-backend --save-dir --quick (see deno task sweep --help)`;

/** The sweep's flags that every shard gets as given (after the checks below). */
const SWEEP_STRING_FLAGS = [
  "epochs",
  "batch-size",
  "lr-schedule",
  "train-limit",
  "test-limit",
  "data",
  "warmup",
  "timed-batches",
  "max-timing-seconds",
  "jobs",
  "budget-hours",
  "kernels",
  "train-backend",
  "save-dir",
] as const;

const FLAGS = {
  help: { type: "boolean", short: "h" },
  shards: { type: "string" },
  seeds: { type: "string" },
  models: { type: "string" },
  paths: { type: "string" },
  "gpus-per-task": { type: "string" },
  "cpus-per-task": { type: "string" },
  partition: { type: "string" },
  account: { type: "string" },
  time: { type: "string" },
  bundle: { type: "string" },
  "no-submit": { type: "boolean" },
  wait: { type: "boolean" },
  merge: { type: "string" },
  "release-claims": { type: "string" },
  quick: { type: "boolean" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  "lr-schedule": { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  "max-timing-seconds": { type: "string" },
  jobs: { type: "string" },
  "budget-hours": { type: "string" },
  kernels: { type: "string" },
  "train-backend": { type: "string" },
  "save-dir": { type: "string" },
} as const;

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A path as the user meant it: `deno task` runs in deno.json's folder, INIT_CWD is where they typed it. */
function userPath(path: string): string {
  return isAbsolute(path) ? path : resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), path);
}

function countFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(Number.isInteger(number) && number >= min && number <= max)) {
    throw new UserError(`--${name} ${value}: must be an integer from ${min} to ${max}`);
  }
  return number;
}

/** The flags, checked at the door, as a plan; undefined for --help. */
export function planFromArgs(args: string[]): ClusterPlan | undefined {
  const { values: flags, positionals } = parseFlags(args, FLAGS);
  if (flags.help) return undefined;
  if (positionals.length !== 1) {
    throw new UserError("give one output folder: deno task cluster-study --shards N OUT (see --help)");
  }
  if (flags.shards === undefined) throw new UserError("--shards N is needed: the array's tasks (see --help)");
  const shardText = flags.shards.trim();
  const shards = checkRange(
    "shard",
    /^\d+$/.test(shardText) ? Number(shardText) : NaN,
    `--shards ${flags.shards}`,
    2,
  );
  const models = selectModels(flags.models);
  const seeds = parseSeedList(flags.seeds ?? String(PROTOCOL.seed));
  const paths = selectPaths(flags.paths);
  if (shards > models.length * seeds.length) {
    throw new UserError(
      `--shards ${shards}: more than the ${models.length * seeds.length} models x seeds to share out; ` +
        "use at most that many",
    );
  }
  if (flags.time !== undefined) slurmMinutes(flags.time);
  const sweepArgs: string[] = [];
  for (const name of SWEEP_STRING_FLAGS) {
    let value = flags[name];
    if (value === undefined) continue;
    if (name === "data" || name === "save-dir") value = userPath(value);
    else if (name === "lr-schedule") parseSchedule(value);
    else if (name === "budget-hours") numberFlag(name, value);
    else if (name === "kernels" && value !== "fixed" && value !== "tuned") {
      throw new UserError(`--kernels ${value}: use fixed or tuned`);
    } else if (name === "train-backend" && value !== "webgpu" && value !== "cpu") {
      throw new UserError(`--train-backend ${value}: use webgpu or cpu`);
    } else if (!["kernels", "train-backend"].includes(name)) {
      integerFlag(name, value, name === "epochs" || name === "warmup" ? 0 : 1);
    }
    sweepArgs.push(`--${name}`, value);
  }
  if (flags.quick) sweepArgs.push("--quick");
  return {
    out: userPath(positionals[0]),
    root: ROOT,
    shards,
    models,
    seeds,
    paths,
    sweepArgs,
    bundle: flags.bundle === undefined ? undefined : userPath(flags.bundle),
    deno: Deno.execPath(),
    partition: flags.partition,
    account: flags.account,
    time: flags.time?.trim(),
    gpusPerTask: countFlag("gpus-per-task", flags["gpus-per-task"], 1, 64),
    cpusPerTask: countFlag("cpus-per-task", flags["cpus-per-task"], 1, 1024) ?? 2,
  };
}

/** What must match for a resubmission into the same OUT to continue the study there. */
function studyIdentity(plan: ClusterPlan): string {
  return JSON.stringify([plan.shards, plan.models, plan.seeds, plan.paths, plan.sweepArgs]);
}

/** Writes OUT's scripts and plan; OUT may hold the same study (a resubmission continues it), not another. */
async function writeStudy(plan: ClusterPlan): Promise<void> {
  const files = studyFiles(plan.out);
  if (plan.bundle && !(await exists(`${plan.bundle}/run`) && await exists(`${plan.bundle}/id`))) {
    throw new UserError(`--bundle ${plan.bundle}: no bundle there; build one with deno task bundle DIR`);
  }
  if (await exists(files.plan)) {
    const earlier = JSON.parse(await Deno.readTextFile(files.plan)) as ClusterPlan;
    if (studyIdentity(earlier) !== studyIdentity(plan)) {
      throw new UserError(
        `${plan.out} holds another study (other shards, models, seeds, paths or sweep flags): choose a new OUT`,
      );
    }
  }
  await ensureWritableDir(plan.out);
  await ensureWritableDir(files.logs);
  await ensureWritableDir(files.parts);
  await writeFileAtomic(files.plan, JSON.stringify(plan, null, 2) + "\n");
  await writeFileAtomic(files.arrayScript, arrayScript(plan));
  await writeFileAtomic(files.mergeScript, mergeScript(plan));
  await Deno.chmod(files.arrayScript, 0o755);
  await Deno.chmod(files.mergeScript, 0o755);
}

/** `deno task NAME`'s command line from deno.json, with this Deno (as the bundle's run sets it up). */
async function taskCommand(name: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const words = String(config.tasks?.[name] ?? "").split(/\s+/).filter(Boolean);
  if (words[0] !== "deno") throw new UserError(`deno.json has no task "${name}" that runs deno`);
  return [Deno.execPath(), ...words.slice(1)];
}

/**
 * The merge job's work: the parts there are, merged into OUT/results.csv and OUT/figures by
 * `report --merge` (a rerun replaces both: they are derived from the parts), then the rows the plan
 * still lacks, by shard, with the command that reruns those shards.
 */
async function merge(out: string): Promise<void> {
  const files = studyFiles(out);
  let plan: ClusterPlan;
  try {
    plan = JSON.parse(await Deno.readTextFile(files.plan));
  } catch {
    throw new UserError(`${out} holds no study (no plan.json): submit one with deno task cluster-study`);
  }
  const parts: string[] = [];
  for (let shard = 1; shard <= plan.shards; shard++) {
    if (await exists(storePath(files.part(shard)))) parts.push(files.part(shard));
  }
  const merged = storePath(files.merged);
  for (const path of [files.merged, merged, `${merged}-wal`, `${merged}-shm`]) {
    await Deno.remove(path).catch(() => {});
  }
  console.log(`cluster-study: ${parts.length} of ${plan.shards} parts have results`);
  let rows;
  if (parts.length >= 2) {
    const [deno, ...args] = await taskCommand("report");
    const status = await new Deno.Command(deno, {
      args: [...args, "--merge", ...parts, "--csv", files.merged, "--out", files.figures],
      cwd: ROOT,
    }).spawn().status;
    if (!status.success) throw new UserError(`report --merge of ${parts.length} parts failed (see above)`);
    rows = await readResults(files.merged);
  } else {
    // report --merge needs two stores; one part alone is read as it is.
    rows = parts.length === 1 ? await readResults(parts[0]) : [];
    console.log("cluster-study: fewer than two parts, so nothing merged");
  }
  const missing = missingRows(plan, rows);
  const expected = plan.models.length * plan.seeds.length * plan.paths.length;
  const notOk = rows.filter((row) => row.status !== "ok");
  console.log(
    `cluster-study: ${expected - missing.length} of ${expected} rows final` +
      (notOk.length
        ? ` (${notOk.length} not ok: ${notOk.map((r) => `${r.model} ${r.path}: ${r.status}`).join("; ")})`
        : ""),
  );
  if (missing.length === 0) {
    console.log(`cluster-study: complete: ${files.merged}, figures and conclusions in ${files.figures}`);
    return;
  }
  const shards = [...new Set(missing.map((row) => row.shard))].sort((a, b) => a - b);
  for (const shard of shards) {
    const rowsOfShard = missing.filter((row) => row.shard === shard);
    console.log(
      `  shard ${shard} (array task ${shard - 1}) lacks ${
        rowsOfShard.map((r) => `${r.model} seed ${r.seed} ${r.path}`).join(", ")
      }; its log: ${files.logs}/task-${shard - 1}.log`,
    );
  }
  throw new UserError(
    `${missing.length} rows missing from shards ${shards.join(",")}: rerun them with ` +
      `"sbatch --array=${shards.map((s) => s - 1).join(",")} ${files.arrayScript}", ` +
      `then "sbatch --dependency=afterany:JOB ${files.mergeScript} JOB" with the array's JOB id`,
  );
}

async function main(): Promise<void> {
  const { values: flags } = parseFlags(Deno.args, FLAGS);
  if (flags.merge !== undefined) return await merge(userPath(flags.merge));
  if (flags["release-claims"] !== undefined) {
    const part = userPath(flags["release-claims"]);
    if (!await exists(storePath(part))) {
      throw new UserError(`${part} has no results store: nothing to release`);
    }
    const released = releaseClaims(part);
    if (released > 0) {
      console.log(`cluster-study: released ${released} claims of an earlier run of this shard`);
    }
    return;
  }
  const plan = planFromArgs(Deno.args);
  if (!plan) return console.log(USAGE);
  await writeStudy(plan);
  const files = studyFiles(plan.out);
  console.log(
    `cluster-study: wrote ${files.arrayScript} (${plan.shards} array tasks) and ${files.mergeScript}`,
  );
  if (flags["no-submit"]) {
    console.log(
      `  submit with: job=$(sbatch --parsable ${files.arrayScript}) && ` +
        `sbatch --dependency=afterany:$job ${files.mergeScript}`,
    );
    return;
  }
  const jobs = await submitStudy(plan);
  console.log(
    `cluster-study: submitted the array ${jobs.array} and the merge ${jobs.merge} (after every task)`,
  );
  console.log(`  watch:   squeue -j ${jobs.array},${jobs.merge}    logs: ${files.logs}/`);
  console.log(
    `  results: ${files.merged}, figures and conclusions in ${files.figures}/ when ${jobs.merge} ends`,
  );
  if (!flags.wait) return;
  const [state] = [...(await waitForJob(jobs.merge)).values()];
  console.log(`cluster-study: the merge ${jobs.merge} ended: ${state}; its log: ${files.logs}/merge.log`);
  if (state !== "COMPLETED") {
    throw new UserError(`the merge did not complete (${state}): see ${files.logs}/merge.log`);
  }
}

if (import.meta.main) await runMain(main);
