/** Training end to end on a subset: the loss falls on both backends, and they agree. */
import assert from "node:assert/strict";
import { Random } from "../../engine/random.ts";
import { deviceDataSets, loadStudyData, type StudyData } from "../../lab/session.ts";
import { CompiledModel } from "../../models/model.ts";
import { evaluate, trainEpoch } from "../../models/epoch.ts";
import { trainModel } from "../../models/trainer.ts";
import { mlp } from "../../models/zoo.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { cpuBackend, gpuBackend } from "../helpers.ts";
import type { Backend } from "../../engine/backend.ts";

let data: Promise<StudyData> | undefined;
const subset = () => data ??= loadStudyData(undefined, 2000, 500, 4);

async function oneEpoch(backend: Backend) {
  const study = await subset();
  const model = new CompiledModel(backend, mlp([64, 32]), 4, 7);
  const sets = deviceDataSets(backend, study);
  const before = await evaluate(model, sets.test);
  const trained = await trainEpoch(model, sets.train, 0.01, new Random(3).permutation(study.trainCount));
  const after = await evaluate(model, sets.test);
  return { before, trained, after };
}

Deno.test("one epoch on 2,000 images lowers the test loss: CPU path", async () => {
  const { before, trained, after } = await oneEpoch(cpuBackend());
  assert.equal(trained.samples, 2000);
  assert.equal(trained.steps, 500);
  assert.ok(after.loss < before.loss * 0.5, `loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy > 0.7, `accuracy ${after.accuracy}`);
});

Deno.test("one epoch on 2,000 images lowers the test loss: WebGPU path, agreeing with the CPU", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  const ours = await oneEpoch(gpu);
  const reference = await oneEpoch(cpuBackend());
  assert.ok(ours.after.loss < ours.before.loss * 0.5, `loss ${ours.before.loss} -> ${ours.after.loss}`);
  // 500 SGD steps of float32 sums in another order drift apart slowly; the loss agrees closely.
  assert.ok(Math.abs(ours.after.loss - reference.after.loss) < 1e-3 * reference.after.loss);
  assert.ok(Math.abs(ours.after.accuracy - reference.after.accuracy) <= 0.004);
  assert.ok(ours.trained.submits < 20, `${ours.trained.submits} submits for 500 steps`);
});

Deno.test("a last, partial batch counts each of its images once", async () => {
  const study = { ...(await subset()), trainCount: 1002, testCount: 103 };
  const backend = cpuBackend();
  const model = new CompiledModel(backend, mlp([16]), 4, 1);
  const sets = deviceDataSets(backend, study);
  const trained = await trainEpoch(model, sets.train, 0.01, new Random(1).permutation(1002));
  assert.equal(trained.samples, 1002);
  assert.equal(trained.steps, 251);
  const tested = await evaluate(model, sets.test);
  assert.equal(tested.samples, 103);
  assert.ok(Number.isFinite(tested.loss));
});

Deno.test("an inference-only model makes no gradients and predicts as the trained one", async () => {
  const study = await subset();
  const backend = cpuBackend();
  const trained = new CompiledModel(backend, mlp([32]), 4, 2);
  const sets = deviceDataSets(backend, study);
  await trainEpoch(trained, sets.train, 0.01, new Random(2).permutation(study.trainCount));
  const reference = await evaluate(trained, sets.test);
  const inference = new CompiledModel(backend, mlp([32]), 4, 9, { training: false });
  assert.equal(inference.backward.length, 0);
  assert.ok(inference.parameters.every((p) => p.grad === undefined));
  const values = new Map<string, Float32Array>();
  for (const p of trained.parameters) values.set(p.name, (await backend.read(p.value)) as Float32Array);
  inference.loadParameters(values);
  const tested = await evaluate(inference, sets.test);
  assert.equal(tested.accuracy, reference.accuracy);
});

Deno.test("one model spec compiles any number of times to the same model", () => {
  const backend = cpuBackend();
  const spec = lenet5();
  const first = new CompiledModel(backend, spec, 4, 0);
  const second = new CompiledModel(backend, spec, 4, 0);
  assert.deepEqual(second.describe(), first.describe());
  assert.deepEqual(second.activations().map((t) => t.length), first.activations().map((t) => t.length));
  assert.equal(first.describe().filter((line) => /tanh/.test(line)).length, 4, "tanh fused into 4 layers");
  assert.equal(first.forward.length, second.forward.length);
});

Deno.test("trainModel with maxSteps stops there, tests that epoch, and keeps a cut epoch from afterEpoch", async () => {
  const study = { ...(await subset()), trainCount: 400, testCount: 100 };
  const backend = cpuBackend();
  const model = new CompiledModel(backend, mlp([16]), 4, 1);
  const sets = deviceDataSets(backend, study);
  const saved: number[] = [], chunks: { done: number; lossSum: number; samples: number }[] = [];
  const run = await trainModel(
    model,
    sets,
    { epochs: 3, schedule: [{ fromEpoch: 1, rate: 0.01 }], seed: 0, trainCount: 400 },
    {
      maxSteps: 130,
      maxChunkSteps: 25,
      readLoss: true,
      afterEpoch: (progress) => void saved.push(progress.epoch),
      onProgress: (_epoch, done, _steps, _seconds, totals) => chunks.push({ done, ...totals }),
    },
  );
  // 100 steps in epoch 1, 30 in epoch 2; only the whole epoch 1 can be resumed.
  assert.deepEqual(run.history.map((epoch) => epoch.epoch), [1, 2]);
  assert.deepEqual(saved, [1]);
  assert.ok(Number.isFinite(run.testAccuracy));
  assert.equal(chunks.at(-1)!.done, 30);
  assert.ok(chunks.every((chunk) => Number.isFinite(chunk.lossSum) && chunk.samples === 4 * chunk.done));
  const steps = chunks.map((chunk) => chunk.done);
  assert.ok(
    steps.every((done, i) => i === 0 || done - steps[i - 1] <= 25 || done < steps[i - 1]),
    `${steps}`,
  );
});

Deno.test("trainModel's shouldStop ends the run after the chunk it is asked in", async () => {
  const study = { ...(await subset()), trainCount: 400, testCount: 100 };
  const backend = cpuBackend();
  const model = new CompiledModel(backend, mlp([16]), 4, 1);
  const sets = deviceDataSets(backend, study);
  let asked = 0;
  const run = await trainModel(
    model,
    sets,
    { epochs: 2, schedule: [{ fromEpoch: 1, rate: 0.01 }], seed: 0, trainCount: 400 },
    { maxChunkSteps: 10, shouldStop: () => ++asked >= 3, testEachEpoch: false },
  );
  assert.equal(run.history.length, 1);
  assert.ok(Number.isNaN(run.testAccuracy));
  let trained = 0;
  await trainModel(
    model,
    sets,
    { epochs: 1, schedule: [{ fromEpoch: 1, rate: 0.01 }], seed: 0, trainCount: 400 },
    { maxChunkSteps: 10, shouldStop: () => true, onEpoch: (_result, pass) => void (trained = pass.steps) },
  );
  assert.equal(trained, 8, "the first chunk (8 steps), then the stop");
});
