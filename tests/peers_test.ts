import assert from "node:assert/strict";
import {
  tfjsAdapterName,
  tfjsInfer,
  tfjsMatmulGflops,
  tfjsTensorCount,
  tfjsTrain,
} from "../experiments/peers/tfjs.ts";
import { pytorchAvailable, pytorchBench } from "../experiments/peers/pytorch.ts";
import { adapterOffered } from "./helpers.ts";

const webgpuAdapter = await adapterOffered();

function assertPositiveFinite(value: number, what: string): void {
  assert.ok(Number.isFinite(value) && value > 0, `${what} should be a positive number, got ${value}`);
}

Deno.test("tfjs peer trains an MLP on cpu without leaking tensors", async () => {
  const tensorsBefore = tfjsTensorCount();
  const result = await tfjsTrain([30], "cpu", 4, 5);
  assert.equal(result.steps, 5);
  assertPositiveFinite(result.imagesPerSecond, "images/s");
  assert.ok(Math.abs(result.imagesPerSecond * result.seconds - 20) < 1e-6, "images/s should be 4*5/seconds");
  assert.equal(tfjsTensorCount(), tensorsBefore);
});

Deno.test("tfjs peer measures a matMul and an inference on cpu", async () => {
  assertPositiveFinite(await tfjsMatmulGflops(256, 8, "cpu", 2), "GFLOP/s");
  const inference = await tfjsInfer([30], "cpu", 4, 5);
  assertPositiveFinite(inference.streamedMsPerBatch, "streamed ms");
  assert.ok(inference.latencyMs.p10 <= inference.latencyMs.median);
  assert.ok(inference.latencyMs.median <= inference.latencyMs.p90);
});

Deno.test({
  name: "tfjs peer trains LeNet-5 and runs a matMul on webgpu",
  ignore: !webgpuAdapter,
  fn: async () => {
    const result = await tfjsTrain("lenet5", "webgpu", 4, 2);
    assertPositiveFinite(result.imagesPerSecond, "images/s");
    assert.notEqual(tfjsAdapterName(), "");
    assertPositiveFinite(await tfjsMatmulGflops(256, 8, "webgpu", 2), "GFLOP/s");
    // switching back to cpu must work within the same process
    assertPositiveFinite(
      (await tfjsTrain([30], "cpu", 4, 2)).imagesPerSecond,
      "images/s after switching back",
    );
  },
});
if (!webgpuAdapter) {
  console.log("peers_test: no WebGPU adapter (run with --unstable-webgpu); webgpu test skipped");
}

Deno.test("pytorch peer availability is an answer, never a throw", async () => {
  const availability = await pytorchAvailable();
  assert.equal(typeof availability.ok, "boolean");
  assert.ok(availability.why.length > 0 && !availability.why.includes("\n"), "why should be one line");
  if (availability.ok) assert.ok(availability.device === "cpu" || availability.device === "cuda");
});

const pytorch = await pytorchAvailable();
Deno.test({
  name: "pytorch peer trains an MLP and measures a matMul",
  ignore: !pytorch.ok,
  fn: async () => {
    const device = pytorch.device!;
    const result = await pytorchBench({ workload: "train", model: [30], device, batch: 4, steps: 5 });
    assert.equal(result.steps, 5);
    assertPositiveFinite(result.imagesPerSecond, "images/s");
    const { gflops } = await pytorchBench({ workload: "matmul", device, n: 256, batch: 8, repeats: 2 });
    assertPositiveFinite(gflops, "GFLOP/s");
  },
});
if (!pytorch.ok) console.log(`peers_test: pytorch test skipped: ${pytorch.why}`);
