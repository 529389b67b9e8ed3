/**
 * One whole SGD step of mlp-100-30, compiled as the trainer compiles it, against PyTorch's own step
 * from the same weights and the same four MNIST images: logits, loss, every gradient and every
 * updated parameter, on the CPU twins and on the GPU.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
import { assertClose, cpuBackend, gpuBackend, loadGolden, startGoldenStep } from "../helpers.ts";

const BATCH = 4;
const LEARNING_RATE = 0.0005;
const CLASSES = 10;

/** How many rows of `logits` have their first maximum at the sample's label. */
function correctCount(logits: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = Array.from(logits).slice(n * CLASSES, (n + 1) * CLASSES);
    if (row.indexOf(Math.max(...row)) === labels[n]) correct++;
  }
  return correct;
}

async function checkStep(backend: Backend): Promise<void> {
  const golden = loadGolden("step_mlp-100-30");
  const { inputs, outputs } = golden;
  const model = new CompiledModel(backend, mlp([100, 30]), BATCH, 0);
  // Already normalised; [4, 1, 28, 28] is the MLP's [4, 784] row-major.
  startGoldenStep(model, inputs, LEARNING_RATE);
  backend.run([...model.forward, model.loss, ...model.backward]);

  assertClose(await backend.read(model.logits.value), outputs.logits.data, "logits");
  const lossSum = await backend.read(model.lossSum);
  assertClose([lossSum[0] / BATCH], outputs.loss.data, "loss");
  assert.deepEqual([...await backend.read(model.stats)], [
    1,
    correctCount(outputs.logits.data, inputs.labels.data),
    BATCH,
  ]);
  for (const parameter of model.parameters) {
    assertClose(
      await backend.read(parameter.grad!),
      outputs[`grad.${parameter.name}`].data,
      `grad.${parameter.name}`,
    );
    assertClose(
      await backend.read(parameter.value),
      outputs[`after.${parameter.name}`].data,
      `after.${parameter.name}`,
    );
  }
}

Deno.test("mlp-100-30: one SGD step on the CPU twins matches PyTorch", () => checkStep(cpuBackend()));

Deno.test("mlp-100-30: one SGD step on the GPU matches PyTorch", async () => {
  const gpu = await gpuBackend();
  if (!gpu) return void console.warn("skipped: no WebGPU adapter");
  await checkStep(gpu);
});
