/** Inference timing: it goes through the test set, times every batch, and leaves no tensor behind. */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { inferencePrograms, measureInference, TIMED_BATCH_POSITIONS } from "../../lab/measure.ts";
import { loadStudyData, type StudyData } from "../../lab/session.ts";
import { DeviceDataSet } from "../../models/dataset.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
import { cpuBackend, gpuBackend } from "../helpers.ts";

let data: Promise<StudyData> | undefined;
const study = () => data ??= loadStudyData(undefined, 4, 41, 4);

/** The input the model's own gather builds for batch `step` (its step counter set to `step`). */
async function inputOfBatch(model: CompiledModel, test: DeviceDataSet, step: number): Promise<Float32Array> {
  model.backend.write(model.stats, [step], 0);
  model.backend.run([test.gatherFor(model)]);
  return (await model.backend.read(model.input.value)) as Float32Array;
}

async function goesThroughTheTestSet(backend: Backend) {
  const { mnist, stats, testCount } = await study();
  const test = new DeviceDataSet(backend, "test", mnist.test, stats, testCount); // 11 batches of 4, the last of 1
  const model = new CompiledModel(backend, mlp([16]), 4, 0, { training: false });
  const steps = test.steps(4);
  const { programs, release } = inferencePrograms(model, test, 2 * steps + 3);
  const inputs: Float32Array[] = [];
  for (const program of programs) {
    backend.run(program);
    inputs.push((await backend.read(model.input.value)) as Float32Array);
  }
  release();
  // Fewer batches than positions: every batch once, in order, then again from the first.
  assert.ok(steps < TIMED_BATCH_POSITIONS);
  for (let i = 0; i < programs.length; i++) {
    assert.deepEqual(inputs[i], await inputOfBatch(model, test, i % steps), `program ${i}`);
  }
  assert.notDeepEqual(inputs[0], inputs[1], "consecutive programs gather different batches");
}

Deno.test("inference programs gather the test set batch after batch: CPU twins", async () => {
  await goesThroughTheTestSet(cpuBackend());
});

Deno.test("inference programs gather the test set batch after batch: WebGPU", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  await goesThroughTheTestSet(gpu);
});

Deno.test("with more batches than positions, the timed batches are spread evenly over the set", async () => {
  const backend = cpuBackend();
  const { mnist, stats } = await study();
  const test = new DeviceDataSet(backend, "test", mnist.test, stats, 1000); // 250 batches
  const model = new CompiledModel(backend, mlp([16]), 4, 0, { training: false });
  const { programs, release } = inferencePrograms(model, test, 100);
  const firstImageOf = async (step: number) => (await inputOfBatch(model, test, step)).slice(0, 784);
  for (const [program, step] of [[0, 0], [1, 3], [63, 246], [64, 0], [99, 136]]) {
    backend.run(programs[program]);
    const gathered = ((await backend.read(model.input.value)) as Float32Array).slice(0, 784);
    assert.deepEqual(gathered, await firstImageOf(step), `program ${program} gathers batch ${step}`);
  }
  release();
});

Deno.test("measureInference times every batch and releases what it made, on both paths", async () => {
  const gpu = await gpuBackend();
  for (const backend of gpu ? [cpuBackend(), gpu] : [cpuBackend()]) {
    const { mnist, stats, testCount } = await study();
    const test = new DeviceDataSet(backend, "test", mnist.test, stats, testCount);
    const model = new CompiledModel(backend, mlp([16]), 4, 0, { training: false });
    const device = backend.kind === "cpu" ? "cpu" : "gpu";
    backend.run(model.forward); // the twins' scratch arrays are made (and counted) on the first run
    await backend.read(model.logits.value); // the backend keeps a staging buffer per size read back
    const live = backend.ledger.live(device);
    const timing = await measureInference(model, test, { batches: 7, warmup: 2 });
    assert.equal(timing.perBatch.samples, 7);
    assert.ok(timing.perBatch.p10 > 0 && timing.perBatch.p10 <= timing.perBatch.p90);
    assert.equal(backend.ledger.live(device), live, `${backend.kind}: the batch numbers are released`);
    assert.ok(timing.streamed.median > 0 && timing.streamed.samples === 1, `${backend.kind}: one chunk of 7`);
    assert.ok(timing.latency.p10 > 0 && timing.latency.samples === 7);
  }
});
