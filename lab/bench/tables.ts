/** The bench's ratios, the issue's targets, and the report printed as aligned tables. */
import {
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
  JS_PEERS,
  type Outcome,
  PATH_LABELS,
  type PathId,
  type Ratio,
  type Target,
  TRAINING_BATCHES,
  type TrainingRow,
} from "./rows.ts";

// ---------- ratios and targets ----------

/** The pairs compared: each of our paths against its counterparts. */
export const RATIO_PAIRS: [PathId, PathId][] = [
  ["ours-webgpu", "ours-cpu"],
  ["ours-webgpu", "ours-webgpu-fixed"],
  ["ours-webgpu", "tfjs-webgpu"],
  ["ours-cpu", "tfjs-cpu"],
  ["ours-cpu", "tfjs-wasm"],
  ["ours-webgpu", "tfjs-wasm"],
  ["ours-webgpu", "jaxjs-webgpu"],
  ["ours-cpu", "jaxjs-wasm"],
  ["ours-webgpu", "jaxjs-wasm"],
  ["ours-cpu", "jaxjs-cpu"],
  ["ours-webgpu", "pytorch-cpu"],
  ["ours-cpu", "pytorch-cpu"],
  ["ours-webgpu", "pytorch-cuda"],
];
/** The CPU peers, each at its strongest setting: the strongest of them is the one we compare worst with. */
export const CPU_PEERS: PathId[] = ["pytorch-cpu", "tfjs-wasm", "tfjs-cpu", "jaxjs-wasm", "jaxjs-cpu"];
export const DENSE_MEASURE = `dense ${DENSE_SIZE}x${DENSE_SIZE} GFLOP/s`;

export function ratios(training: TrainingRow[], inference: InferenceRow[], dense: DenseRow[]): Ratio[] {
  const out: Ratio[] = [];
  /** Compares the paths among `rows` (one model and batch) on one figure. */
  const compare = <R extends { path: PathId }>(
    measure: string,
    rows: R[],
    figure: (row: R) => number | undefined,
    higherIsFaster: boolean,
    key: { model?: string; batch: number },
  ) => {
    const of = (path: PathId) => {
      const row = rows.find((row) => row.path === path);
      return row && figure(row);
    };
    for (const [ours, other] of RATIO_PAIRS) {
      const a = of(ours), b = of(other);
      if (a && b) out.push({ measure, ...key, ours, other, times: higherIsFaster ? a / b : b / a });
    }
  };
  for (const model of new Set([...training, ...inference].map((row) => row.model))) {
    for (const batch of TRAINING_BATCHES) {
      const rows = training.filter((row) => row.model === model && row.batch === batch);
      compare("training images/s", rows, (row) => row.imagesPerSecond, true, { model, batch });
    }
    const rows = inference.filter((row) => row.model === model), key = { model, batch: INFERENCE_BATCH };
    compare("inference kernel ms/batch", rows, (row) => row.kernelMs, false, key);
    compare("inference streamed ms/batch", rows, (row) => row.streamedMs, false, key);
    compare("inference latency ms", rows, (row) => row.latencyMs, false, key);
  }
  for (const batch of TRAINING_BATCHES) {
    compare(DENSE_MEASURE, dense.filter((row) => row.batch === batch), (row) => row.gflops, true, { batch });
  }
  return out;
}

/**
 * Each of our paths against the strongest peer of a kind for one measure, model and batch: the peer
 * whose ratio is lowest (the one we compare worst with).
 */
export function strongestPeer(
  all: readonly Ratio[],
  wanted: Pick<Ratio, "measure" | "model" | "batch" | "ours">,
  peers: readonly PathId[],
): Ratio | undefined {
  return all
    .filter((r) =>
      r.measure === wanted.measure && r.model === wanted.model && r.batch === wanted.batch &&
      r.ours === wanted.ours && peers.includes(r.other)
    )
    .reduce<Ratio | undefined>(
      (worst, r) => (worst === undefined || r.times < worst.times ? r : worst),
      undefined,
    );
}

/** Every non-ours path: a target is also stated against the strongest of these. */
const ALL_PEERS = Object.keys(PATH_LABELS).filter((path) => !path.startsWith("ours")) as PathId[];

/** Ours against the strongest CPU peer, per measure, model and batch, for both of our paths. */
export function strongestCpuPeerRatios(all: readonly Ratio[]): Ratio[] {
  const keys = new Map(all.map((r) => [[r.measure, r.model, r.batch].join("\t"), r]));
  return [...keys.values()].flatMap((r) =>
    (["ours-webgpu", "ours-cpu"] as const).flatMap((ours) =>
      strongestPeer(all, { measure: r.measure, model: r.model, batch: r.batch, ours }, CPU_PEERS) ?? []
    )
  );
}

// ---------- ours against the strongest JavaScript peer (issue 23) ----------

/** Our paths in a cell's comparison with the JavaScript peers: whichever is faster in that cell. */
export const OURS_AGAINST_JS: readonly PathId[] = ["ours-webgpu", "ours-cpu"];

/** One cell: the faster of our paths against the fastest JavaScript peer (any library, any backend). */
export interface JsPeerComparison {
  measure: string;
  model: string;
  batch: number;
  ours: PathId;
  oursFigure: number;
  peer: PathId;
  peerFigure: number;
  /** The peer's setting in that cell, e.g. "read back every 10". */
  peerSetting?: string;
  /** How many times faster ours is than that peer (> 1: ours is faster). */
  times: number;
}

/** The cells compared: each training batch, and each inference figure. */
const JS_PEER_MEASURES: {
  measure: string;
  training?: number;
  figure: (row: TrainingRow & InferenceRow) => number | undefined;
  higherIsFaster: boolean;
}[] = [
  ...TRAINING_BATCHES.map((batch) => ({
    measure: "training images/s",
    training: batch,
    figure: (row: TrainingRow) => row.imagesPerSecond,
    higherIsFaster: true,
  })),
  { measure: "inference kernel ms/batch", figure: (row) => row.kernelMs, higherIsFaster: false },
  { measure: "inference streamed ms/batch", figure: (row) => row.streamedMs, higherIsFaster: false },
  { measure: "inference latency ms", figure: (row) => row.latencyMs, higherIsFaster: false },
];

export function strongestJsPeerComparisons(
  training: readonly TrainingRow[],
  inference: readonly InferenceRow[],
): JsPeerComparison[] {
  const out: JsPeerComparison[] = [];
  for (const model of new Set([...training, ...inference].map((row) => row.model))) {
    for (const { measure, training: batch, figure, higherIsFaster } of JS_PEER_MEASURES) {
      const cell = (batch === undefined ? inference : training).filter((row) =>
        row.model === model && row.batch === (batch ?? INFERENCE_BATCH)
      ) as (TrainingRow & InferenceRow)[];
      /** The fastest row among `paths` with a figure in this cell. */
      const fastest = (paths: readonly PathId[]) =>
        cell.filter((row) => paths.includes(row.path) && figure(row))
          .reduce<(TrainingRow & InferenceRow) | undefined>(
            (best, row) =>
              best === undefined ||
                (higherIsFaster ? figure(row)! > figure(best)! : figure(row)! < figure(best)!)
                ? row
                : best,
            undefined,
          );
      const ours = fastest(OURS_AGAINST_JS), peer = fastest(JS_PEERS);
      if (!ours || !peer) continue;
      const oursFigure = figure(ours)!, peerFigure = figure(peer)!;
      out.push({
        measure,
        model,
        batch: batch ?? INFERENCE_BATCH,
        ours: ours.path,
        oursFigure,
        peer: peer.path,
        peerFigure,
        ...(peer.setting ? { peerSetting: peer.setting } : {}),
        times: higherIsFaster ? oursFigure / peerFigure : peerFigure / oursFigure,
      });
    }
  }
  return out;
}

/** Issue 23's target: ours at least as fast as every JavaScript peer in these training cells. */
export const JS_PEER_TARGET_MODELS = ["lenet5", "mlp-300-100"];
export const JS_PEER_THRESHOLD = 1;

export function jsPeerTargets(
  comparisons: readonly JsPeerComparison[],
  models: readonly string[],
  jsPeersRun: boolean,
): Target[] {
  return JS_PEER_TARGET_MODELS.flatMap((model) =>
    TRAINING_BATCHES.map((batch): Target => {
      const target = `${model} training, batch ${batch}: ours (the faster of our webgpu and cpu paths) / ` +
        `the strongest JavaScript peer images/s (issue 23)`;
      const threshold = JS_PEER_THRESHOLD;
      const c = comparisons.find((c) =>
        c.measure === "training images/s" && c.model === model && c.batch === batch
      );
      if (c) {
        return {
          target,
          threshold,
          times: c.times,
          pass: c.times >= threshold,
          oursPath: c.ours,
          jsPeer: c.peer,
          ...(c.peerSetting ? { jsPeerSetting: c.peerSetting } : {}),
        };
      }
      const why = !models.includes(model)
        ? `${model} is not among --models`
        : !jsPeersRun
        ? "no JavaScript peer was run (--no-peers, or none available)"
        : "a figure is missing (see the tables)";
      return { target, threshold, why: `not measured: ${why}` };
    })
  );
}

/** The issue's targets: each is one ratio of this run against a threshold. */
export const TARGETS: (Omit<Ratio, "times"> & { target: string; threshold: number })[] = [
  ...["lenet5", "mlp-300-100"].map((model) => ({
    target:
      `${model} training, batch 4: ours webgpu tuned / today's kernels (--kernels fixed) images/s (issue 12)`,
    threshold: 1.5,
    measure: "training images/s",
    model,
    batch: 4,
    ours: "ours-webgpu" as const,
    other: "ours-webgpu-fixed" as const,
  })),
  {
    target: "LeNet-5 training, batch 4: ours webgpu / TF.js webgpu images/s",
    threshold: 10,
    measure: "training images/s",
    model: "lenet5",
    batch: 4,
    ours: "ours-webgpu",
    other: "tfjs-webgpu",
  },
  {
    target: "LeNet-5 training, batch 4: ours webgpu / ours cpu images/s",
    threshold: 1.5,
    measure: "training images/s",
    model: "lenet5",
    batch: 4,
    ours: "ours-webgpu",
    other: "ours-cpu",
  },
  {
    target: `dense ${DENSE_SIZE}x${DENSE_SIZE}, batch 64: ours / TF.js webgpu matMul GFLOP/s`,
    threshold: 2,
    measure: DENSE_MEASURE,
    batch: 64,
    ours: "ours-webgpu",
    other: "tfjs-webgpu",
  },
  {
    target: "mlp-4096-2048 training, batch 64: ours webgpu / ours cpu images/s",
    threshold: 1.5,
    measure: "training images/s",
    model: "mlp-4096-2048",
    batch: 64,
    ours: "ours-webgpu",
    other: "ours-cpu",
  },
];

/** Tuned kernels over today's must not lose, in any training cell (issue 18); 3% is a quiet run's noise. */
export const TUNED_OVER_FIXED = 0.97;

/** The issue-18 target of one model run: a line per training batch. */
export function tunedTargets(model: string): (typeof TARGETS)[number][] {
  return TRAINING_BATCHES.map((batch) => ({
    target: `${model} training, batch ${batch}: ours webgpu tuned / today's kernels (--kernels fixed) ` +
      `images/s (issue 18)`,
    threshold: TUNED_OVER_FIXED,
    measure: "training images/s",
    model,
    batch,
    ours: "ours-webgpu" as const,
    other: "ours-webgpu-fixed" as const,
  }));
}

/**
 * What the tuned / fixed ratio measures (oursTraining in ours.ts): both models of a batch on one
 * device of their own, the same steps of the same set, passes alternating.
 */
export const TUNED_RATIO_MEANS = "ours webgpu / ours webgpu, today's kernels: both models of a batch " +
  "compiled on one fresh device (the tuned one's tuning not timed: it is paid once per adapter and shape, " +
  "then cached), each warmed by one untimed pass, then timed for the same steps of the same set in " +
  "alternating passes (tuned, fixed, fixed, tuned, ...): the ratio measures what the tuner's kernel " +
  "choices change per step, plus this run's noise, which the alternation shares evenly";

export function targets(all: readonly Ratio[], models: readonly string[], peersRun: boolean): Target[] {
  const tuned = models.flatMap(tunedTargets);
  return [...TARGETS, ...tuned].map(({ target, threshold, ...wanted }) => {
    const ratio = all.find((r) =>
      r.measure === wanted.measure && r.model === wanted.model && r.batch === wanted.batch &&
      r.ours === wanted.ours && r.other === wanted.other
    );
    const strongest = strongestPeer(all, wanted, ALL_PEERS);
    const against = strongest && { strongestPeer: strongest.other, strongestTimes: strongest.times };
    if (ratio) return { target, threshold, times: ratio.times, pass: ratio.times >= threshold, ...against };
    const why = wanted.model && !models.includes(wanted.model)
      ? `${wanted.model} is not among --models`
      : !peersRun && !wanted.other.startsWith("ours")
      ? "the peers were not run (--no-peers)"
      : "a figure is missing (see the tables)";
    return { target, threshold, why: `not measured: ${why}` };
  });
}

// ---------- tables ----------

export function formatNumber(value: number | undefined): string {
  if (value === undefined) return "-";
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** Aligned columns: text left, numbers right. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const numeric = header.map((_, i) => rows.every((row) => /^[-+0-9.x]*$/.test(row[i])));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function note(row: Outcome): string {
  return row.skipped ? `skipped: ${row.skipped}` : row.error ? `failed: ${row.error}` : "";
}

/** The setting chosen and, in brackets, each value tried with its figure: "threads 1 [1: 950, 2: 60]". */
export function settingText(row: Outcome): string {
  if (!row.setting) return "";
  const tried = Object.entries(row.tried ?? {}).map(([value, figure]) => `${value}: ${formatNumber(figure)}`);
  return tried.length ? `${row.setting} [${tried.join(", ")}]` : row.setting;
}

export const cellText = (value: number | string | undefined) =>
  typeof value === "number" ? formatNumber(value) : value ?? "-";

export function trainingTable(rows: readonly TrainingRow[]): string {
  return table(
    "model batch path img/s steps repeats ms/step submits/step dispatches/step setting note".split(" "),
    rows.map((row) => [
      row.model,
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.imagesPerSecond, row.steps, row.samples?.length].map(cellText),
      ...[row.secondsPerStep && 1000 * row.secondsPerStep, row.submitsPerStep, row.dispatchesPerStep].map(
        cellText,
      ),
      settingText(row),
      note(row),
    ]),
  );
}

export function inferenceTable(rows: readonly InferenceRow[]): string {
  return table(
    ["model", "path", "kernel ms", "streamed ms", "latency ms", "batches", "repeats", "setting", "note"],
    rows.map((row) => [
      row.model,
      PATH_LABELS[row.path],
      ...[row.kernelMs, row.streamedMs, row.latencyMs, row.batches, row.repeats].map(cellText),
      settingText(row),
      note(row),
    ]),
  );
}

export function denseTable(rows: readonly DenseRow[]): string {
  return table(
    ["batch", "path", "kernel", "GFLOP/s", "repeats", "setting", "clock / note"],
    rows.map((row) => [
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.kernel, row.gflops, row.samples?.length].map(cellText),
      settingText(row),
      note(row) || row.clock || "",
    ]),
  );
}

/** One row per measure, model and batch; one column per pair of paths compared. */
export function ratioTable(rows: readonly Ratio[]): string {
  const pairs = RATIO_PAIRS.filter(([ours, other]) => rows.some((r) => r.ours === ours && r.other === other));
  const groups = new Map<string, Ratio[]>();
  for (const r of rows) {
    const key = [r.measure, r.model ?? "-", r.batch].join("\t");
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  return table(
    [
      "measure",
      "model",
      "batch",
      ...pairs.map(([ours, other]) => `${PATH_LABELS[ours]} / ${PATH_LABELS[other]}`),
    ],
    [...groups].map(([key, group]) => [
      ...key.split("\t"),
      ...pairs.map(([ours, other]) => {
        const r = group.find((r) => r.ours === ours && r.other === other);
        return r ? `${formatNumber(r.times)}x` : "-";
      }),
    ]),
  );
}

export function targetLine(t: Target): string {
  const strongest = t.strongestPeer === undefined ? "" : `; against the strongest peer measured, ` +
    `${PATH_LABELS[t.strongestPeer]}: ${formatNumber(t.strongestTimes)}x`;
  const jsPeer = t.jsPeer === undefined ? "" : `; ${PATH_LABELS[t.oursPath!]} against ` +
    `${PATH_LABELS[t.jsPeer]}${t.jsPeerSetting ? ` (${t.jsPeerSetting})` : ""}`;
  return t.pass === undefined
    ? `----  ${t.target}: ${t.why} (target >= ${t.threshold}x)`
    : `${t.pass ? "PASS" : "FAIL"}  ${t.target} = ${formatNumber(t.times)}x (target >= ${t.threshold}x)` +
      strongest + jsPeer;
}

/** Ours against the strongest JavaScript peer of each cell: both paths named, with both figures. */
export function strongestJsPeerTable(rows: readonly JsPeerComparison[]): string {
  return table(
    [
      "measure",
      "model",
      "batch",
      "ours (faster path)",
      "figure",
      "strongest JavaScript peer",
      "figure",
      "times",
    ],
    rows.map((c) => [
      c.measure,
      c.model,
      String(c.batch),
      PATH_LABELS[c.ours],
      formatNumber(c.oursFigure),
      PATH_LABELS[c.peer] + (c.peerSetting ? ` (${c.peerSetting})` : ""),
      formatNumber(c.peerFigure),
      `${formatNumber(c.times)}x`,
    ]),
  );
}

/** Ours against the strongest CPU peer: which peer it was (with its setting) and the ratio. */
export function strongestCpuPeerTable(
  rows: readonly Ratio[],
  training: readonly TrainingRow[],
  inference: readonly InferenceRow[],
  dense: readonly DenseRow[],
): string {
  const settingOf = (r: Ratio) => {
    const sources: readonly (Outcome & { path: PathId; model?: string; batch: number })[] = r.measure
        .startsWith("training")
      ? training
      : r.measure.startsWith("inference")
      ? inference
      : dense;
    const row = sources.find((row) => row.path === r.other && row.model === r.model && row.batch === r.batch);
    return row?.setting ? ` (${row.setting})` : "";
  };
  return table(
    ["measure", "model", "batch", "ours", "strongest CPU peer", "times"],
    rows.map((r) => [
      r.measure,
      r.model ?? "-",
      String(r.batch),
      PATH_LABELS[r.ours],
      PATH_LABELS[r.other] + settingOf(r),
      `${formatNumber(r.times)}x`,
    ]),
  );
}

export interface Report {
  command: string;
  mode: string;
  date: string;
  machine: { cpuCores: number; loadAverage: number[]; deno: string; os: string };
  adapters: {
    webgpu?: string;
    webgpuIsSoftware?: boolean;
    cpu?: string;
    tfjsWebgpu?: string;
    tfjsWasm?: string;
    /** Why jax-js did not run, where it could not be loaded. */
    jaxjs?: string;
    pytorch?: string;
  };
  /** What jax-js ran as, where it ran: version, each device's line, the readback intervals tried. */
  jaxjs?: {
    version: string;
    settings: string;
    devices: Record<string, string>;
    readbackIntervalsTried: number[];
  };
  /** Ours against the strongest JavaScript peer, per training and inference cell (issue 23). */
  strongestJsPeer: JsPeerComparison[];
  /** PyTorch's BLAS library and thread counts, where PyTorch ran. */
  pytorch?: { blas?: string; defaultThreads?: number; threadsTried: number[] };
  /** TF.js webgpu's deferred-submit batch sizes tried in every cell. */
  tfjsDeferredSubmitTried?: number[];
  strongestCpuPeer: Ratio[];
  settings: { learningRate: number; repeats: number; passSeconds: number; fixedSteps?: number; seed: number };
  clocks: Record<string, string>;
  models: string[];
  training: TrainingRow[];
  inference: InferenceRow[];
  dense: DenseRow[];
  ratios: Ratio[];
  targets: Target[];
  seconds: number;
}

/** The variant each layer ran in the tuned training rows, with the tuner's timings. */
function kernelLines(rows: readonly TrainingRow[]): string[] {
  const lines = rows.filter((row) => row.kernelChoices?.length).flatMap((row) => {
    // describeChoices says "(the default;" or "(default;" where a layer kept today's kernel.
    const allDefault = row.kernelChoices!.every((line) => /\((the )?default;/.test(line));
    return [
      `${row.model}, batch ${row.batch}, ours webgpu (tuned): the kernel each layer runs` +
      (allDefault
        ? " (all today's: the tuned and fixed rows run the same pipelines, so their ratio is this run's noise)"
        : ""),
      ...row.kernelChoices!.map((line) => `  ${line}`),
    ];
  });
  return lines.length ? [...lines, ""] : [];
}

/** jax-js's version, settings and devices, or why it did not run. */
function jaxjsLines(report: Report): string[] {
  if (!report.jaxjs) return [`jax-js: ${report.adapters.jaxjs ?? "not run"}`];
  const { version, settings, devices, readbackIntervalsTried } = report.jaxjs;
  return [
    `jax-js ${version}: ${settings}; readback intervals tried per cell: ${readbackIntervalsTried.join(", ")}`,
    ...Object.entries(devices).map(([device, line]) => `  ${device}: ${line}`),
  ];
}

export function renderReport(report: Report): string {
  const { adapters, machine } = report;
  const kernelClocks = new Set(
    report.inference.flatMap((row) =>
      row.kernelClock ? [`${PATH_LABELS[row.path]}: ${row.kernelClock}`] : []
    ),
  );
  return [
    `${report.command}  (${report.mode}; ${report.date}; ${machine.cpuCores} CPU cores, load average ` +
    `${machine.loadAverage.map((v) => v.toFixed(1)).join(" ")} at start; Deno ${machine.deno})`,
    adapters.webgpu ?? "WebGPU adapter: not used",
    adapters.cpu ?? "CPU path: not used",
    `TF.js webgpu backend (in this process, on its own device): ${adapters.tfjsWebgpu ?? "not run"}` +
    (report.tfjsDeferredSubmitTried
      ? `; deferred-submit batch sizes tried per cell: ${report.tfjsDeferredSubmitTried.join(", ")}`
      : ""),
    `TF.js wasm backend: ${adapters.tfjsWasm ?? "not run"}`,
    ...jaxjsLines(report),
    `PyTorch: ${adapters.pytorch ?? "not run"}` +
    (report.pytorch ? `; CPU threads tried per cell: ${report.pytorch.threadsTried.join(", ")}` : ""),
    "",
    `Training, images per second (median of repeats; steps = timed steps per repeat; lr ${report.settings.learningRate})`,
    trainingTable(report.training),
    `clock: ${report.clocks.training}`,
    ...(report.training.some((row) => row.path === "ours-webgpu-fixed") ? [TUNED_RATIO_MEANS] : []),
    "",
    `Inference, batch ${INFERENCE_BATCH}, ms per batch (median over repeats of each repeat's median)`,
    inferenceTable(report.inference),
    ...[...kernelClocks].map((clock) => `kernel clock, ${clock}`),
    `streamed clock: ${report.clocks.streamed}`,
    `latency clock: ${report.clocks.latency}`,
    "",
    `Dense forward ${DENSE_SIZE}x${DENSE_SIZE} (GFLOP = 2*B*${DENSE_SIZE}*${DENSE_SIZE}), GFLOP/s, median of repeats`,
    denseTable(report.dense),
    "",
    "Ratios from this run, as times faster (> 1: the path named first is faster; times in ms are inverted)",
    ratioTable(report.ratios),
    "",
    ...kernelLines(report.training),
    "Ours against the strongest CPU peer of each cell (the peer we compare worst with, at its best setting)",
    strongestCpuPeerTable(report.strongestCpuPeer, report.training, report.inference, report.dense),
    "",
    "Ours (the faster of our webgpu and cpu paths in each cell) against the strongest JavaScript peer " +
    "of each cell (TF.js or jax-js, any backend, at its best setting)",
    report.strongestJsPeer.length
      ? strongestJsPeerTable(report.strongestJsPeer)
      : "no JavaScript peer measured",
    "",
    "Targets (each also stated against the strongest peer measured)",
    ...report.targets.map(targetLine),
    "",
    `bench took ${report.seconds.toFixed(0)} s`,
  ].join("\n");
}
