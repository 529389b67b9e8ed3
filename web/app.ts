/**
 * The page `deno task serve` serves, bundled for the browser: MNIST from the server, a model trained
 * on the browser's WebGPU with the library alone (mod.ts), live loss and accuracy, per-kernel GPU time,
 * and a digit drawn with the mouse classified by the model. `window.lab` lets a test drive it.
 */
import {
  type Backend,
  type BackendKind,
  CompiledModel,
  createBackend,
  DeviceDataSet,
  type Dispatch,
  type LabelledImages,
  modelByName,
  type PixelStats,
  predict,
  Random,
  SHUFFLE_STREAM,
  trainModel,
} from "../mod.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import type { Lab, RunConfig, RunResult } from "./lab.ts";

/** What the server says about the data it serves. */
interface Meta {
  readonly train: { count: number; rows: number; cols: number };
  readonly test: { count: number; rows: number; cols: number };
  readonly stats: PixelStats;
  readonly source: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const STEPS_PER_CHUNK = 25;

let meta: Meta | undefined;
let sets: { train: LabelledImages; test: LabelledImages } | undefined;
let current: { backend: Backend; model: CompiledModel; stats: PixelStats } | undefined;
let stopRequested = false;

async function bytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadData(): Promise<void> {
  meta = await (await fetch("data/meta.json")).json() as Meta;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    ["train-images", "train-labels", "test-images", "test-labels"].map((name) => bytes(`data/${name}`)),
  );
  const set = (images: Uint8Array, labels: Uint8Array, shape: Meta["train"]): LabelledImages => ({
    images,
    labels,
    count: shape.count,
    channels: 1,
    rows: shape.rows,
    cols: shape.cols,
    classes: 10,
  });
  sets = { train: set(trainImages, trainLabels, meta.train), test: set(testImages, testLabels, meta.test) };
}

/** The first `count` images of a set. */
function prefix(set: LabelledImages, count: number): LabelledImages {
  const n = Math.min(count, set.count), pixels = set.rows * set.cols;
  return {
    ...set,
    count: n,
    images: set.images.subarray(0, n * pixels),
    labels: Array.from(set.labels).slice(0, n),
  };
}

// ---------- charts ----------

interface Series {
  readonly points: [number, number][];
  readonly color: string;
  readonly label: string;
}

function drawChart(
  canvas: HTMLCanvasElement,
  series: Series[],
  yMax: number | undefined,
  xMax: number,
): void {
  const context = canvas.getContext("2d")!;
  const { width, height } = canvas;
  const left = 44, bottom = 20, top = 8, right = 8;
  context.clearRect(0, 0, width, height);
  const all = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const top_ = yMax ?? Math.max(1e-6, ...all) * 1.05;
  const x = (v: number) => left + (v / Math.max(xMax, 1)) * (width - left - right);
  const y = (v: number) => top + (1 - v / top_) * (height - top - bottom);
  context.strokeStyle = "#bbb";
  context.fillStyle = "#555";
  context.font = "11px system-ui";
  for (let i = 0; i <= 4; i++) {
    const value = (top_ * i) / 4;
    context.beginPath();
    context.moveTo(left, y(value));
    context.lineTo(width - right, y(value));
    context.stroke();
    context.fillText(value.toFixed(value < 1 ? 2 : 1), 4, y(value) + 4);
  }
  context.fillText(`step ${xMax}`, width - right - 70, height - 4);
  series.forEach((s, i) => {
    context.strokeStyle = s.color;
    context.fillStyle = s.color;
    context.lineWidth = 2;
    context.beginPath();
    s.points.forEach(([px, py], j) => j === 0 ? context.moveTo(x(px), y(py)) : context.lineTo(x(px), y(py)));
    context.stroke();
    for (const [px, py] of s.points.length < 40 ? s.points : []) context.fillRect(x(px) - 2, y(py) - 2, 4, 4);
    context.fillText(s.label, left + 8 + i * 110, top + 12);
  });
  context.lineWidth = 1;
}

// ---------- training ----------

function status(text: string): void {
  $("status").textContent = text;
}

/**
 * The logits of the first training step's batch (batch 0 of epoch 1's order, which the seed's shuffling
 * stream gives as trainModel will): gather and forward only, so nothing is trained.
 */
async function firstBatchLogits(model: CompiledModel, train: DeviceDataSet, seed: number): Promise<number[]> {
  const { backend } = model;
  train.setOrder(new Random(seed + SHUFFLE_STREAM).permutation(train.count));
  const step = backend.tensor("first.step", "u32", [1], [0]);
  backend.run([train.gatherAt(model, step), ...model.forward]);
  const logits = await backend.read(model.logits.value);
  backend.release(step);
  return Array.from(logits);
}

/** Times each dispatch of one training step on a model of its own (timestamps where the adapter has them). */
async function profileKernels(backend: Backend, config: RunConfig, train: DeviceDataSet): Promise<string> {
  const model = new CompiledModel(backend, modelByName(config.model), config.batch, config.seed);
  model.setLearningRate(0);
  const step: Dispatch[] = model.trainStep(train.gatherFor(model));
  const repeats = 10;
  backend.run(step, 2); // warm-up: pipelines, first submits
  const times = await backend.timeKernels(Array.from({ length: repeats }, () => step.map((d) => [d])).flat());
  const perKernel = new Map<string, { count: number; ms: number }>();
  times.msPerProgram.forEach((ms, i) => {
    const name = step[i % step.length].kernel.entry;
    const entry = perKernel.get(name) ?? { count: 0, ms: 0 };
    entry.ms += ms / repeats;
    if (i < step.length) entry.count++;
    perKernel.set(name, entry);
  });
  const table = $<HTMLTableElement>("kernels");
  table.innerHTML = "<tr><th>kernel</th><th>dispatches</th><th>ms per step</th></tr>";
  let total = 0;
  for (const [name, { count, ms }] of [...perKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    table.insertAdjacentHTML(
      "beforeend",
      `<tr><td>${name}</td><td>${count}</td><td>${ms.toFixed(3)}</td></tr>`,
    );
    total += ms;
  }
  table.insertAdjacentHTML(
    "beforeend",
    `<tr><th>all</th><th>${step.length}</th><th>${total.toFixed(3)}</th></tr>`,
  );
  const clock = backend.adapter.isSoftware ? `${times.clock}, software adapter` : times.clock;
  $("clock").textContent = `Clock: ${clock}; mean of ${repeats} steps, on a model of its own.`;
  return clock;
}

/** Trains as the lab's protocol says (or as `config` changes it), drawing the curves as it goes. */
export async function train(config: RunConfig): Promise<RunResult> {
  if (!sets) await loadData();
  showConfig(config);
  current?.backend.destroy();
  current = undefined;
  stopRequested = false;
  const schedule = parseSchedule(config.schedule);
  const backend = await createBackend(config.backend);
  const spec = modelByName(config.model);
  const model = new CompiledModel(backend, spec, config.batch, config.seed);
  const stats = meta!.stats;
  const trainSet = new DeviceDataSet(backend, "train", prefix(sets!.train, config.trainLimit), stats);
  const testSet = new DeviceDataSet(backend, "test", prefix(sets!.test, config.testLimit), stats);
  current = { backend, model, stats };
  ($("classify") as HTMLButtonElement).disabled = false;
  const kernelClock = await profileKernels(backend, config, trainSet);

  const stepsPerEpoch = trainSet.steps(config.batch);
  const totalSteps = Math.min(config.maxSteps ?? Infinity, stepsPerEpoch * config.epochs);
  const loss: Series = { points: [], color: "#c33", label: "training loss" };
  const trainAccuracy: Series = { points: [], color: "#36c", label: "training" };
  const testAccuracy: Series = { points: [], color: "#393", label: "test" };
  const firstLogits = config.epochs > 0 ? await firstBatchLogits(model, trainSet, config.seed) : [];
  // The library's loop; the curves are drawn from its progress readbacks (chunks of STEPS_PER_CHUNK).
  let stepsBefore = 0, done = 0, lossBefore = 0, samplesBefore = 0;
  const run = await trainModel(
    model,
    { train: trainSet, test: testSet },
    { epochs: config.epochs, schedule, seed: config.seed, trainCount: trainSet.count },
    {
      maxSteps: totalSteps,
      maxChunkSteps: STEPS_PER_CHUNK,
      readLoss: true,
      shouldStop: () => stopRequested,
      onProgress: (epoch, epochDone, epochSteps, seconds, totals) => {
        if (epochDone === 0 || totals.samples === samplesBefore) return;
        done = stepsBefore + epochDone;
        loss.points.push([done, (totals.lossSum - lossBefore) / (totals.samples - samplesBefore)]);
        trainAccuracy.points.push([done, totals.correct / totals.samples]);
        [lossBefore, samplesBefore] = [totals.lossSum, totals.samples];
        drawChart($("loss"), [loss], undefined, totalSteps);
        drawChart($("accuracy"), [trainAccuracy, testAccuracy], 1, totalSteps);
        status(
          `epoch ${epoch}/${config.epochs}, step ${done}/${totalSteps}, ` +
            `${(epochDone / seconds).toFixed(0)} steps/s, loss ${loss.points.at(-1)![1].toFixed(4)}`,
        );
        if (epochDone === epochSteps) status(`epoch ${epoch}: testing on ${testSet.count} images...`);
      },
      onEpoch: (result, trained) => {
        stepsBefore += trained.steps;
        [lossBefore, samplesBefore] = [0, 0];
        testAccuracy.points.push([stepsBefore, result.testAccuracy]);
        drawChart($("accuracy"), [trainAccuracy, testAccuracy], 1, totalSteps);
      },
    },
  );
  const stepsPerSecond = stepsBefore / run.trainSeconds;
  const accuracy = run.testAccuracy;
  status(
    `${stopRequested ? "stopped" : "done"}: ${stepsBefore} steps, ${stepsPerSecond.toFixed(0)} steps/s, ` +
      `test accuracy ${accuracy.toFixed(4)}`,
  );
  return {
    adapter: backend.adapter.name,
    software: backend.adapter.isSoftware,
    firstLogits,
    losses: loss.points.map((p) => p[1]),
    steps: stepsBefore,
    stepsPerSecond,
    testAccuracy: accuracy,
    kernelClock,
  };
}

/** Shows a run's settings in the form, so the page says what it trains. */
function showConfig(config: RunConfig): void {
  const models = $<HTMLSelectElement>("model");
  if (![...models.options].some((option) => option.value === config.model)) {
    models.add(new Option(config.model));
  }
  models.value = config.model;
  $<HTMLSelectElement>("backend").value = config.backend;
  for (const key of ["epochs", "batch", "seed", "trainLimit", "testLimit", "schedule"] as const) {
    input(key).value = String(config[key]);
  }
}

function formConfig(): RunConfig {
  const number = (id: string) => Number(input(id).value);
  return {
    model: $<HTMLSelectElement>("model").value,
    backend: $<HTMLSelectElement>("backend").value as BackendKind,
    epochs: number("epochs"),
    batch: number("batch"),
    seed: number("seed"),
    trainLimit: number("trainLimit"),
    testLimit: number("testLimit"),
    schedule: input("schedule").value,
  };
}

// ---------- the drawing pad ----------

/** The pad's drawing as MNIST would have it: the ink's box scaled to 20x20, centred in 28x28. */
function padImage(): Uint8Array {
  const pad = $<HTMLCanvasElement>("pad");
  const { data, width, height } = pad.getContext("2d")!.getImageData(0, 0, pad.width, pad.height);
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] > 20) {
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
  }
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const context = small.getContext("2d")!;
  context.fillStyle = "#000";
  context.fillRect(0, 0, 28, 28);
  if (x1 >= 0) {
    const side = Math.max(x1 - x0, y1 - y0) + 1, scale = 20 / side;
    const w = (x1 - x0 + 1) * scale, h = (y1 - y0 + 1) * scale;
    context.imageSmoothingQuality = "high";
    context.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (28 - w) / 2, (28 - h) / 2, w, h);
  }
  const pixels = context.getImageData(0, 0, 28, 28).data;
  return Uint8Array.from({ length: 784 }, (_, i) => pixels[i * 4]);
}

async function classify(): Promise<number> {
  if (!current) throw new Error("train a model first");
  const { model, stats } = current;
  const images = padImage();
  const { logits, classes } = await predict(
    model,
    { images, count: 1, channels: 1, rows: 28, cols: 28 },
    stats,
  );
  const top = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  $("prediction").innerHTML = `<b>It is a ${classes[0]}</b><br>` +
    exps.map((e, digit) =>
      `${digit} <span class="bar" style="width:${(150 * e / sum).toFixed(0)}px"></span> ${
        (100 * e / sum).toFixed(1)
      }%`
    ).join("<br>");
  return classes[0];
}

function setUpPad(): void {
  const pad = $<HTMLCanvasElement>("pad");
  const context = pad.getContext("2d")!;
  const clear = () => {
    context.fillStyle = "#000";
    context.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let last: [number, number] | undefined;
  pad.addEventListener("pointerdown", (event) => {
    last = [event.offsetX, event.offsetY];
    pad.setPointerCapture(event.pointerId);
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last) return;
    context.strokeStyle = "#fff";
    context.lineWidth = 16;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(event.offsetX, event.offsetY);
    context.stroke();
    last = [event.offsetX, event.offsetY];
  });
  pad.addEventListener("pointerup", () => {
    last = undefined;
    if (current) classify().catch(showError);
  });
  $("clear").addEventListener("click", () => {
    clear();
    $("prediction").textContent = "";
  });
  $("classify").addEventListener("click", () => classify().catch(showError));
}

function showError(error: unknown): void {
  status(`error: ${error instanceof Error ? error.message : String(error)}`);
}

// ---------- start ----------

async function describeGpu(): Promise<boolean> {
  const banner = $("gpu");
  if (!("gpu" in navigator) || !navigator.gpu) {
    banner.className = "banner warn";
    banner.textContent =
      "This browser has no WebGPU (navigator.gpu is missing), so the GPU path cannot run here. " +
      "Use a browser with WebGPU (Chrome or Edge 113+, Safari 26, Firefox 141+ on Windows; on Linux Chrome " +
      "needs chrome://flags/#enable-unsafe-webgpu), or train on the CPU path (the TypeScript twins), slowly.";
    $<HTMLSelectElement>("backend").value = "cpu";
    return false;
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    banner.className = "banner warn";
    banner.textContent = "This browser has WebGPU but offers no adapter (blocked or unsupported GPU): " +
      "only the CPU path can run here.";
    $<HTMLSelectElement>("backend").value = "cpu";
    return false;
  }
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ") ||
    "an unnamed adapter";
  const timestamps = adapter.features.has("timestamp-query");
  banner.className = "banner ok";
  banner.textContent = `WebGPU adapter: ${name}${
    /swiftshader|llvmpipe|software/i.test(name)
      ? " (a software adapter: its timings are not a real GPU's)"
      : ""
  }; ${
    timestamps ? "kernel times from timestamp queries" : "no timestamp queries: kernel times by wall clock"
  }.`;
  return true;
}

function setDefaults(): void {
  input("epochs").value = String(PROTOCOL.epochs);
  input("batch").value = String(PROTOCOL.batchSize);
  input("seed").value = String(PROTOCOL.seed);
  input("trainLimit").value = "60000";
  input("testLimit").value = "10000";
  input("schedule").value = PROTOCOL.learningRateSchedule;
}

const ready = (async () => {
  setDefaults();
  setUpPad();
  const hasGpu = await describeGpu();
  await loadData();
  input("trainLimit").max = String(meta!.train.count);
  status(`MNIST loaded: ${meta!.train.count} training and ${meta!.test.count} test images`);
  $("train").addEventListener("click", () => {
    ($("train") as HTMLButtonElement).disabled = true;
    ($("stop") as HTMLButtonElement).disabled = false;
    train(formConfig()).catch(showError).finally(() => {
      ($("train") as HTMLButtonElement).disabled = false;
      ($("stop") as HTMLButtonElement).disabled = true;
    });
  });
  $("stop").addEventListener("click", () => stopRequested = true);
  return { hasGpu };
})();

/** For tests and the console: the page's own functions. */
const lab: Lab = {
  ready,
  train,
  classify,
  defaults: (): RunConfig => formConfig(),
  draw: (strokes: [number, number][][]) => {
    const context = $<HTMLCanvasElement>("pad").getContext("2d")!;
    context.strokeStyle = "#fff";
    context.lineWidth = 16;
    context.lineCap = context.lineJoin = "round";
    for (const stroke of strokes) {
      context.beginPath();
      stroke.forEach(([x, y], i) => i === 0 ? context.moveTo(x, y) : context.lineTo(x, y));
      context.stroke();
    }
  },
};
(globalThis as unknown as { lab: Lab }).lab = lab;
