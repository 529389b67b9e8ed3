/**
 * The GPU study (`deno task gpu-study OUT --minutes 9`): the whole study on a GPU server in one command, within a time
 * limit. On a server with no network it runs through the offline bundle: `bash DIR/run gpu-study OUT ...`.
 *
 * In order, each step in its own slice of the time (time a step leaves unused passes to the next):
 *   estimate  `sweep --estimate-only`: the full study's training time on this machine, from measured
 *             step costs, printed first
 *   parity    the GPU kernel tests (the test files of the kernels, tests whose names say GPU)
 *   bench     `bench --quick --json` (PyTorch beside us where it is installed, on CUDA where there is one)
 *   sweep     the 20-epoch sweep of all 31 models, trained on the GPU path, as many concurrent model
 *             processes as the cores sustain (each measures its model on the GPU path and then the CPU
 *             path on its own core), stopped cleanly at the limit: finished rows kept, unfinished listed
 * OUT receives at most 6 files: summary.txt, study.log, estimate.txt, bench.json, results.csv and
 * figures.tar.gz. The sweep's store, its training state and the figures' folder live in a temp folder,
 * removed at the end (results.csv is copied out every 20 s while the sweep runs).
 */
import { parse } from "csv-parse/sync";
import { DatabaseSync } from "node:sqlite";
import { UserError } from "../engine/errors.ts";
import { exists } from "../io/files.ts";
import { integerFlag, parseFlags } from "../io/command.ts";
import { PROTOCOL } from "./protocol.ts";
import { storePath } from "./store.ts";
import { selectModels, STUDY_MODELS } from "./study.ts";

const FLAGS = {
  help: { type: "boolean" },
  minutes: { type: "string" },
  jobs: { type: "string" },
  skip: { type: "string" },
  models: { type: "string" },
  epochs: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  "full-bench": { type: "boolean" },
} as const;

const PATHS = ["webgpu", "cpu"];
const STEPS = ["estimate", "parity", "bench", "sweep"] as const;
type Step = typeof STEPS[number];
/** The most of the time left that each step may take before it is stopped. */
const SHARE: Record<Exclude<Step, "sweep">, number> = { estimate: 0.3, parity: 0.15, bench: 0.3 };
/** Kept after the sweep's own time limit for the model in progress and the figures. */
const TAIL_SECONDS = 25;
/** Kept at the very end for the archive and the summary. */
const END_SECONDS = 8;
/** The kernel tests (GPU parity): every test of tests/kernels/, and the tuner's. */
const KERNEL_TEST_FOLDERS = ["tests/kernels"];
const KERNEL_TEST_FILES = ["tests/engine/tuner_test.ts"];
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface StudyPlan {
  minutes: number;
  jobs: number;
  skip: Step[];
  models: string[];
  sweepArgs: string[];
  epochs: number;
  trainLimit?: number;
  benchArgs: string[];
}

/** How many model processes the sweep runs at once: the cores, less two for the GPU's feeders and us. */
export function defaultJobs(cores: number, models: number): number {
  return Math.max(1, Math.min(16, models, cores - 2));
}

export function planFromArgs(args: string[]): { out: string; plan: StudyPlan } | undefined {
  const { values: flags, positionals } = parseFlags(args, FLAGS);
  if (flags.help) return undefined;
  if (positionals.length !== 1) {
    throw new UserError("give one output folder: deno task gpu-study OUT (see --help)");
  }
  const minutes = Number(flags.minutes ?? 9);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
    throw new UserError(`--minutes ${flags.minutes}: must be a number of minutes above 0`);
  }
  const skip = (flags.skip ?? "").split(",").map((step) => step.trim()).filter(Boolean);
  for (const step of skip) {
    if (!(STEPS as readonly string[]).includes(step) || step === "sweep") {
      throw new UserError(`--skip ${step}: the steps are estimate, parity and bench`);
    }
  }
  const models = selectModels(flags.models);
  const sweepArgs: string[] = [];
  const epochs = integerFlag("epochs", flags.epochs, 1);
  const trainLimit = integerFlag("train-limit", flags["train-limit"], 1);
  const testLimit = integerFlag("test-limit", flags["test-limit"], 1);
  if (epochs !== undefined) sweepArgs.push("--epochs", String(epochs));
  if (trainLimit !== undefined) sweepArgs.push("--train-limit", String(trainLimit));
  if (testLimit !== undefined) sweepArgs.push("--test-limit", String(testLimit));
  const jobs = integerFlag("jobs", flags.jobs, 1) ??
    defaultJobs(navigator.hardwareConcurrency, models.length);
  return {
    out: positionals[0],
    plan: {
      minutes,
      jobs,
      skip: skip as Step[],
      models,
      sweepArgs,
      epochs: epochs ?? PROTOCOL.epochs,
      trainLimit,
      benchArgs: flags["full-bench"] ? ["--json"] : ["--quick", "--json"],
    },
  };
}

/** `deno task NAME`'s command line from deno.json, with this Deno: no `deno task` process in between. */
async function taskCommand(name: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const words = String(config.tasks?.[name] ?? "").split(/\s+/).filter(Boolean);
  if (words[0] !== "deno") throw new UserError(`deno.json has no task "${name}" that runs deno`);
  return [Deno.execPath(), ...words.slice(1)];
}

function hasSetsid(): boolean {
  try {
    return new Deno.Command("setsid", { args: ["true"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

interface StepResult {
  step: string;
  code: number;
  seconds: number;
  stopped: boolean;
}

class Study {
  readonly started = performance.now();
  readonly results: StepResult[] = [];
  readonly setsid = hasSetsid();
  constructor(
    readonly out: string,
    readonly work: string,
    readonly plan: StudyPlan,
    readonly log: Deno.FsFile,
  ) {}

  secondsLeft(): number {
    return this.plan.minutes * 60 - (performance.now() - this.started) / 1000;
  }

  async note(line: string, echo = true): Promise<void> {
    const stamp = new Date().toISOString().slice(11, 19);
    await this.log.write(new TextEncoder().encode(`[${stamp}] ${line}\n`));
    if (echo) console.log(`gpu-study: ${line}`);
  }

  /**
   * Runs one command in its own process group, its output into the log (stdout into `stdoutPath` if given),
   * and stops the whole group (SIGTERM, then SIGKILL 10 s later) once `seconds` have passed.
   */
  async run(step: string, command: string[], seconds: number, stdoutPath?: string): Promise<StepResult> {
    await this.note(`${step}: ${command.slice(1).join(" ")} (at most ${Math.round(seconds)} s)`);
    const argv = this.setsid ? ["setsid", ...command] : command;
    const start = performance.now();
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      stdin: "null",
      // The log is a file: no colour codes in it.
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const sink = stdoutPath
      ? await Deno.open(stdoutPath, { write: true, create: true, truncate: true })
      : undefined;
    const copy = async (stream: ReadableStream<Uint8Array>, file: Deno.FsFile) => {
      for await (const chunk of stream) await file.write(chunk);
    };
    const copies = Promise.all([copy(child.stdout, sink ?? this.log), copy(child.stderr, this.log)]);
    let stopped = false;
    const signal = (name: Deno.Signal) => {
      try {
        Deno.kill(this.setsid ? -child.pid : child.pid, name);
      } catch { /* already gone */ }
    };
    const term = setTimeout(() => {
      stopped = true;
      signal("SIGTERM");
    }, Math.max(1, seconds) * 1000);
    const kill = setTimeout(() => signal("SIGKILL"), Math.max(1, seconds) * 1000 + 10_000);
    const status = await child.status;
    clearTimeout(term);
    clearTimeout(kill);
    await copies;
    sink?.close();
    const result = { step, code: status.code, seconds: (performance.now() - start) / 1000, stopped };
    this.results.push(result);
    await this.note(
      `${step}: ${
        stopped ? "stopped at its time limit" : status.success ? "done" : `failed (exit ${status.code})`
      }` +
        ` after ${result.seconds.toFixed(0)} s`,
    );
    return result;
  }

  /** The time a step before the sweep may take: its share of what is left, less the tail kept for the figures. */
  slice(step: Exclude<Step, "sweep">): number {
    return Math.max(0, (this.secondsLeft() - TAIL_SECONDS) * SHARE[step]);
  }
}

/** The test files that hold kernel (GPU parity) tests. */
async function kernelTests(): Promise<string[]> {
  const files = [...KERNEL_TEST_FILES];
  for (const folder of KERNEL_TEST_FOLDERS) {
    for await (const entry of Deno.readDir(`${ROOT}/${folder}`)) {
      if (entry.isFile && entry.name.endsWith("_test.ts")) files.push(`${folder}/${entry.name}`);
    }
  }
  return files.sort();
}

/**
 * The models of `models` with a final row on every path in the results file (finished), those skipped
 * for the time budget ("skipped: needs ~X h"), and the others (unfinished).
 */
export function finishedModels(
  csv: string,
  models: readonly string[],
  paths: readonly string[],
): { finished: string[]; skipped: string[]; unfinished: string[] } {
  const rows = csv.trim()
    ? parse(csv, { columns: true }) as { model: string; path: string; status?: string }[]
    : [];
  const rowsOf = (model: string) =>
    paths.map((path) => rows.find((row) => row.model === model && row.path === path));
  const skipped = models.filter((model) => rowsOf(model).some((row) => row?.status?.startsWith("skipped")));
  const finished = models.filter((model) => !skipped.includes(model) && rowsOf(model).every((row) => row));
  return {
    finished,
    skipped,
    unfinished: models.filter((m) => !finished.includes(m) && !skipped.includes(m)),
  };
}

async function machineLines(): Promise<string[]> {
  const lines = [
    `cores: ${navigator.hardwareConcurrency}; memory: ${
      (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
    } GiB`,
  ];
  try {
    const smi = await new Deno.Command("nvidia-smi", { args: ["-L"], stdout: "piped", stderr: "null" })
      .output();
    if (smi.success) lines.push(...new TextDecoder().decode(smi.stdout).trim().split("\n"));
  } catch {
    lines.push("nvidia-smi: not installed");
  }
  return lines;
}

/** MNIST's training images; the sweep trains on all of them unless --train-limit says fewer. */
const MNIST_TRAIN_IMAGES = 60000;

/**
 * The study's training time from measured step costs: the sum over the models with a cost (seconds per
 * training step) of cost x steps per epoch x epochs, and the models without one.
 */
export function studyEstimate(
  costs: ReadonlyMap<string, number>,
  models: readonly string[],
  stepsPerEpoch: number,
  epochs: number,
): { seconds: number; measured: string[]; unmeasured: string[] } {
  const measured = models.filter((model) => costs.has(model));
  const seconds = measured.reduce((sum, model) => sum + costs.get(model)! * stepsPerEpoch * epochs, 0);
  return { seconds, measured, unmeasured: models.filter((model) => !costs.has(model)) };
}

/** The step costs the sweep measured into its store (store.ts's step_costs table), by model, at batch 4. */
function storedStepCosts(csvPath: string): Map<string, number> {
  const costs = new Map<string, number>();
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(storePath(csvPath), { readOnly: true });
    const rows = db.prepare("SELECT model, seconds FROM step_costs WHERE batch = ?").all(PROTOCOL.batchSize);
    for (const row of rows as { model: string; seconds: number }[]) costs.set(row.model, row.seconds);
  } catch {
    // No store yet, or no costs in it: nothing measured.
  } finally {
    db?.close();
  }
  return costs;
}

function duration(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}

/**
 * Runs the study of `plan` into the folder `out` (new or empty), within its time; `args` are the command's
 * own, for the summary.
 */
export async function runGpuStudy(out: string, plan: StudyPlan, args: readonly string[]): Promise<void> {
  if (await exists(out)) {
    const entries = [...Deno.readDirSync(out)];
    if (entries.length) {
      throw new UserError(`${out} is not empty: choose a new or empty folder (nothing is overwritten)`);
    }
  }
  await Deno.mkdir(out, { recursive: true });
  // The sweep's store, its per-epoch training state and the figures' folder stay out of OUT (at most 8 files).
  const work = await Deno.makeTempDir({ prefix: "gpu-study-" });
  const results = `${work}/results.csv`, figures = `${work}/figures`;
  const log = await Deno.open(`${out}/study.log`, { write: true, create: true, append: true });
  const study = new Study(out, work, plan, log);
  const keepResults = () => Deno.copyFile(results, `${out}/results.csv`).catch(() => {});
  try {
    for (const line of await machineLines()) await study.note(line);
    await study.note(
      `${plan.models.length} models, ${plan.jobs} concurrent jobs, ${plan.minutes} min in all; ` +
        `sweep flags: ${plan.sweepArgs.join(" ") || "the study's"}${
          plan.models.length < STUDY_MODELS.length ? ` --models ${plan.models.join(",")}` : ""
        }`,
    );
    const sweep = [
      ...await taskCommand("sweep"),
      ...plan.sweepArgs,
      "--paths",
      PATHS.join(","),
      "--train-backend",
      "webgpu",
      "--jobs",
      String(plan.jobs),
      "--out",
      results,
    ];

    // All 31 models are the sweep's default: named only when the list is shorter.
    const modelsFlag = (models: readonly string[]) =>
      models.length === STUDY_MODELS.length ? [] : ["--models", models.join(",")];
    let sweepModels = plan.models;
    if (!plan.skip.includes("estimate")) {
      // The sweep keeps the measured step costs in its store: the sweep below does not measure them again.
      await study.run(
        "estimate",
        [...sweep, ...modelsFlag(plan.models), "--estimate-only"],
        study.slice("estimate"),
        `${out}/estimate.txt`,
      );
      const { seconds, measured, unmeasured } = studyEstimate(
        storedStepCosts(results),
        plan.models,
        Math.ceil(Math.min(plan.trainLimit ?? MNIST_TRAIN_IMAGES, MNIST_TRAIN_IMAGES) / PROTOCOL.batchSize),
        plan.epochs,
      );
      const lines = measured.length === 0
        ? ["the full study: no step cost measured in the estimate's time (see study.log)"]
        : [
          `the full study's training (${plan.epochs} epoch${
            plan.epochs === 1 ? "" : "s"
          }), from measured step costs` +
          (unmeasured.length ? ` of ${measured.length} of ${plan.models.length} models` : "") +
          `: ~${duration(seconds)} one model at a time, ~${duration(seconds / plan.jobs)} with ` +
          `${plan.jobs} job${
            plan.jobs === 1 ? "" : "s"
          } if the GPU keeps up; the measurements on both paths come on top`,
          ...unmeasured.length ? [`not measured in time, not counted: ${unmeasured.join(", ")}`] : [],
        ];
      await Deno.writeTextFile(`${out}/estimate.txt`, lines.join("\n") + "\n", { append: true });
      for (const line of lines) await study.note(line);
      // The sweep would spend its time measuring the rest (before any training, past its time limit):
      // it gets the models measured in time, and the others are listed as unfinished.
      if (measured.length > 0 && unmeasured.length > 0) sweepModels = measured;
    }
    if (!plan.skip.includes("parity")) {
      const test = await taskCommand("test");
      // --no-check: CI type-checks; here the time goes to the GPU.
      const files = await kernelTests();
      await study.run(
        "parity",
        [...test.slice(0, -1), "--no-check", "--filter", "/GPU|gpu|webgpu/", ...files],
        study.slice("parity"),
      );
    }
    if (!plan.skip.includes("bench")) {
      const bench = [...await taskCommand("bench"), ...plan.benchArgs];
      await study.run("bench", bench, study.slice("bench"), `${out}/bench.json`);
    }

    // The sweep's own limit comes first: no epoch or model starts after it, and the one in progress, its
    // measurements and the sweep's figures fit in the time kept after it. A model that could not finish
    // within it is skipped up front, with a row saying what it needs. The process group's limit, a few
    // seconds before the end, is a backstop.
    const left = study.secondsLeft();
    const limitSeconds = Math.max(6, left - TAIL_SECONDS - Math.max(10, left / 10));
    const limitMinutes = Math.max(0.1, Math.floor(limitSeconds / 6) / 10);
    const copier = setInterval(keepResults, 20_000);
    let sweepRun: StepResult;
    try {
      sweepRun = await study.run("sweep", [
        ...sweep,
        ...modelsFlag(sweepModels),
        "--time-limit-minutes",
        String(limitMinutes),
        "--budget-hours",
        String(Number((limitMinutes / 60).toPrecision(3))),
        "--figures",
        figures,
      ], Math.max(limitMinutes * 60 + 5, left - END_SECONDS));
    } finally {
      clearInterval(copier);
    }
    await keepResults();

    const csv = await Deno.readTextFile(results).catch(() => "");
    const { finished, skipped, unfinished } = finishedModels(csv, plan.models, PATHS);
    const figureFiles = async () => (await exists(figures)) ? [...Deno.readDirSync(figures)].length : 0;
    if (finished.length && (sweepRun.stopped || await figureFiles() === 0)) {
      const report = [...await taskCommand("report"), "--csv", results, "--out", figures];
      await study.run("figures", report, Math.max(10, study.secondsLeft() - 3));
    }
    if (await figureFiles() > 0) {
      await study.run("archive", ["tar", "-czf", `${out}/figures.tar.gz`, "-C", work, "figures"], 60);
    }

    const steps = study.results.map((r) =>
      `${r.step} ${r.stopped ? "stopped" : r.code === 0 ? "ok" : `exit ${r.code}`} ${r.seconds.toFixed(0)} s`
    );
    const summary = [
      `gpu-study ${args.join(" ")}`,
      ...await machineLines(),
      `steps: ${steps.join("; ")}`,
      `finished (${finished.length}/${plan.models.length}): ${finished.join(", ") || "none"}`,
      `skipped, over the time limit by the estimate (${skipped.length}): ${skipped.join(", ") || "none"}`,
      `unfinished (${unfinished.length}): ${unfinished.join(", ") || "none"}`,
      `files: ${[...Deno.readDirSync(out)].map((e) => e.name).concat("summary.txt").sort().join(", ")}`,
    ];
    await Deno.writeTextFile(`${out}/summary.txt`, summary.join("\n") + "\n");
    for (const line of summary.slice(-4)) await study.note(line);
  } finally {
    log.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
