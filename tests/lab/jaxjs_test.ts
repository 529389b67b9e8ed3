/**
 * The jax-js peer: its workloads train on each of jax-js's devices here (the loss falls), infer, and
 * compute the same SGD step as our engine's CPU path from the same weights, so that the bench compares
 * the same work.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { CompiledModel, type ModelSpec } from "../../models/model.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { mlp } from "../../models/zoo.ts";
import type * as JaxjsPeer from "../../lab/peers/jaxjs.ts";
import type { PeerModel } from "../../lab/peers/tfjs.ts";
import { adapterOffered, assertClose, cpuBackend, Random, randomArray, TOLERANCE } from "../helpers.ts";

// jax-js comes from npm, imported by the peer alone; where it cannot be loaded (no network and not
// cached) every test here is skipped, saying why, rather than failing the suite. The peer is imported
// by a computed specifier, so that loading this module does not fetch jax-js first; its types alone
// are named statically (a type-checked run needs jax-js cached, as `deno check .` does).
let peer: typeof JaxjsPeer | undefined;
try {
  peer = await import(new URL("../../lab/peers/jaxjs.ts", import.meta.url).href);
} catch (error) {
  console.log(`jaxjs_test: skipped: jax-js could not be loaded (${(error as Error).message.split("\n")[0]})`);
}
const webgpu = await adapterOffered();
if (!webgpu) console.log("jaxjs_test: no WebGPU adapter (run with --unstable-webgpu); webgpu tests skipped");

function assertPositiveFinite(value: number | undefined, what: string): void {
  assert.ok(value !== undefined && Number.isFinite(value) && value > 0, `${what}: ${value}`);
}

/** The bench's workloads, each trained a few steps: 5 steps, so that the last one is on batch 0 again. */
const WORKLOADS: [string, PeerModel][] = [["mlp-300-100", [300, 100]], ["lenet5", "lenet5"], [
  "mlp-4096-2048",
  [4096, 2048],
]];
const STEPS = 5;

async function checkTraining(backend: "wasm" | "webgpu", name: string, model: PeerModel): Promise<void> {
  const result = await peer!.jaxjsTrain(model, backend, 4, STEPS, 2);
  assert.equal(result.steps, STEPS);
  assertPositiveFinite(result.imagesPerSecond, `${name} images/s`);
  assert.ok(
    Math.abs(result.imagesPerSecond * result.seconds - 4 * STEPS) < 1e-6,
    "images/s is 4*steps/seconds",
  );
  // Resident batch 0 before the timed steps and after four more SGD steps (one of them on batch 0).
  assert.ok(
    result.finalLoss < result.firstLoss,
    `${backend} ${name}: loss ${result.firstLoss} -> ${result.finalLoss} should fall`,
  );
  assert.match(
    result.settings,
    new RegExp(`^jax-js 0\\.1\\.25 ${backend}.*jit on the whole SGD step.*every 2$`),
  );
}

for (const [name, model] of WORKLOADS) {
  Deno.test({
    name: `jax-js peer trains ${name} on wasm and the loss falls`,
    ignore: !peer,
    fn: () => checkTraining("wasm", name, model),
  });
  Deno.test({
    name: `jax-js peer trains ${name} on webgpu and the loss falls`,
    ignore: !peer || !webgpu,
    fn: () => checkTraining("webgpu", name, model),
  });
}

Deno.test({
  name: "jax-js peer trains a small MLP on its plain-JS cpu device",
  ignore: !peer,
  fn: async () => {
    const result = await peer!.jaxjsTrain([30], "cpu", 4, STEPS, 1);
    assert.ok(result.finalLoss < result.firstLoss, `loss ${result.firstLoss} -> ${result.finalLoss}`);
    assert.match(result.settings, /^jax-js 0\.1\.25 cpu \(interpreted JavaScript\)/);
  },
});

Deno.test({
  name: "jax-js peer infers on wasm: streamed and one batch with its readback",
  ignore: !peer,
  fn: async () => {
    const result = await peer!.jaxjsInfer([300, 100], "wasm", 4, 5, 2);
    assertPositiveFinite(result.streamedMsPerBatch, "streamed ms");
    assert.ok(
      result.latencyMs.p10 <= result.latencyMs.median && result.latencyMs.median <= result.latencyMs.p90,
    );
    assertPositiveFinite(result.latencyMs.p10, "latency p10");
    assert.equal(result.kernelMsPerBatch, undefined, "no kernel clock on wasm");
    assert.match(result.settings, /worker threads|one thread/);
  },
});

Deno.test({
  name: "jax-js peer infers LeNet-5 on webgpu, with GPU kernel time where the adapter has timestamps",
  ignore: !peer || !webgpu,
  fn: async () => {
    const result = await peer!.jaxjsInfer("lenet5", "webgpu", 4, 5, 2);
    assertPositiveFinite(result.streamedMsPerBatch, "streamed ms");
    assertPositiveFinite(result.latencyMs.median, "latency");
    assert.notEqual(peer!.jaxjsAdapterName(), "");
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (adapter?.features.has("timestamp-query")) {
      assertPositiveFinite(result.kernelMsPerBatch, "kernel ms per batch");
    }
  },
});

Deno.test({
  name: "jax-js peer refuses bad counts and shapes in one line",
  ignore: !peer,
  fn: async () => {
    await assert.rejects(peer!.jaxjsTrain([30], "cpu", 0, 1), /expected a positive integer, got 0/);
    await assert.rejects(
      peer!.jaxjsTrain([30, -1], "cpu", 4, 1),
      /MLP hidden sizes must be positive integers/,
    );
    await assert.rejects(
      peer!.jaxjsSgdStep([30], "cpu", [new Float32Array(3)], new Float32Array(784), [1], 0.1),
      /expected 4 parameter arrays, got 1/,
    );
  },
});

// ---------- the same workload as our engine ----------

/**
 * A learning rate large enough that (before - after) / rate recovers each gradient well inside
 * tolerance: the float32 rounding of the update, about 1e-8 here, divided by it.
 */
const CHECK_LEARNING_RATE = 0.1;
const CHECK_BATCH = 4;

/**
 * One SGD step on our engine's CPU twins from the weights it initialised, and the same step through
 * the peer's jit-compiled program from the same weights, images and labels: loss, gradients and
 * updated parameters agree within float tolerance.
 */
async function checkSameStep(
  backend: "wasm" | "webgpu" | "cpu",
  spec: ModelSpec,
  model: PeerModel,
): Promise<void> {
  const cpu: Backend = cpuBackend();
  const ours = new CompiledModel(cpu, spec, CHECK_BATCH, 7);
  const before = await Promise.all(ours.parameters.map((p) => cpu.read(p.value)));
  const random = new Random(11);
  const images = randomArray(random, ours.input.value.length);
  const labels = [3, 0, 9, 3];
  cpu.write(ours.input.value, images);
  cpu.write(ours.labels, labels);
  ours.resetTotals();
  ours.setLearningRate(CHECK_LEARNING_RATE);
  cpu.run([...ours.forward, ours.loss, ...ours.backward]);
  const ourLoss = (await cpu.read(ours.lossSum))[0] / CHECK_BATCH;

  const theirs = await peer!.jaxjsSgdStep(model, backend, before, images, labels, CHECK_LEARNING_RATE);
  assertClose([theirs.loss], [ourLoss], `${spec.name} loss`);
  for (const [i, parameter] of ours.parameters.entries()) {
    const after = await cpu.read(parameter.value);
    assertClose(theirs.parameters[i], after, `${spec.name} ${parameter.name} after the step`);
    const theirGradient = before[i].map((value, j) =>
      (value - theirs.parameters[i][j]) / CHECK_LEARNING_RATE
    );
    // A gradient recovered from a float32 update: its error is the update's rounding over the rate.
    assertClose(theirGradient, await cpu.read(parameter.grad!), `${spec.name} ${parameter.name} gradient`, {
      relative: TOLERANCE.relative,
      absoluteOfMax: 1e-5,
    });
  }
  cpu.destroy();
}

for (const backend of ["wasm", "cpu", "webgpu"] as const) {
  Deno.test({
    name:
      `jax-js ${backend}: one SGD step of a small MLP matches our engine's CPU path from the same weights`,
    ignore: !peer || (backend === "webgpu" && !webgpu),
    fn: () => checkSameStep(backend, mlp([24, 12]), [24, 12]),
  });
}

Deno.test({
  name:
    "jax-js wasm: one SGD step of LeNet-5 matches our engine's CPU path (NCHW layouts, max pooling, tanh)",
  ignore: !peer,
  fn: () => checkSameStep("wasm", lenet5(), "lenet5"),
});
