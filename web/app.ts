/**
 * The page `deno task serve` serves, bundled for the browser: a model the study trained, loaded at once,
 * that classifies a digit drawn with the mouse (the 28x28 image it sees shown beside the pad); training
 * on the browser's WebGPU (or the CPU path) with the library alone (mod.ts), from that model or from
 * scratch, with its expected time, live curves and per-kernel GPU time. `window.lab` lets a test drive it.
 */
import {
  type Backend,
  type BackendKind,
  CompiledModel,
  createBackend,
  decodeCheckpoint,
  DeviceDataSet,
  type Dispatch,
  encodeCheckpoint,
  evaluate,
  type LabelledImages,
  modelByName,
  type PixelStats,
  predict,
  Random,
  SHUFFLE_STREAM,
  trainModel,
} from "../mod.ts";
import { checkRange } from "../lab/flags.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import { drawChart, type Series } from "./chart.ts";
import type { Classification, Lab, Loaded, RunConfig, RunResult } from "./lab.ts";
import {
  continuedSchedule,
  formatSchedule,
  missingLine,
  type PageManifest,
  type PageModel,
  provenanceLine,
} from "./models.ts";
import { Pad, showImage } from "./pad.ts";

/** What the server says about the data it serves. */
interface Meta {
  readonly train: { count: number; rows: number; cols: number };
  readonly test: { count: number; rows: number; cols: number };
  readonly stats: PixelStats;
  readonly source: string;
}

/** The model on the page: what classifies the pad, and what fine-tuning starts from. */
interface Current {
  readonly backend: Backend;
  readonly model: CompiledModel;
  readonly stats: PixelStats;
  /** The study's checkpoint it was loaded from, if it was. */
  readonly checkpoint: PageModel | null;
  /** Epochs of the lab's schedule it has had (fine-tuning continues the schedule from there). */
  readonly epochsDone: number;
  readonly schedule: string;
  /** What the page says of a model it trained itself: from what, how, and how well. */
  readonly history: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);
const button = (id: string) => $<HTMLButtonElement>(id);
const STEPS_PER_CHUNK = 25;
/** The expected time is measured over this many steps after the first chunk (which warms up). */
const ETA_STEPS = 100;

let meta: Meta | undefined;
let sets: { train: LabelledImages; test: LabelledImages } | undefined;
let manifest: PageManifest = { models: [], missing: [] };
let current: Current | undefined;
let stopRequested = false;
let lastClassification: Classification | null = null;
const checkpointBytes = new Map<string, Promise<Uint8Array>>();

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

function status(text: string): void {
  $("status").textContent = text;
}

function showError(error: unknown): void {
  status(`error: ${error instanceof Error ? error.message : String(error)}`);
}

/** "2 min 05 s", "45 s". */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  const minutes = Math.floor(seconds / 60), rest = Math.round(seconds - 60 * minutes);
  return minutes < 60
    ? `${minutes} min ${String(rest).padStart(2, "0")} s`
    : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

// ---------- the study's models ----------

/** Replaces the model on the page (its backend goes with it). */
function replaceCurrent(next: Current): void {
  if (current && current.backend !== next.backend) current.backend.destroy();
  current = next;
  button("classify").disabled = false;
  describeCurrent();
}

function describeCurrent(): void {
  if (!current) return;
  const where = `on ${current.backend.kind === "cpu" ? "the CPU path (TypeScript twins)" : "WebGPU"}`;
  $("provenance").textContent = current.checkpoint
    ? `${provenanceLine(current.checkpoint)} Running ${where}.`
    : `${current.history} Running ${where}.`;
  select("from").options[0].text = `the model above (${current.model.spec.name}): fine-tune`;
}

/** Counts loads, so that a load overtaken by a later one (another model, another path) gives way. */
let loads = 0;

/**
 * Loads one of the study's checkpoints onto `kind`'s backend, for classifying (batch 1, no training
 * buffers). Resolves to null when a later load or a training run took the page's model meanwhile.
 */
async function load(
  name: string,
  kind: BackendKind = select("backend").value as BackendKind,
): Promise<Loaded | null> {
  const entry = manifest.models.find((m) => m.model === name);
  if (!entry) {
    throw new Error(`${name} is not one of the page's models (${manifest.models.map((m) => m.model)})`);
  }
  const token = ++loads;
  const path = kind === "cpu" ? "the CPU path" : "WebGPU";
  status(`loading ${entry.label} (${(entry.bytes / 1000).toFixed(0)} kB) on ${path}...`);
  if (!checkpointBytes.has(entry.url)) checkpointBytes.set(entry.url, bytes(entry.url));
  const data = await checkpointBytes.get(entry.url)!;
  const backend = await createBackend(kind);
  const model = new CompiledModel(backend, modelByName(entry.model), 1, 0, { training: false });
  decodeCheckpoint(model, data, entry.url);
  // A software adapter compiles each kernel when it first runs: run once before the model takes over.
  await predict(
    model,
    { images: new Uint8Array(784), count: 1, channels: 1, rows: 28, cols: 28 },
    entry.stats,
  );
  if (token !== loads) {
    backend.destroy();
    return null;
  }
  replaceCurrent({
    backend,
    model,
    stats: entry.stats,
    checkpoint: entry,
    epochsDone: entry.epochs,
    schedule: entry.schedule,
    history: "",
  });
  select("pretrained").value = entry.model;
  select("backend").value = kind;
  setTrainingDefaults();
  status(`${entry.label} loaded on ${path}: draw a digit`);
  if (!pad.isEmpty) await classify();
  return { model: entry.model, backend: kind, checkpoint: entry.url };
}

async function loadManifest(): Promise<void> {
  manifest = await (await fetch("models/manifest.json")).json() as PageManifest;
  const list = select("pretrained");
  list.replaceChildren(...manifest.models.map((m) => new Option(`${m.label} (${m.testAccuracy})`, m.model)));
  $("missing").replaceChildren(...manifest.missing.map((missing) => {
    const line = document.createElement("div");
    line.textContent = missingLine(missing) +
      (manifest.models.length > 0 ? `; meanwhile the page offers ${manifest.models[0].label}.` : ".");
    return line;
  }));
  $("missing").hidden = manifest.missing.length === 0;
}

// ---------- the drawing pad ----------

const pad = new Pad($("pad"), () => {
  if (current) classify().catch(showError);
});

async function classify(): Promise<Classification> {
  if (!current) throw new Error("no model is loaded: choose one, or train one");
  const { model, stats } = current;
  const images = pad.image();
  showImage($("seen"), images);
  const { logits, classes } = await predict(
    model,
    { images, count: 1, channels: 1, rows: 28, cols: 28 },
    stats,
  );
  const top = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probabilities = exps.map((e) => e / sum);
  const digit = classes[0];
  $("prediction").innerHTML =
    `<div class="verdict">It is a ${digit} <small>(${
      (100 * probabilities[digit]).toFixed(1)
    }%)</small></div>` +
    probabilities.map((p, d) =>
      `<div class="${d === digit ? "best" : ""}">${d} <span class="bar" style="width:${
        (160 * p).toFixed(0)
      }px"></span> ${(100 * p).toFixed(1)}%</div>`
    ).join("");
  lastClassification = { digit, probabilities };
  return lastClassification;
}

// ---------- training ----------

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
async function profileKernels(backend: Backend, model: CompiledModel, train: DeviceDataSet): Promise<string> {
  const probe = new CompiledModel(backend, model.spec, model.batch, 0);
  probe.setLearningRate(0);
  const step: Dispatch[] = probe.trainStep(train.gatherFor(probe));
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
  $("kernelTimes").hidden = false;
  const clock = backend.adapter.isSoftware ? `${times.clock}, software adapter` : times.clock;
  $("clock").textContent =
    `Clock: ${clock}; mean of ${repeats} steps of ${model.spec.name}, on a model of its own.`;
  return clock;
}

/** Trains as the form says (or as `config` changes it), from the model on the page or from scratch. */
export async function train(config: RunConfig): Promise<RunResult> {
  // The form's numbers in the ranges the train command's flags allow, refused in one line before any work.
  checkRange("epochs", config.epochs, "Epochs", 1);
  checkRange("batch-size", config.batch, "Batch");
  checkRange("seed", config.seed, "Seed");
  checkRange("train-limit", config.trainLimit, "Training images");
  checkRange("test-limit", config.testLimit, "Test images");
  if (!sets) {
    status("waiting for MNIST...");
    await dataReady;
  }
  const from = config.from === "checkpoint" ? current : undefined;
  if (config.from === "checkpoint" && !from) {
    throw new Error("no model is loaded to fine-tune: train from scratch");
  }
  showConfig(config);
  stopRequested = false;
  loads++; // a load still under way gives way to this run's model
  const schedule = parseSchedule(config.schedule);
  // The weights to start from are read before the model on the page gives way.
  const start = from ? await encodeCheckpoint(from.model) : undefined;
  const backend = await createBackend(config.backend);
  const spec = from ? from.model.spec : modelByName(config.model);
  const model = new CompiledModel(backend, spec, config.batch, config.seed);
  if (start) decodeCheckpoint(model, start, "the model on the page");
  const stats = from ? from.stats : meta!.stats;
  const trainSet = new DeviceDataSet(backend, "train", prefix(sets!.train, config.trainLimit), stats);
  const testSet = new DeviceDataSet(backend, "test", prefix(sets!.test, config.testLimit), stats);
  const epochsBefore = from?.epochsDone ?? 0;
  const origin = from
    ? `${from.checkpoint?.label ?? from.model.spec.name}${
      from.checkpoint ? ` (the study's, test accuracy ${from.checkpoint.testAccuracy.toFixed(4)})` : ""
    }, fine-tuned on this page`
    : `${spec.name}, trained from scratch on this page from seed ${config.seed}`;
  const plan = `${config.epochs} epoch${config.epochs > 1 ? "s" : ""} of ${
    trainSet.count.toLocaleString("en-US")
  } training images at batch ${config.batch}, learning rates ${config.schedule}`;
  replaceCurrent({
    backend,
    model,
    stats,
    checkpoint: null,
    epochsDone: epochsBefore,
    history: `${origin}: ${plan}; in training.`,
    schedule: from?.schedule ?? config.schedule,
  });
  const kernelClock = config.skipKernelTimes
    ? "not measured"
    : await profileKernels(backend, model, trainSet);

  const stepsPerEpoch = trainSet.steps(config.batch);
  const totalSteps = Math.min(config.maxSteps ?? Infinity, stepsPerEpoch * config.epochs);
  const epochsAsked = totalSteps / stepsPerEpoch;
  const loss: Series = { points: [], color: "#c33", label: "training loss (mean of each 25 steps)" };
  const trainAccuracy: Series = { points: [], color: "#36c", label: "training (so far this epoch)" };
  const testAccuracy: Series = {
    points: [],
    color: "#282",
    label: `test (${testSet.count.toLocaleString("en-US")} images)`,
    dots: true,
  };
  const redraw = () => {
    drawChart($("loss"), [loss], { xLabel: "epoch", yLabel: "loss", xMax: epochsAsked });
    drawChart($("accuracy"), [trainAccuracy, testAccuracy], {
      xLabel: "epoch",
      yLabel: "accuracy",
      xMax: epochsAsked,
      yClamp: [0, 1],
    });
  };
  const firstLogits = config.epochs > 0 ? await firstBatchLogits(model, trainSet, config.seed) : [];

  // Where the line of test accuracy starts: the model before this run.
  status(`testing the model before training, on ${testSet.count} images...`);
  const testStart = performance.now();
  testAccuracy.points.push([0, (await evaluate(model, testSet)).accuracy]);
  const testSeconds = (performance.now() - testStart) / 1000;
  redraw();

  // The expected time from the first steps' speed: the steps after the first chunk (which warms up).
  const runStart = performance.now();
  let warm: { done: number; at: number } | undefined, expectedSeconds: number | null = null;
  let stepsBefore = 0, lossBefore = 0, samplesBefore = 0;
  const run = await trainModel(
    model,
    { train: trainSet, test: testSet },
    { epochs: config.epochs, schedule, seed: config.seed, trainCount: trainSet.count },
    {
      maxSteps: totalSteps,
      maxChunkSteps: STEPS_PER_CHUNK,
      readLoss: true,
      shouldStop: () => stopRequested,
      onProgress: (epoch, epochDone, epochSteps, _seconds, totals) => {
        if (epochDone === 0 || totals.samples === samplesBefore) return;
        const done = stepsBefore + epochDone, now = performance.now();
        warm ??= { done, at: now };
        if (expectedSeconds === null && done - warm.done >= ETA_STEPS) {
          const stepsPerSecond = (done - warm.done) / ((now - warm.at) / 1000);
          const epochs = Math.ceil(epochsAsked);
          expectedSeconds = (warm.at - runStart) / 1000 + (totalSteps - warm.done) / stepsPerSecond +
            epochs * testSeconds;
          $("eta").textContent = `Expected time of this run: ${duration(expectedSeconds)} ` +
            `(${totalSteps.toLocaleString("en-US")} steps at ${
              stepsPerSecond.toFixed(0)
            } steps/s, the speed ` +
            `of steps ${warm.done}-${done}; and ${epochs} test pass${epochs > 1 ? "es" : ""} of ` +
            `${testSet.count.toLocaleString("en-US")} images, ${duration(testSeconds)} each).`;
        }
        loss.points.push([
          done / stepsPerEpoch,
          (totals.lossSum - lossBefore) / (totals.samples - samplesBefore),
        ]);
        trainAccuracy.points.push([done / stepsPerEpoch, totals.correct / totals.samples]);
        [lossBefore, samplesBefore] = [totals.lossSum, totals.samples];
        redraw();
        // The countdown follows the speed since the first chunk: the expectation above stays as stated.
        const left = expectedSeconds === null ? "" : `, about ${
          duration(
            (totalSteps - done) / ((done - warm.done) / ((now - warm.at) / 1000)) +
              (Math.ceil(epochsAsked) - epoch + 1) * testSeconds,
          )
        } left`;
        status(
          `epoch ${epoch}/${config.epochs}, step ${done.toLocaleString("en-US")}/` +
            `${totalSteps.toLocaleString("en-US")}, loss ${loss.points.at(-1)![1].toFixed(4)}${left}`,
        );
        if (epochDone === epochSteps) status(`epoch ${epoch}: testing on ${testSet.count} images...`);
      },
      onEpoch: (result, trained) => {
        stepsBefore += trained.steps;
        [lossBefore, samplesBefore] = [0, 0];
        testAccuracy.points.push([stepsBefore / stepsPerEpoch, result.testAccuracy]);
        redraw();
      },
    },
  );
  const trainedFor = stopRequested || stepsBefore < stepsPerEpoch * config.epochs
    ? `${stepsBefore.toLocaleString("en-US")} steps of ${plan}`
    : plan;
  replaceCurrent({
    ...current!,
    epochsDone: epochsBefore + run.history.length,
    history: `${origin}: ${trainedFor}; test accuracy ${run.testAccuracy.toFixed(4)} on ` +
      `${testSet.count.toLocaleString("en-US")} test images after it.`,
  });
  const stepsPerSecond = stepsBefore / run.trainSeconds;
  status(
    `${stopRequested ? "stopped" : "done"}: ${stepsBefore.toLocaleString("en-US")} steps in ` +
      `${duration((performance.now() - runStart) / 1000)}, ${stepsPerSecond.toFixed(0)} steps/s, ` +
      `test accuracy ${run.testAccuracy.toFixed(4)}; the pad now uses this model`,
  );
  if (!pad.isEmpty) await classify();
  return {
    model: spec.name,
    adapter: backend.adapter.name,
    software: backend.adapter.isSoftware,
    firstLogits,
    losses: loss.points.map((p) => p[1]),
    steps: stepsBefore,
    stepsPerSecond,
    testAccuracies: testAccuracy.points.map((p) => p[1]),
    testAccuracy: run.testAccuracy,
    expectedSeconds,
    kernelClock,
  };
}

/** Shows a run's settings in the form, so the page says what it trains. */
function showConfig(config: RunConfig): void {
  const models = select("model");
  if (![...models.options].some((option) => option.value === config.model)) {
    models.add(new Option(config.model));
  }
  models.value = config.model;
  select("from").value = config.from;
  select("backend").value = config.backend;
  for (const key of ["epochs", "batch", "seed", "trainLimit", "testLimit", "schedule"] as const) {
    input(key).value = String(config[key]);
  }
}

function formConfig(): RunConfig {
  const number = (id: string) => Number(input(id).value);
  return {
    from: select("from").value as RunConfig["from"],
    model: select("model").value,
    backend: select("backend").value as BackendKind,
    epochs: number("epochs"),
    batch: number("batch"),
    seed: number("seed"),
    trainLimit: number("trainLimit"),
    testLimit: number("testLimit"),
    schedule: input("schedule").value,
  };
}

/**
 * The form's defaults for where training starts: one more epoch at the rate where the model's schedule
 * ended when fine-tuning; the lab's protocol from scratch.
 */
function setTrainingDefaults(): void {
  const fineTune = select("from").value === "checkpoint" && current;
  select("model").disabled = Boolean(fineTune);
  if (fineTune) {
    input("epochs").value = "1";
    const schedule = continuedSchedule(parseSchedule(current!.schedule), current!.epochsDone, 1);
    input("schedule").value = formatSchedule(schedule);
  } else {
    input("epochs").value = String(PROTOCOL.epochs);
    input("schedule").value = PROTOCOL.learningRateSchedule;
  }
}

/** The continued schedule follows the epochs asked for when fine-tuning. */
function onEpochsChanged(): void {
  if (select("from").value !== "checkpoint" || !current) return;
  const epochs = Math.max(1, Number(input("epochs").value) || 1);
  input("schedule").value = formatSchedule(
    continuedSchedule(parseSchedule(current.schedule), current.epochsDone, epochs),
  );
}

// ---------- start ----------

async function describeGpu(): Promise<boolean> {
  const banner = $("gpu");
  if (!("gpu" in navigator) || !navigator.gpu) {
    banner.className = "banner warn";
    banner.textContent =
      "This browser has no WebGPU (navigator.gpu is missing), so the GPU path cannot run here: the page " +
      "uses the CPU path (the TypeScript twins), which classifies at once and trains slowly. WebGPU is in " +
      "Chrome or Edge 113+, Safari 26, Firefox 141+ on Windows; on Linux Chrome needs " +
      "chrome://flags/#enable-unsafe-webgpu.";
    select("backend").value = "cpu";
    return false;
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    banner.className = "banner warn";
    banner.textContent = "This browser has WebGPU but offers no adapter (blocked or unsupported GPU): " +
      "the page uses the CPU path.";
    select("backend").value = "cpu";
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
  input("batch").value = String(PROTOCOL.batchSize);
  input("seed").value = String(PROTOCOL.seed);
  input("trainLimit").value = "60000";
  input("testLimit").value = "10000";
  setTrainingDefaults();
}

let dataReady: Promise<void> = Promise.resolve();
let gpuReady: Promise<Loaded | null> = Promise.resolve(null);

/*
 * The default model loads on the CPU path first, while the browser looks for its WebGPU adapter: one
 * drawing at a time is quick there, and it answers while WebGPU compiles its kernels (seconds to tens of
 * seconds on a software adapter); then the model moves to WebGPU, unless the visitor chose another model
 * or path meanwhile. MNIST (55 MB) comes last: drawing needs none of it.
 */
setDefaults();
button("train").disabled = true;
/** The default model on the CPU path: the moment the page can classify a drawing. */
const modelReady = (async () => {
  await loadManifest();
  if (manifest.models.length > 0) return await load(manifest.models[0].model, "cpu");
  status("no trained model is there: train one below");
  return null;
})().catch((error) => {
  showError(error);
  return null;
});

const ready = Promise.all([describeGpu(), modelReady]).then(([hasGpu, loaded]) => {
  if (hasGpu && loaded) {
    $("provenance").append(" Moving it to WebGPU...");
    gpuReady = load(loaded.model, "webgpu");
    gpuReady.catch(showError);
  }
  dataReady = gpuReady.catch(() => null).then(loadData).then(() => {
    input("trainLimit").max = String(meta!.train.count);
    button("train").disabled = false;
    $("data").textContent = `MNIST loaded: ${meta!.train.count.toLocaleString("en-US")} training and ` +
      `${meta!.test.count.toLocaleString("en-US")} test images.`;
  });
  dataReady.catch(showError);
  return { hasGpu, loaded };
});

select("pretrained").addEventListener("change", () => load(select("pretrained").value).catch(showError));
select("backend").addEventListener("change", () => {
  // The model on the page moves to the chosen path when it is one of the study's.
  if (current?.checkpoint) load(current.checkpoint.model).catch(showError);
});
select("from").addEventListener("change", setTrainingDefaults);
input("epochs").addEventListener("change", onEpochsChanged);
button("classify").addEventListener("click", () => classify().catch(showError));
button("clear").addEventListener("click", () => {
  pad.clear();
  showImage($("seen"), new Uint8Array(784));
  $("prediction").textContent = "";
});
button("train").addEventListener("click", () => {
  button("train").disabled = true;
  button("stop").disabled = false;
  train(formConfig()).catch(showError).finally(() => {
    button("train").disabled = false;
    button("stop").disabled = true;
  });
});
button("stop").addEventListener("click", () => stopRequested = true);

/** For tests and the console: the page's own functions. */
const lab: Lab = {
  ready,
  modelReady,
  gpuReady: () => gpuReady,
  load,
  train,
  classify,
  lastClassification: () => lastClassification,
  seen: () => Array.from(pad.image()),
  defaults: (): RunConfig => formConfig(),
  draw: (strokes) => pad.draw(strokes),
  paste: (pixels) => pad.paste(pixels),
  clear: () => pad.clear(),
};
(globalThis as unknown as { lab: Lab }).lab = lab;
