/**
 * The bench: our training cells measured in process on the CPU backend (tuned and fixed alike, every
 * data set released), and deno task bench run as the task runs it (its permissions from deno.json): a
 * small smoke run prints one JSON object with every figure, and bad flags get one line and a non-zero exit.
 */
import assert from "node:assert/strict";
import type { Tensor } from "../../engine/backend.ts";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { modelByName } from "../../models/zoo.ts";
import { oursInference, oursTraining } from "../../lab/bench/ours.ts";
import type { Plan } from "../../lab/bench/rows.ts";
import type { StudyData } from "../../lab/session.ts";
import { adapterOffered, REPO_ROOT, taskArgs } from "../helpers.ts";

const cacheHome = Deno.makeTempDirSync({ prefix: "bench-test-cache-" });
globalThis.addEventListener("unload", () => Deno.removeSync(cacheHome, { recursive: true }));
// The in-process tests tune too: their choices stay in memory, not in the user's cache file.
Deno.env.set("WEBGPU_LENET_TUNING_CACHE", "none");

/** The CPU backend, keeping the tensors alive and the order in which models' step counters are reset. */
class RecordingBackend extends CpuBackend {
  readonly live = new Set<Tensor>();
  /** Each model's `stats` tensor, in the order the models were built. */
  readonly counters: Tensor[] = [];
  /** Which model (its index in `counters`) each reset of the totals (one per pass) was for. */
  readonly resets: number[] = [];
  override tensor(...args: Parameters<CpuBackend["tensor"]>): Tensor {
    const tensor = super.tensor(...args);
    this.live.add(tensor);
    if (tensor.label === "stats") this.counters.push(tensor);
    return tensor;
  }
  override release(tensor: Tensor): void {
    this.live.delete(tensor);
    super.release(tensor);
  }
  override write(tensor: Tensor, values: ArrayLike<number>, offset?: number): void {
    const counter = this.counters.indexOf(tensor);
    if (counter >= 0 && Array.from(values).every((v) => v === 0)) this.resets.push(counter);
    super.write(tensor, values, offset);
  }
  liveLabels(prefix: string): string[] {
    return [...this.live].map((t) => t.label).filter((label) => label.startsWith(prefix));
  }
}

/** 96 made-up 28x28 images: enough for a few steps at batch 4, and MNIST's shape. */
function madeUpData(): StudyData {
  const set = (count: number) => ({
    images: Uint8Array.from({ length: count * 784 }, (_, i) => (i * 37) % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    count,
    rows: 28,
    cols: 28,
  });
  return {
    mnist: { train: set(96), test: set(96), source: "made up", files: [] },
    stats: { mean: 0.5, std: 0.3 },
    trainCount: 96,
    testCount: 96,
  } as unknown as StudyData;
}

const PLAN: Plan = {
  name: "quick",
  repeats: 3,
  passSeconds: 0.01,
  maxSteps: 4,
  peerCellSeconds: 1,
  skipPeerCallSeconds: 1,
};

Deno.test("oursTraining: tuned and fixed alike: same steps, one untimed pass each, then alternating passes", async () => {
  const backend = new RecordingBackend();
  const rows = await oursTraining(
    backend,
    modelByName("mlp-16"),
    4,
    madeUpData(),
    { ...PLAN, fixedSteps: 2 },
    [
      "tuned",
      "fixed",
    ],
  );
  assert.equal(backend.counters.length, 2, "the tuned model, then the fixed one");
  // Warm-up pass of each, then the timed passes in turn forwards and backwards: A B, B A, A B.
  assert.deepEqual(backend.resets, [0, 1, 0, 1, 1, 0, 0, 1]);
  const [tuned, fixed] = rows;
  for (const row of rows) {
    assert.equal(row.steps, 2);
    assert.equal(row.samples?.length, PLAN.repeats);
    assert.ok(row.imagesPerSecond! > 0);
  }
  assert.equal(tuned.kernelChoices?.length, 5, "mlp-16: 2 forward, 2 weight gradients, 1 input gradient");
  assert.equal(fixed.kernelChoices, undefined);
});

Deno.test("oursTraining and oursInference leave no tensor of their data sets alive", async () => {
  const backend = new RecordingBackend();
  // Calibrated: a set for the calibration, then one for the timed passes; both released.
  const [row] = await oursTraining(backend, modelByName("mlp-16"), 4, madeUpData(), PLAN);
  assert.ok(row.steps! >= 1 && row.steps! <= PLAN.maxSteps, `steps ${row.steps}`);
  assert.deepEqual(backend.liveLabels("bench."), []);
  await oursInference(backend, modelByName("mlp-16"), madeUpData(), { ...PLAN, fixedSteps: 2 }, 0.001);
  assert.deepEqual(backend.liveLabels("bench."), []);
});

async function runBench(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs("bench"), ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    // The tuner's cache in a folder of the test's own, not the user's.
    env: { XDG_RUNTIME_DIR: "/tmp", WEBGPU_LENET_TUNING_CACHE: `${cacheHome}/tuning.json` },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

function assertPositive(value: unknown, what: string): void {
  assert.ok(typeof value === "number" && Number.isFinite(value) && value > 0, `${what}: ${value}`);
}

const webgpuAdapter = await adapterOffered();

Deno.test({
  name: "bench --quick --steps 2 on mlp-300-100 without peers prints every figure as JSON",
  ignore: !webgpuAdapter,
  fn: async () => {
    const { code, stdout, stderr } = await runBench(
      ["--quick", "--models", "mlp-300-100", "--no-peers", "--json", "--steps", "2", "--repeats", "2"],
    );
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.deepEqual(report.models, ["mlp-300-100"]);
    assert.equal(report.settings.fixedSteps, 2);
    assert.match(report.adapters.webgpu, /^WebGPU adapter: /);
    for (const path of ["ours-webgpu", "ours-webgpu-fixed", "ours-cpu"]) {
      for (const batch of [4, 64]) {
        const row = report.training.find((r: { path: string; batch: number }) =>
          r.path === path && r.batch === batch
        );
        assert.ok(row, `a training row for ${path} at batch ${batch}`);
        assert.equal(row.steps, 2);
        assert.equal(row.samples.length, 2);
        assertPositive(row.imagesPerSecond, `${path} batch ${batch} images/s`);
        assertPositive(row.dispatchesPerStep, `${path} batch ${batch} dispatches/step`);
      }
      if (path === "ours-webgpu-fixed") continue;
      const inference = report.inference.find((r: { path: string }) => r.path === path);
      assertPositive(inference.kernelMs, `${path} inference kernel ms`);
      assert.ok(inference.kernelClock.length > 0);
    }
    const gpuInference = report.inference.find((r: { path: string }) => r.path === "ours-webgpu");
    assertPositive(gpuInference.streamedMs, "webgpu streamed ms");
    assertPositive(gpuInference.latencyMs, "webgpu latency ms");
    const gpuTraining = report.training.find((r: { path: string }) => r.path === "ours-webgpu");
    assertPositive(gpuTraining.submitsPerStep, "webgpu submits/step");
    assert.equal(report.dense.length, 2);
    for (const row of report.dense) assertPositive(row.gflops, `dense batch ${row.batch} GFLOP/s`);
    const ratio = report.ratios.find((r: { ours: string; other: string; measure: string; batch: number }) =>
      r.measure === "training images/s" && r.batch === 4 && r.ours === "ours-webgpu" && r.other === "ours-cpu"
    );
    const webgpu = report.training.find((r: { path: string; batch: number }) =>
      r.path === "ours-webgpu" && r.batch === 4
    );
    const cpu = report.training.find((r: { path: string; batch: number }) =>
      r.path === "ours-cpu" && r.batch === 4
    );
    assert.ok(
      Math.abs(ratio.times - webgpu.imagesPerSecond / cpu.imagesPerSecond) < 1e-9,
      "ratio of the medians",
    );
    // Six fixed targets and issue 18's tuned / fixed one per training batch of the model run.
    assert.equal(report.targets.length, 8);
    // The tuned / fixed ratios of mlp-300-100 are measured (whether they pass is the run's business);
    // the lenet5 and TF.js ones are not.
    const measured = report.targets.filter((t: { pass?: boolean }) => t.pass !== undefined);
    assert.deepEqual(measured.map((t: { target: string }) => t.target.split(",")[0]), [
      "mlp-300-100 training",
      "mlp-300-100 training",
      "mlp-300-100 training",
    ]);
    assert.ok(measured.slice(1).every((t: { target: string }) => /issue 18/.test(t.target)));
    assert.ok(
      report.training.find((r: { path: string; batch: number }) => r.path === "ours-webgpu" && r.batch === 4)
        .kernelChoices.length === 8,
      "the variant of each layer kernel: 3 forward, 3 weight gradients, 2 input gradients",
    );
    assert.match(stderr, /the kernel each layer runs/);
    // What the tuned / fixed ratio measures, said where the table is.
    assert.match(stderr, /same steps of the same set in alternating passes/);
    assert.match(stderr, /Training, images per second/); // the table goes to stderr with --json
  },
});
if (!webgpuAdapter) {
  console.log("bench_test: no WebGPU adapter (run with --unstable-webgpu); smoke test skipped");
}

const badRuns: [string[], RegExp][] = [
  [["--steps", "0"], /--steps 0: must be an integer of at least 1/],
  [["--repeats", "two"], /--repeats two: must be an integer/],
  [["--models", "resnet50"], /unknown model "resnet50"/],
  [["--models", "lenet5,"], /a model name is empty/],
  [["--frobnicate"], /frobnicate/],
  [["lenet5"], /unexpected argument "lenet5"/],
];

for (const [args, expected] of badRuns) {
  Deno.test(`bench ${args.join(" ")}: one line, non-zero exit`, async () => {
    const { code, stdout, stderr } = await runBench(args);
    assert.notEqual(code, 0);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], expected);
  });
}
