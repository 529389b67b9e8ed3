/**
 * deno task bench, run as the task runs it (its permissions from deno.json): a small smoke run prints
 * one JSON object with every figure, and bad flags get one line and a non-zero exit.
 */
import assert from "node:assert/strict";
import { adapterOffered, REPO_ROOT, taskArgs } from "../helpers.ts";

const cacheHome = Deno.makeTempDirSync({ prefix: "bench-test-cache-" });
globalThis.addEventListener("unload", () => Deno.removeSync(cacheHome, { recursive: true }));

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
    assert.equal(report.targets.length, 6);
    // The tuned / fixed ratio of mlp-300-100 is measured (its threshold is the bench's business); the
    // lenet5 and TF.js ones are not.
    const measured = report.targets.filter((t: { pass?: boolean }) => t.pass !== undefined);
    assert.deepEqual(measured.map((t: { target: string }) => t.target.split(" ")[0]), ["mlp-300-100"]);
    assert.ok(
      report.training.find((r: { path: string; batch: number }) => r.path === "ours-webgpu" && r.batch === 4)
        .kernelChoices.length === 8,
      "the variant of each layer kernel: 3 forward, 3 weight gradients, 2 input gradients",
    );
    assert.match(stderr, /the kernel each layer runs/);
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
