import assert from "node:assert/strict";
import {
  tfjsAdapterName,
  tfjsInfer,
  tfjsMatmulGflops,
  tfjsTensorCount,
  tfjsTrain,
  tfjsWasmLine,
} from "../../lab/peers/tfjs.ts";
import { bestSetting, type Peer, threadCounts } from "../../lab/bench/peers.ts";
import type { Ratio } from "../../lab/bench/rows.ts";
import { strongestCpuPeerRatios } from "../../lab/bench/tables.ts";
import { pytorchAvailable, pytorchBench } from "../../lab/peers/pytorch.ts";
import { adapterOffered } from "../helpers.ts";
import { pytorchForTests } from "../pytorch_tests.ts";

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

const pytorch = await pytorchForTests();
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

Deno.test("tfjs peer trains and infers on the wasm backend (XNNPACK), without leaking tensors", async () => {
  const tensorsBefore = tfjsTensorCount();
  const result = await tfjsTrain([30], "wasm", 4, 3);
  assertPositiveFinite(result.imagesPerSecond, "images/s");
  assertPositiveFinite((await tfjsInfer([30], "wasm", 4, 3)).streamedMsPerBatch, "streamed ms");
  assert.equal(tfjsTensorCount(), tensorsBefore);
  assert.match(tfjsWasmLine(), /^tfjs-backend-wasm 4\.22\.0, SIMD (on|off), /);
  assertPositiveFinite((await tfjsTrain([30], "cpu", 4, 2)).imagesPerSecond, "cpu again after wasm");
});

Deno.test("pytorch peer names the BLAS it loaded and runs at a thread count asked for", {
  ignore: !pytorch.ok,
}, async () => {
  assert.ok(pytorch.blas && pytorch.blas.length > 0, `blas: ${pytorch.blas}`);
  assert.match(pytorch.why, /BLAS /);
  const result = await pytorchBench({
    workload: "train",
    model: [30],
    device: "cpu",
    batch: 4,
    steps: 3,
    threads: 1,
  });
  assertPositiveFinite(result.imagesPerSecond, "images/s at 1 thread");
});

Deno.test("a peer setting is the best of the values tried, each trial recorded", async () => {
  assert.deepEqual(threadCounts(1), [1]);
  assert.deepEqual(threadCounts(2), [1, 2]);
  assert.deepEqual(threadCounts(6), [1, 2, 4, 6]);
  assert.deepEqual(threadCounts(16), [1, 2, 4, 8, 16]);
  const peer = { setting: { name: "threads", values: [1, 2, 4] } } as unknown as Peer;
  const imagesPerSecond: Record<number, number> = { 1: 900, 2: 1200, 4: 300 };
  const chosen = await bestSetting(peer, (value) => Promise.resolve(imagesPerSecond[value]), (a, b) => a > b);
  assert.deepEqual(chosen, { value: 2, setting: "threads 2", tried: { 1: 900, 2: 1200, 4: 300 } });
  const lowest = await bestSetting(peer, (value) => Promise.resolve(imagesPerSecond[value]), (a, b) => a < b);
  assert.equal(lowest.value, 4);
  assert.deepEqual(await bestSetting({} as Peer, () => Promise.resolve(1), (a, b) => a > b), {});
});

Deno.test("the strongest CPU peer is the one our path compares worst with", () => {
  const key = { measure: "training images/s", model: "lenet5", batch: 4 } as const;
  const all: Ratio[] = [
    { ...key, ours: "ours-cpu", other: "tfjs-cpu", times: 5 },
    { ...key, ours: "ours-cpu", other: "pytorch-cpu", times: 0.4 },
    { ...key, ours: "ours-cpu", other: "tfjs-wasm", times: 0.9 },
    { ...key, ours: "ours-webgpu", other: "tfjs-wasm", times: 2 },
    { ...key, ours: "ours-webgpu", other: "ours-cpu", times: 0.1 },
  ];
  const strongest = strongestCpuPeerRatios(all);
  assert.deepEqual(strongest.map((r) => [r.ours, r.other, r.times]), [
    ["ours-webgpu", "tfjs-wasm", 2],
    ["ours-cpu", "pytorch-cpu", 0.4],
  ]);
});
