/**
 * cluster-study: the job scripts, the submission and its checks without Slurm, then the study on a real
 * one-node Slurm (scripts/slurm_local.sh): a three-task array and its merge equal a single-process
 * sweep of the same models row for row; a task requeued while it trains resumes at its next epoch, a
 * task cancelled for good is named by the merge, and a rerun of its shard completes the same result.
 */
import assert from "node:assert/strict";
import { planFromArgs } from "../../cli/cluster_study.ts";
import { UserError } from "../../engine/errors.ts";
import {
  arrayScript,
  type ClusterPlan,
  type CommandRunner,
  mergeScript,
  missingRows,
  parseJobId,
  parseSeedList,
  releaseClaims,
  runCommand,
  shardTasks,
  slurmMinutes,
  studyFiles,
  submitStudy,
  sweepMinutes,
  waitForJob,
} from "../../lab/cluster.ts";
import { readResults, resultKey, type ResultRow } from "../../lab/results.ts";
import { ResultStore, storePath } from "../../lab/store.ts";
import { DatabaseSync } from "node:sqlite";
import { taskArgs } from "../helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

const PLAN: ClusterPlan = {
  out: "/shared/study",
  root: "/home/me/engine",
  shards: 3,
  models: ["lenet5", "mlp-30", "mlp-60", "mlp-90"],
  seeds: [0, 1],
  paths: ["cpu", "webgpu"],
  sweepArgs: ["--epochs", "20"],
  deno: "/opt/deno/bin/deno",
  cpusPerTask: 2,
};

Deno.test("shards: the sweep's rule, every N-th of models x seeds, numbered from 1", () => {
  const tasks = shardTasks(["a", "b", "c"], [0, 1], 4);
  assert.deepEqual(tasks.map((t) => `${t.model}@${t.seed}:${t.shard}`), [
    "a@0:1",
    "a@1:2",
    "b@0:3",
    "b@1:4",
    "c@0:1",
    "c@1:2",
  ]);
});

/** Runs a job script with bash as Slurm would for one array task, with `run_task`'s Deno a stand-in. */
async function runScript(script: string, env: Record<string, string>): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "cluster-script-" });
  try {
    // The stand-in prints its arguments, one a line, as the sweep would receive them.
    await Deno.writeTextFile(`${dir}/deno`, '#!/bin/bash\nprintf "%s\\n" "$@"\n');
    await Deno.chmod(`${dir}/deno`, 0o755);
    await Deno.writeTextFile(`${dir}/job.sbatch`, script);
    const output = await new Deno.Command("bash", {
      args: [`${dir}/job.sbatch`],
      env: { DENO: `${dir}/deno`, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return text.trim().split("\n").slice(1); // the first line is the task's banner
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the array script: task i runs shard i+1/N into its own part, requeue-safe, resources as asked", async () => {
  const script = arrayScript({ ...PLAN, gpusPerTask: 1, partition: "gpu", time: "12:00:00" });
  for (
    const line of [
      "#SBATCH --array=0-2",
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --partition=gpu",
      "#SBATCH --time=12:00:00",
      "#SBATCH --cpus-per-task=2",
      "#SBATCH --chdir=/home/me/engine",
      "#SBATCH --output=/shared/study/logs/task-%a.log",
    ]
  ) assert.ok(script.split("\n").includes(line), `missing: ${line}`);
  for (const [task, shard] of [["0", "1/3"], ["2", "3/3"]]) {
    const args = await runScript(script, { SLURM_ARRAY_TASK_ID: task });
    assert.deepEqual(args.slice(0, 4), ["task", "sweep", "--shard", shard]);
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(value("--models"), "lenet5,mlp-30,mlp-60,mlp-90");
    assert.equal(value("--seeds"), "0,1");
    assert.equal(value("--epochs"), "20");
    // 12 h less 15%: the sweep stops after an epoch before Slurm's limit.
    assert.equal(value("--time-limit-minutes"), "612");
    assert.equal(value("--out"), `/shared/study/parts/shard-${shard[0]}.csv`);
  }
  // A rerun first forgets the claims its killed predecessor left in the part's store (on any node).
  const out = await Deno.makeTempDir({ prefix: "cluster-rerun-" });
  try {
    await Deno.mkdir(`${out}/parts`);
    await Deno.writeTextFile(`${out}/parts/shard-2.sqlite`, "");
    const args = await runScript(arrayScript({ ...PLAN, out }), { SLURM_ARRAY_TASK_ID: "1" });
    assert.deepEqual(args.slice(0, 4), [
      "task",
      "cluster-study",
      "--release-claims",
      `${out}/parts/shard-2.csv`,
    ]);
    assert.deepEqual(args.slice(4, 8), ["task", "sweep", "--shard", "2/3"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
  const bare = arrayScript(PLAN);
  assert.ok(!/--gres|--partition|--time|time-limit-minutes/.test(bare), "resources nobody asked for");
  // Outside an array the script refuses in one line instead of running shard 1 by mistake.
  const outside = await new Deno.Command("bash", { args: ["-c", bare], stdout: "null", stderr: "piped" })
    .output();
  assert.equal(outside.code, 2);
  assert.match(new TextDecoder().decode(outside.stderr), /submit this with sbatch/);
});

Deno.test("the scripts run the bundle's entry point when told to, and the merge runs cluster-study --merge", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cluster-bundle-" });
  try {
    await Deno.writeTextFile(`${dir}/run`, '#!/bin/bash\nprintf "%s\\n" bundle "$@"\n');
    const plan = { ...PLAN, bundle: dir };
    const args = await runScript(arrayScript(plan), { SLURM_ARRAY_TASK_ID: "1" });
    assert.deepEqual(args.slice(0, 4), ["bundle", "sweep", "--shard", "2/3"]);
    assert.deepEqual(await runScript(mergeScript(plan), {}), [
      "bundle",
      "cluster-study",
      "--merge",
      "/shared/study",
    ]);
    assert.deepEqual(await runScript(mergeScript(PLAN), {}), [
      "task",
      "cluster-study",
      "--merge",
      "/shared/study",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("submission: the array first, then the merge after every task of it; job ids as sbatch prints them", async () => {
  const calls: string[][] = [];
  const ids = ["41", "42;cluster"];
  const fake: CommandRunner = (command, args) => {
    calls.push([command, ...args]);
    return Promise.resolve({ code: 0, stdout: `${ids.shift()}\n`, stderr: "" });
  };
  assert.deepEqual(await submitStudy(PLAN, fake), { array: "41", merge: "42" });
  const files = studyFiles(PLAN.out);
  assert.deepEqual(calls, [
    ["sbatch", "--parsable", files.arrayScript],
    ["sbatch", "--parsable", "--dependency=afterany:41", files.mergeScript, "41"],
  ]);
  assert.equal(parseJobId("Submitted batch job 1234\n"), "1234");
  assert.throws(() => parseJobId("sbatch: error: Batch job submission failed"), UserError);
  const refusing: CommandRunner = () =>
    Promise.resolve({ code: 1, stdout: "", stderr: "sbatch: error: invalid partition specified: gpu\n" });
  await assert.rejects(submitStudy(PLAN, refusing), /invalid partition specified: gpu/);
});

Deno.test("a killed run's claim from another node is released, so the rerun trains the model", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cluster-claims-" });
  try {
    const csv = `${dir}/shard-1.csv`;
    const store = ResultStore.open(csv);
    try {
      const db = new DatabaseSync(storePath(csv));
      db.prepare("INSERT INTO claims (model, seed, host, pid) VALUES ('mlp-16', 0, 'node-that-died', 4242)")
        .run();
      db.close();
      assert.equal(store.claim("mlp-16", 0), "node-that-died:4242", "the store keeps another host's claim");
      assert.equal(releaseClaims(csv), 1);
      assert.equal(store.claim("mlp-16", 0), undefined);
      assert.equal(releaseClaims(csv), 1, "this process's own claim, taken just now, is one more");
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("waiting: until every task of the job has ended, or squeue has forgotten it", async () => {
  const answers = [
    "7_0 RUNNING\n7_1 PENDING\n",
    "7_0 COMPLETED\n7_1 RUNNING\n",
    "7_0 COMPLETED\n7_1 FAILED\n",
  ];
  const fake: CommandRunner = () => Promise.resolve({ code: 0, stdout: answers.shift()!, stderr: "" });
  const states = await waitForJob("7", fake, 0);
  assert.deepEqual([...states], [["7_0", "COMPLETED"], ["7_1", "FAILED"]]);
  assert.equal(answers.length, 0);
  const forgotten: CommandRunner = () =>
    Promise.resolve({ code: 1, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified" });
  assert.deepEqual([...await waitForJob("8", forgotten, 0)], [["8", "gone"]]);
});

Deno.test("missing rows: each (model, seed, path) without a final row, with the shard that owes it", () => {
  const row = (model: string, path: string, seed: number, status = "ok") =>
    ({ model, path, seed, status }) as ResultRow;
  const rows = [
    row("lenet5", "cpu", 0),
    row("lenet5", "webgpu", 0, "failed: diverged"),
    row("mlp-30", "cpu", 0, "running"),
  ];
  const plan = { models: ["lenet5", "mlp-30"], seeds: [0], paths: ["cpu", "webgpu"] as const, shards: 2 };
  assert.deepEqual(missingRows({ ...plan, paths: [...plan.paths] }, rows), [
    { model: "mlp-30", seed: 0, shard: 2, path: "cpu" },
    { model: "mlp-30", seed: 0, shard: 2, path: "webgpu" },
  ]);
});

Deno.test("flags: Slurm's time forms, seeds, and one-line refusals before anything is written", () => {
  assert.equal(slurmMinutes("90"), 90);
  assert.equal(slurmMinutes("1:30:00"), 90);
  assert.equal(slurmMinutes("2-00:00:00"), 2880);
  assert.equal(slurmMinutes("1-12"), 2160);
  assert.equal(sweepMinutes(60), 50);
  assert.equal(sweepMinutes(12), 6);
  assert.deepEqual(parseSeedList("0-2,5"), [0, 1, 2, 5]);
  const plan = planFromArgs(["--shards", "3", "--models", "mlp-16,mlp-8-8,mlp-32", "--epochs", "2", "out"]);
  assert.ok(plan);
  assert.ok(plan.out.endsWith("/out") && plan.out.startsWith("/"), "OUT is made absolute for the nodes");
  assert.deepEqual([plan.shards, plan.seeds, plan.paths, plan.sweepArgs], [3, [0], ["cpu", "webgpu"], [
    "--epochs",
    "2",
  ]]);
  for (
    const [args, message] of [
      [["out"], /--shards N is needed/],
      [["--shards", "1", "out"], /--shards 1: must be an integer of at least 2/],
      [["--shards", "4", "--models", "mlp-16,mlp-32", "out"], /more than the 2 models x seeds/],
      [["--shards", "2", "--time", "soon", "out"], /--time soon/],
      [["--shards", "2", "--epochs", "-1", "out"], /--epochs -1/],
      [["--shards", "2", "--kernels", "fast", "out"], /--kernels fast/],
      [["--shards", "2", "--gpus-per-task", "0", "out"], /--gpus-per-task 0/],
      [["--shards", "2", "--seeds", "1-x", "out"], /--seeds 1-x/],
      [["--shards", "2"], /give one output folder/],
    ] as const
  ) {
    assert.throws(
      () => planFromArgs([...args]),
      (error) => error instanceof UserError && message.test(error.message),
    );
  }
});

// ---- On a real one-node Slurm ----

/** Three small models, two epochs of a few thousand images, both paths: one per array task. */
const SWEEP_FLAGS = ["--models", "mlp-16,mlp-8-8,mlp-32", "--epochs", "2", "--train-limit", "3000"]
  .concat(["--test-limit", "500", "--warmup", "1", "--timed-batches", "5"]);

async function command(cmd: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(cmd, { args, cwd: ROOT, env, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

async function slurm(args: string[]): Promise<string> {
  const result = await runCommand(args[0], args.slice(1));
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Accuracy and status by (model, path, seed): what must not depend on how the work was divided. */
function outcome(rows: readonly ResultRow[]): Record<string, [string, number | null]> {
  const keys = rows.map(resultKey);
  assert.equal(new Set(keys).size, keys.length, `a key twice: ${keys.join(" ")}`);
  return Object.fromEntries(rows.map((row) => [resultKey(row), [row.status, row.test_accuracy]]));
}

async function submit(out: string): Promise<{ array: string; merge: string }> {
  const result = await command(Deno.execPath(), [
    ...taskArgs("cluster-study"),
    "--shards",
    "3",
    "--cpus-per-task",
    "1",
    ...SWEEP_FLAGS,
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const match = /submitted the array (\d+) and the merge (\d+)/.exec(result.stdout);
  assert.ok(match, result.stdout);
  return { array: match[1], merge: match[2] };
}

async function mergeState(job: string): Promise<string> {
  const states = await waitForJob(job, runCommand, 1);
  return states.get(job) ?? [...states.values()][0];
}

Deno.test({
  name: "on a real one-node Slurm: a three-task array and its merge, a requeue, a task lost for good",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const cluster = await Deno.makeTempDir({ prefix: "slurm-local-" });
    const started = await command("bash", ["scripts/slurm_local.sh", "start", cluster]);
    if (started.code !== 0) {
      await Deno.remove(cluster, { recursive: true }).catch(() => {});
      const reason = started.stderr.trim().split("\n").at(-1) ?? "";
      return void await t.step({
        name: `Slurm cannot start here (${reason}): skipped`,
        ignore: true,
        fn() {},
      });
    }
    const conf = started.stdout.trim().split("\n").at(-1)!.replace(/^SLURM_CONF=/, "");
    // Every Slurm command from here and the jobs' environment (sbatch exports it) find this cluster.
    const previous = Deno.env.get("SLURM_CONF");
    Deno.env.set("SLURM_CONF", conf);
    const work = await Deno.makeTempDir({ prefix: "cluster-study-" });
    try {
      // The single-process sweep runs beside the first array: where there are spare cores, in their time.
      const single = command(Deno.execPath(), [
        ...taskArgs("sweep"),
        ...SWEEP_FLAGS,
        "--out",
        `${work}/single/sweep.csv`,
        "--figures",
        `${work}/single/figures`,
      ]);
      let expected: Record<string, [string, number | null]> = {};

      await t.step("the merged CSV of a three-task array equals the single-process sweep", async () => {
        const out = `${work}/array`;
        const jobs = await submit(out);
        const { code, stderr } = await single;
        assert.equal(code, 0, stderr);
        expected = outcome(await readResults(`${work}/single/sweep.csv`));
        assert.equal(Object.keys(expected).length, 6);
        assert.equal(
          await mergeState(jobs.merge),
          "COMPLETED",
          await Deno.readTextFile(`${out}/logs/merge.log`),
        );
        assert.deepEqual(outcome(await readResults(`${out}/results.csv`)), expected);
        for (const file of ["fig7_accuracy_per_model.png", "conclusions.md"]) {
          assert.ok((await Deno.stat(`${out}/figures/${file}`)).size > 0, file);
        }
        for (const task of [0, 1, 2]) {
          const log = await Deno.readTextFile(`${out}/logs/task-${task}.log`);
          assert.match(
            log,
            new RegExp(`== shard ${task + 1}/3 \\(array task ${task} of job ${jobs.array}\\)`),
          );
        }
      });

      await t.step(
        "a task requeued while it trains resumes at its next epoch; a lost one is named, rerun, merged",
        async () => {
          const out = `${work}/requeue`;
          const jobs = await submit(out);
          // Shard 3 never runs: cancelled while it waits for a core (2 CPUs, 3 tasks).
          await slurm(["scancel", `${jobs.array}_2`]);
          // Shard 1 trains mlp-16: requeue it once its first epoch's training state is saved.
          const state = `${out}/parts/shard-1.state/mlp-16-seed0.safetensors`;
          const deadline = Date.now() + 120_000;
          while (!await Deno.stat(state).then(() => true, () => false)) {
            assert.ok(Date.now() < deadline, "shard 1 saved no training state within 2 minutes");
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          await slurm(["scontrol", "requeue", `${jobs.array}_0`]);
          // Once stopped, a requeued job waits two minutes (its begin time) before it may start again:
          // once it waits, let it start now.
          const task0 = ["squeue", "-h", "-j", `${jobs.array}_0`, "-o", "%T %r"];
          while (await slurm(task0) !== "PENDING BeginTime") {
            assert.ok(Date.now() < deadline, "the requeued task never went back to the queue");
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          await slurm(["scontrol", "update", `JobId=${jobs.array}_0`, "StartTime=now"]);
          assert.equal(await mergeState(jobs.merge), "FAILED", "the merge of an incomplete study must fail");
          const mergeLog = await Deno.readTextFile(`${out}/logs/merge.log`);
          assert.match(mergeLog, /2 rows missing from shards 3: rerun them with "sbatch --array=2 /);
          assert.match(mergeLog, /shard 3 \(array task 2\) lacks mlp-32 seed 0 cpu, mlp-32 seed 0 webgpu/);
          const firstTask = await Deno.readTextFile(`${out}/logs/task-0.log`);
          assert.match(firstTask, /, run 1, [\s\S]*, run 2, /, "shard 1 did not run twice");
          assert.match(firstTask, /mlp-16 seed 0: .* resuming after epoch 1/);
          assert.match(firstTask, /released 1 claims of an earlier run of this shard/);
          // The finished shards' rows are merged, equal to the single sweep's.
          const partial = outcome(await readResults(`${out}/results.csv`));
          const withoutShard3 = Object.fromEntries(
            Object.entries(expected).filter(([key]) => !key.startsWith("mlp-32|")),
          );
          assert.deepEqual(partial, withoutShard3);

          // What the merge said to do: rerun shard 3, then merge again.
          const rerun = parseJobId(await slurm(["sbatch", "--parsable", "--array=2", `${out}/study.sbatch`]));
          const merge = parseJobId(
            await slurm([
              "sbatch",
              "--parsable",
              `--dependency=afterany:${rerun}`,
              `${out}/merge.sbatch`,
              rerun,
            ]),
          );
          assert.equal(
            await mergeState(merge),
            "COMPLETED",
            await Deno.readTextFile(`${out}/logs/merge.log`),
          );
          assert.deepEqual(outcome(await readResults(`${out}/results.csv`)), expected);
        },
      );
    } finally {
      if (previous === undefined) Deno.env.delete("SLURM_CONF");
      else Deno.env.set("SLURM_CONF", previous);
      const stopped = await command("bash", ["scripts/slurm_local.sh", "stop", cluster]);
      assert.equal(stopped.code, 0, stopped.stderr);
      await Deno.remove(work, { recursive: true });
    }
  },
});
