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

import { UserError } from "../engine/errors.ts";
import { flagRanges, integerFlag, numberFlag, parseFlags, runMain } from "../io/command.ts";
import { kernelMode } from "../io/tuning_cache.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import { selectModels, selectPaths, STUDY_MODELS } from "../lab/study.ts";
import { parseSeeds, parseShard, parseTask } from "../lab/sweep/plan.ts";
import { backendKind } from "../lab/session.ts";
import { runSweep } from "../lab/sweep/run.ts";
import { parsePeers } from "../lab/sweep/peers.ts";

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

const USAGE =
  `usage: deno task sweep [--models LIST] [--seeds 0] [--paths cpu,webgpu] [--train-backend webgpu|cpu]
    [--epochs ${PROTOCOL.epochs}] [--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}]
    [--train-limit N] [--test-limit N] [--data DIR]
    [--warmup ${WARMUP_BATCHES}] [--timed-batches ${TIMED_BATCHES}] [--max-timing-seconds S]
    [--jobs 1] [--shard K/N] [--budget-hours H] [--time-limit-minutes M] [--estimate-only]
    [--out results/sweep.csv] [--figures results/figures] [--save-dir DIR] [--kernels fixed|tuned] [--quick]
    [--peers pytorch|none] [--peers-only]
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
  --peers pytorch: also measure each model of the sweep in PyTorch (off by default, so that a store's rows do
    not depend on whether this machine's python has torch; refused where it has none): rows with path
    pytorch-cpu (and pytorch-cuda where torch sees a GPU), keyed like ours in the same store, after the
    training: time per batch on the CPU at the faster of 1 thread and all cores (the row says which),
    op_bytes as PyTorch's profiler counts it, and the test accuracy of our checkpoint in --save-dir
    evaluated in PyTorch (empty where none was saved, and the row's note says so)
  --peers-only: with --peers pytorch, add the PyTorch rows to the existing store --out for every model
    (of --models) and seed it holds, with the store's own protocol; trains nothing, changes no row already
    there, and a rerun measures only what is missing
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
  peers: { type: "string" },
  "peers-only": { type: "boolean" },
  // Internal: a job's process trains this one MODEL@SEED of the sweep its parent runs.
  task: { type: "string" },
  kernels: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

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
  // --peers-only takes the store's models unless --models narrows them.
  const models = flags["peers-only"] && flags.models === undefined ? [] : selectModels(flags.models);
  const paths = selectPaths(flags.paths);
  const trainBackend = backendKind(flags["train-backend"], "--train-backend");
  const epochs = integerFlag("epochs", flags.epochs, 0) ?? quick?.epochs ?? PROTOCOL.epochs;
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const seeds = parseSeeds(flags.seeds, flags.seed);
  const schedule = parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule);
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1) ?? quick?.trainLimit;
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1) ?? quick?.testLimit;
  const jobs = integerFlag("jobs", flags.jobs, 1) ?? 1;
  const shard = parseShard(flags.shard);
  const budgetHours = numberFlag("budget-hours", flags["budget-hours"]);
  const timeLimitMinutes = numberFlag("time-limit-minutes", flags["time-limit-minutes"]);
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
  await runSweep({
    models,
    seeds,
    paths,
    trainBackend,
    epochs,
    batchSize,
    schedule,
    trainLimit,
    testLimit,
    dataDir: flags.data,
    measure,
    jobs,
    shard,
    budgetHours,
    timeLimitMinutes,
    estimateOnly: flags["estimate-only"] ?? false,
    out,
    figures,
    saveDir,
    task,
    jobCommand: { script: new URL(import.meta.url).pathname, args: Deno.args },
    peers: parsePeers(flags.peers),
    peersOnly: flags["peers-only"] ?? false,
  });
}

if (import.meta.main) await runMain(main);
