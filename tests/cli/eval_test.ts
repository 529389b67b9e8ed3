/**
 * deno task eval on a checkpoint that deno task train saved: the accuracy the training run reported,
 * on both paths; a checkpoint of another model or a damaged one is refused in one line.
 */
import assert from "node:assert/strict";
import { gpuBackend } from "../helpers.ts";

const script = (name: string) => new URL(`../../cli/${name}.ts`, import.meta.url).pathname;

async function run(name: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", script(name), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

const lastJsonLine = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const TEST_LIMIT = ["--test-limit", "100"];
const FAST_TIMING = ["--warmup", "1", "--timed-batches", "3"];

let saved: Promise<{ path: string; testAccuracy: number }> | undefined;

/** mlp-16 trained briefly on the default path and saved, once for all tests here. */
function trainedMlp16() {
  saved ??= (async () => {
    const path = `${await Deno.makeTempDir()}/mlp-16.safetensors`;
    const { code, stdout, stderr } = await run("train", [
      "mlp-16",
      "--epochs",
      "1",
      "--train-limit",
      "400",
      ...TEST_LIMIT,
      "--save",
      path,
      "--json",
    ]);
    assert.equal(code, 0, stderr);
    return { path, testAccuracy: lastJsonLine(stdout).testAccuracy };
  })();
  return saved;
}

function assertOneLineError(code: number, stderr: string, expected: RegExp): void {
  assert.notEqual(code, 0);
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], expected);
}

Deno.test("eval of a saved mlp-16 gives the training run's test accuracy on both paths", async (t) => {
  if (!await gpuBackend()) {
    return void await t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  }
  const { path, testAccuracy } = await trainedMlp16();
  const { code, stdout, stderr } = await run("eval", [
    "mlp-16",
    "--weights",
    path,
    ...TEST_LIMIT,
    ...FAST_TIMING,
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const result = lastJsonLine(stdout);
  assert.equal(result.model, "mlp-16");
  assert.deepEqual(result.paths.map((p: { path: string }) => p.path), ["cpu", "webgpu"]);
  for (const measured of result.paths) {
    assert.equal(measured.testImages, 100);
    assert.equal(measured.testAccuracy, testAccuracy, `${measured.path} path`);
    assert.equal(measured.parameterBytes, (784 * 16 + 16 + 16 * 10 + 10) * 4);
    assert.equal(measured.activationBytes, 4 * 4 * (784 + 16 + 10));
    assert.ok(measured.inferMs.median > 0 && measured.inferMs.samples === 3);
    assert.ok(measured.peakInferBytes >= measured.parameterBytes + measured.activationBytes);
  }
  assert.match(stdout, /^path +accuracy/m);
});

Deno.test("eval refuses a checkpoint of another model in one line", async () => {
  const { path } = await trainedMlp16();
  const { code, stderr } = await run("eval", ["mlp-32", "--weights", path, ...TEST_LIMIT]);
  assertOneLineError(code, stderr, /is a checkpoint of mlp-16, not mlp-32/);
});

Deno.test("eval refuses a truncated checkpoint in one line", async () => {
  const { path } = await trainedMlp16();
  const truncated = `${path}.truncated`;
  await Deno.writeFile(truncated, (await Deno.readFile(path)).subarray(0, 200));
  const { code, stderr } = await run("eval", ["mlp-16", "--weights", truncated, ...TEST_LIMIT]);
  assertOneLineError(code, stderr, /not a valid float32 safetensors file/);
});

Deno.test("eval without --weights says how to name the checkpoint", async () => {
  const { code, stderr } = await run("eval", ["mlp-16"]);
  assertOneLineError(code, stderr, /--weights PATH/);
});
