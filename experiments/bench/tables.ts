/** The bench's ratios, the targets, and the report printed as aligned tables. */
import {
  DENSE_SIZE,
  type DenseRow,
  INFERENCE_BATCH,
  type InferenceRow,
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
  ["ours-webgpu", "pytorch-cpu"],
  ["ours-cpu", "pytorch-cpu"],
  ["ours-webgpu", "pytorch-cuda"],
];
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

/** The targets: each is one ratio of this run against a threshold. */
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

export function targets(all: readonly Ratio[], models: readonly string[], peersRun: boolean): Target[] {
  return TARGETS.map(({ target, threshold, ...wanted }) => {
    const ratio = all.find((r) =>
      r.measure === wanted.measure && r.model === wanted.model && r.batch === wanted.batch &&
      r.ours === wanted.ours && r.other === wanted.other
    );
    if (ratio) return { target, threshold, times: ratio.times, pass: ratio.times >= threshold };
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

export const cellText = (value: number | string | undefined) =>
  typeof value === "number" ? formatNumber(value) : value ?? "-";

export function trainingTable(rows: readonly TrainingRow[]): string {
  return table(
    "model batch path img/s steps repeats ms/step submits/step dispatches/step note".split(" "),
    rows.map((row) => [
      row.model,
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.imagesPerSecond, row.steps, row.samples?.length].map(cellText),
      ...[row.secondsPerStep && 1000 * row.secondsPerStep, row.submitsPerStep, row.dispatchesPerStep].map(
        cellText,
      ),
      note(row),
    ]),
  );
}

export function inferenceTable(rows: readonly InferenceRow[]): string {
  return table(
    ["model", "path", "kernel ms", "streamed ms", "latency ms", "batches", "repeats", "note"],
    rows.map((row) => [
      row.model,
      PATH_LABELS[row.path],
      ...[row.kernelMs, row.streamedMs, row.latencyMs, row.batches, row.repeats].map(cellText),
      note(row),
    ]),
  );
}

export function denseTable(rows: readonly DenseRow[]): string {
  return table(
    ["batch", "path", "kernel", "GFLOP/s", "repeats", "clock / note"],
    rows.map((row) => [
      String(row.batch),
      PATH_LABELS[row.path],
      ...[row.kernel, row.gflops, row.samples?.length].map(cellText),
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
  return t.pass === undefined
    ? `----  ${t.target}: ${t.why} (target >= ${t.threshold}x)`
    : `${t.pass ? "PASS" : "FAIL"}  ${t.target} = ${formatNumber(t.times)}x (target >= ${t.threshold}x)`;
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
    pytorch?: string;
  };
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
      (allDefault ? " (all today's: its tuned / fixed ratio measures only the noise of this run)" : ""),
      ...row.kernelChoices!.map((line) => `  ${line}`),
    ];
  });
  return lines.length ? [...lines, ""] : [];
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
    `TF.js webgpu backend (in this process, on its own device): ${adapters.tfjsWebgpu ?? "not run"}`,
    `PyTorch: ${adapters.pytorch ?? "not run"}`,
    "",
    `Training, images per second (median of repeats; steps = timed steps per repeat; lr ${report.settings.learningRate})`,
    trainingTable(report.training),
    `clock: ${report.clocks.training}`,
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
    "Targets",
    ...report.targets.map(targetLine),
    "",
    `bench took ${report.seconds.toFixed(0)} s`,
  ].join("\n");
}
