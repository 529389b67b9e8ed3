/**
 * deno task sweep on tiny models and data: one final row per model and path, a rerun that repeats
 * nothing, a kill -9 in the middle that a rerun makes whole, and bad flags refused in one line.
 */
import assert from "node:assert/strict";
import { readResults, RESULT_COLUMNS, resultKey, type ResultRow } from "../experiments/results.ts";
import { gpuBackend, REPO_ROOT, taskArgs } from "./helpers.ts";

// Run as `deno task sweep` runs it, with the task's permissions.
const DENO_ARGS = taskArgs("sweep");
const ENV = { XDG_RUNTIME_DIR: "/tmp" };

/** Two small models, a few images, a few timed batches: seconds, not minutes. */
const TINY = ["--models", "mlp-16,mlp-8-8", "--epochs", "1", "--train-limit", "40", "--test-limit", "20"]
  .concat(["--warmup", "1", "--timed-batches", "3"]);
const KEYS = ["mlp-16|cpu", "mlp-16|webgpu", "mlp-8-8|cpu", "mlp-8-8|webgpu"];

async function sweep(dir: string, extra: string[] = []) {
  const output = await new Deno.Command(Deno.execPath(), {
    cwd: REPO_ROOT,
    args: [...DENO_ARGS, ...TINY, "--out", `${dir}/sweep.csv`, "--figures", `${dir}/figures`, ...extra],
    stdout: "piped",
    stderr: "piped",
    env: ENV,
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function keysOf(rows: readonly ResultRow[]): string[] {
  return rows.map(resultKey).sort();
}

async function withGpu(t: Deno.TestContext, body: () => Promise<void>): Promise<void> {
  if (!await gpuBackend()) {
    return void await t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  }
  await body();
}

Deno.test("a sweep over 2 models and 2 paths writes 4 final rows; a rerun writes none", async (t) => {
  await withGpu(t, async () => {
    const dir = await Deno.makeTempDir();
    const first = await sweep(dir);
    assert.equal(first.code, 0, first.stderr);
    const csv = await Deno.readTextFile(`${dir}/sweep.csv`);
    assert.equal(csv.split("\n")[0], RESULT_COLUMNS.join(","));
    const rows = await readResults(`${dir}/sweep.csv`);
    assert.deepEqual(keysOf(rows), KEYS);
    for (const row of rows) {
      assert.equal(row.status, "ok", `${resultKey(row)}: ${row.status}`);
      assert.equal(row.family, row.model === "mlp-16" ? "mlp1" : "mlp2");
      assert.deepEqual([row.hidden1, row.hidden2], row.model === "mlp-16" ? [16, null] : [8, 8]);
      const parameters = row.model === "mlp-16"
        ? 784 * 16 + 16 + 16 * 10 + 10
        : 784 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10;
      assert.equal(row.parameters, parameters);
      assert.equal(row.param_bytes, parameters * 4);
      // The input and each layer's output, batch 4: no tensor of a model compiled before.
      const widths = row.model === "mlp-16" ? [784, 16, 10] : [784, 8, 8, 10];
      assert.equal(row.activation_bytes, widths.reduce((sum, width) => sum + 4 * 4 * width, 0));
      assert.deepEqual([row.epochs, row.train_images], [1, 40]);
      assert.ok(row.test_accuracy! >= 0 && row.test_accuracy! <= 1);
      assert.ok(row.infer_ms_p10! <= row.infer_ms_median! && row.infer_ms_median! <= row.infer_ms_p90!);
      assert.ok(row.clock.length > 0 && row.adapter.length > 0);
      assert.ok(row.peak_infer_bytes! >= row.param_bytes! + row.activation_bytes!);
      assert.ok(row.train_seconds! > 0);
      // Trained on webgpu: only that row holds a training peak, which covers parameters and gradients.
      if (row.path === "webgpu") assert.ok(row.peak_train_bytes! >= 2 * row.param_bytes!);
      else assert.equal(row.peak_train_bytes, null);
    }
    for (const model of ["mlp-16", "mlp-8-8"]) {
      const [cpu, gpu] = ["cpu", "webgpu"].map((path) =>
        rows.find((row) => resultKey(row) === `${model}|${path}`)!
      );
      assert.equal(cpu.test_accuracy, gpu.test_accuracy, `${model}: the paths disagree`);
    }
    assert.ok((await Deno.stat(`${dir}/figures/fig3_accuracy_vs_memory_cpu.svg`)).isFile);

    const rerun = await sweep(dir);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /0 rows written/);
    assert.equal(await Deno.readTextFile(`${dir}/sweep.csv`), csv);
  });
});

Deno.test("a sweep killed with SIGKILL after its first row, then rerun, ends with every row once", async (t) => {
  await withGpu(t, async () => {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/sweep.csv`;
    const child = new Deno.Command(Deno.execPath(), {
      cwd: REPO_ROOT,
      args: [...DENO_ARGS, ...TINY, "--out", out, "--figures", `${dir}/figures`],
      stdout: "null",
      stderr: "null",
      env: ENV,
    }).spawn();
    let exited = false;
    child.status.then(() => exited = true);
    let before: ResultRow[] = [];
    while (before.length === 0 && !exited) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      before = await readResults(out);
    }
    assert.ok(before.length > 0, "the sweep ended without writing a row");
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    before = await readResults(out);
    assert.ok(before.length < KEYS.length, `the sweep finished (${before.length} rows) before the kill`);

    const rerun = await sweep(dir);
    assert.equal(rerun.code, 0, rerun.stderr);
    const after = await readResults(out);
    assert.deepEqual(keysOf(after), KEYS);
    assert.ok(after.every((row) => row.status === "ok"));
    assert.deepEqual(after.slice(0, before.length), before, "rows written before the kill were changed");
  });
});

Deno.test("a model whose loss diverges gets failed rows, and the sweep goes on to the next", async () => {
  const dir = await Deno.makeTempDir();
  const run = await sweep(dir, ["--lr-schedule", "1:1e30", "--paths", "cpu", "--train-backend", "cpu"]);
  assert.equal(run.code, 0, run.stderr);
  const rows = await readResults(`${dir}/sweep.csv`);
  assert.deepEqual(keysOf(rows), ["mlp-16|cpu", "mlp-8-8|cpu"]);
  for (const row of rows) {
    assert.match(row.status, /^failed: training on cpu: loss became (NaN|Infinity|-Infinity) in epoch 1/);
  }
  assert.match(run.stdout, /no figures/);
});

const badSweeps: [string, string[], RegExp][] = [
  ["an unknown model", ["--models", "mlp-16,resnet50"], /--models: unknown model "resnet50".*family/],
  ["an unknown family", ["--models", "mlp3"], /--models: unknown model "mlp3"/],
  ["a negative epoch count", ["--epochs", "-1"], /--epochs -1: must be an integer of at least 0/],
  ["an unknown path", ["--paths", "cpu,tpu"], /--paths cpu,tpu: "tpu" is not a path/],
  ["an unknown training backend", ["--train-backend", "tpu"], /--train-backend tpu: use webgpu or cpu/],
];

for (const [what, args, expected] of badSweeps) {
  Deno.test(`sweep with ${what}: one line, non-zero exit`, async () => {
    const dir = await Deno.makeTempDir();
    const { code, stderr } = await sweep(dir, args);
    assertOneLineError(code, stderr, expected);
  });
}

Deno.test("sweep with an --out folder that cannot be written: one line, non-zero exit", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/file`, "a file, not a folder");
  const { code, stderr } = await sweep(dir, ["--out", `${dir}/file/sweep.csv`]);
  assertOneLineError(code, stderr, /cannot use output folder .*file.* exists but is not a folder/);
});

function assertOneLineError(code: number, stderr: string, expected: RegExp): void {
  assert.notEqual(code, 0);
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], expected);
}
