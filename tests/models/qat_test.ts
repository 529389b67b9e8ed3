/**
 * Quantization-aware training: the fake-quantised model's forward uses fake-quantised weights and
 * activations (close to the float model at 8 bits, far from it at 2); a tiny QAT run from a committed
 * float checkpoint lowers the fake-quantised loss; one QAT step equal on both backends; the
 * parameters handed to a converter, per tensor and per channel.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { integerFormat } from "../../engine/quantization.ts";
import { Random } from "../../engine/random.ts";
import { deviceDataSets, loadStudyData, type StudyData } from "../../lab/session.ts";
import { decodeCheckpoint } from "../../models/checkpoint.ts";
import {
  calibrateFakeQuant,
  type FakeQuantOptions,
  qatMetadata,
  QatModel,
  trainQat,
} from "../../models/compress/qat.ts";
import { evaluate, trainEpoch } from "../../models/epoch.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
import { assertClose, cpuBackend, gpuBackend, loadGolden, REPO_ROOT, startGoldenStep } from "../helpers.ts";

const CHECKPOINT = new URL("docs/results/study20/limit/checkpoints/mlp-200-70-seed3.safetensors", REPO_ROOT);

let data: Promise<StudyData> | undefined;
const subset = () => data ??= loadStudyData(undefined, 400, 300, 4);

/** The trained mlp-200-70, float or fake-quantised, on `backend`, with the subset's sets. */
async function trained(backend: Backend, fakeQuant?: FakeQuantOptions) {
  const study = await subset();
  const bytes = await Deno.readFile(CHECKPOINT);
  const qat = fakeQuant ? new QatModel(backend, mlp([200, 70]), 4, 0, fakeQuant) : undefined;
  const model = qat?.model ?? new CompiledModel(backend, mlp([200, 70]), 4, 0);
  decodeCheckpoint(model, bytes, CHECKPOINT.pathname);
  return { qat, model, sets: deviceDataSets(backend, study) };
}

/**
 * One QAT step of mlp-100-30 from step_mlp-100-30's weights and images against PyTorch's (FakeQuantize on
 * the input, per-channel weights, each output): logits, loss, every parameter after the step, every scale
 * and zero point.
 */
async function checkQatStep(backend: Backend): Promise<void> {
  const { inputs, outputs } = loadGolden("step_qat_mlp-100-30");
  const qat = new QatModel(backend, mlp([100, 30]), 4, 0, { perChannel: true });
  const { model } = qat;
  startGoldenStep(model, inputs, 0.05);
  qat.setObserving(true);
  backend.run([...model.forward, model.loss, ...model.backward]);
  assertClose(await backend.read(model.logits.value), outputs.logits.data, `${backend.kind} logits`);
  assertClose([(await backend.read(model.lossSum))[0] / 4], outputs.loss.data, `${backend.kind} loss`);
  for (const p of model.parameters) {
    assertClose(
      await backend.read(p.value),
      outputs[`after.${p.name}`].data,
      `${backend.kind} ${p.name} after`,
    );
  }
  const params = await qat.quantParams();
  for (const [layer, points] of Object.entries(params.layers)) {
    for (const [role, point] of Object.entries(points)) {
      assertClose(
        point.scales,
        outputs[`scale.${layer}.${role}`].data,
        `${backend.kind} ${layer} ${role} scales`,
      );
      assert.deepEqual(
        point.zeroPoints,
        [...outputs[`zero_point.${layer}.${role}`].data],
        `${layer} ${role} zero points`,
      );
    }
  }
}

Deno.test("one QAT step of mlp-100-30 matches PyTorch's FakeQuantize step: CPU twins", () =>
  checkQatStep(cpuBackend()));

Deno.test("one QAT step of mlp-100-30 matches PyTorch's FakeQuantize step: GPU", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  await checkQatStep(gpu);
});

Deno.test("the fake-quantised forward is close to the float model at 8 bits and far from it at 2", async () => {
  const backend = cpuBackend();
  const float = await trained(backend);
  const reference = await evaluate(float.model, float.sets.test);
  const int8 = await trained(backend, {});
  await calibrateFakeQuant(int8.qat!, int8.sets.train);
  const eight = await evaluate(int8.model, int8.sets.test);
  assert.notEqual(eight.loss, reference.loss, "fake quantization changes the logits");
  assert.ok(
    Math.abs(eight.loss - reference.loss) < 0.05 * reference.loss,
    `${reference.loss} -> ${eight.loss}`,
  );
  assert.ok(
    Math.abs(eight.accuracy - reference.accuracy) <= 0.02,
    `${reference.accuracy} -> ${eight.accuracy}`,
  );
  const int2 = await trained(backend, { weightFormat: integerFormat(2) });
  await calibrateFakeQuant(int2.qat!, int2.sets.train);
  const two = await evaluate(int2.model, int2.sets.test);
  assert.ok(two.loss > 2 * reference.loss, `2-bit weights: ${reference.loss} -> ${two.loss}`);
});

Deno.test("a tiny QAT run from a float checkpoint lowers the fake-quantised loss (int4 weights per channel)", async () => {
  const backend = cpuBackend();
  const { qat, model, sets } = await trained(backend, { weightFormat: integerFormat(4), perChannel: true });
  await calibrateFakeQuant(qat!, sets.train);
  const before = await evaluate(model, sets.train);
  const plan = { epochs: 2, schedule: [{ fromEpoch: 1, rate: 0.01 }], seed: 1, trainCount: 400 };
  const run = await trainQat(qat!, sets, plan);
  const after = await evaluate(model, sets.train);
  assert.ok(after.loss < 0.9 * before.loss, `fake-quantised training loss ${before.loss} -> ${after.loss}`);
  assert.equal(run.history.length, 2);
  assert.ok(run.testAccuracy > 0.8 && run.testAccuracy <= 1, `accuracy ${run.testAccuracy}`);
  // The test ran with the observers stopped: testing again changes nothing.
  assert.equal((await evaluate(model, sets.test)).accuracy, run.testAccuracy);
  assert.deepEqual(await qat!.quantParams(), run.params);
});

Deno.test("QAT parameters: every layer's weight and output, the input on the first, per channel where asked", async () => {
  const backend = cpuBackend();
  const { qat, sets } = await trained(backend, { perChannel: true });
  await calibrateFakeQuant(qat!, sets.train);
  const params = await qat!.quantParams();
  assert.equal(params.model, "mlp-200-70");
  assert.deepEqual(Object.keys(params.layers), ["fc1", "fc2", "fc3"]);
  assert.ok(params.layers.fc1.input && !params.layers.fc2.input);
  assert.equal(params.layers.fc1.input!.scales.length, 1);
  for (const [name, outputs] of [["fc1", 200], ["fc2", 70], ["fc3", 10]] as const) {
    const { weight, activation } = params.layers[name];
    assert.equal(weight.format, "int8");
    assert.equal(weight.axis, 0);
    assert.equal(weight.scales.length, outputs);
    assert.ok(weight.zeroPoints.every((z) => z === 0), "symmetric weights");
    weight.scales.forEach((s, c) => {
      const largest = Math.max(-weight.min[c], weight.max[c]);
      assert.equal(s, Math.fround(largest / 127.5), `${name} channel ${c} scale`);
    });
    assert.equal(activation.format, "uint8");
    assert.equal(activation.axis, null);
    assert.ok(activation.scales[0] > 0 && Number.isInteger(activation.zeroPoints[0]));
    assert.ok(activation.zeroPoints[0] >= 0 && activation.zeroPoints[0] <= 255);
  }
  // ReLU outputs are never negative: their zero point is 0.
  assert.equal(params.layers.fc1.activation.zeroPoints[0], 0);
  assert.deepEqual(JSON.parse(qatMetadata(params).qat), params);
});

Deno.test("two QAT steps of LeNet-5 (weights per channel) are the same on both backends", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  const study = await subset();
  const results = [];
  for (const backend of [cpuBackend(), gpu]) {
    const qat = new QatModel(backend, lenet5(), 4, 13, { perChannel: true });
    const { train } = deviceDataSets(backend, study);
    qat.setObserving(true);
    const pass = await trainEpoch(qat.model, train, 0.05, new Random(4).permutation(400), { maxSteps: 2 });
    const weights = new Map<string, Float32Array>();
    for (const p of qat.model.parameters) weights.set(p.name, (await backend.read(p.value)) as Float32Array);
    results.push({ pass, weights, params: await qat.quantParams() });
  }
  const [cpu, webgpu] = results;
  assertClose([webgpu.pass.loss], [cpu.pass.loss], "loss");
  for (const [name, w] of webgpu.weights) assertClose(w, cpu.weights.get(name)!, `${name} after two steps`);
  for (const [layer, points] of Object.entries(webgpu.params.layers)) {
    for (const [role, point] of Object.entries(points)) {
      const other = (cpu.params.layers[layer] as unknown as Record<string, typeof point>)[role];
      assertClose(point.scales, other.scales, `${layer} ${role} scales`);
      assert.deepEqual(point.zeroPoints, other.zeroPoints, `${layer} ${role} zero points`);
    }
  }
});

Deno.test("a QAT model's checkpoint is a float checkpoint of the same model; a bad averaging constant is refused; inference with activations per channel", async () => {
  const backend = cpuBackend();
  const qat = new QatModel(backend, lenet5(), 4, 0);
  assert.deepEqual(
    qat.model.parameters.map((p) => p.name),
    new CompiledModel(backend, lenet5(), 4, 0).parameters.map((p) => p.name),
  );
  assert.throws(() => new QatModel(backend, lenet5(), 4, 0, { averagingConstant: 0 }), UserError);
  const inference = new QatModel(backend, lenet5(), 4, 0, { perChannel: true, activationPerChannel: true }, {
    training: false,
  });
  assert.equal(inference.model.backward.length, 0);
  assert.ok(inference.model.parameters.every((p) => p.grad === undefined));
  const study = await subset();
  await calibrateFakeQuant(inference, deviceDataSets(backend, study).test);
  const conv1 = (await inference.quantParams()).layers.conv1;
  assert.deepEqual([conv1.input!.axis, conv1.input!.scales.length], [1, 1]);
  assert.deepEqual([conv1.activation.axis, conv1.activation.scales.length], [1, 6]);
  assert.deepEqual([conv1.weight.axis, conv1.weight.scales.length], [0, 6]);
  assert.ok(conv1.activation.scales.every((s) => s > 0 && s < 1), `${conv1.activation.scales}`);
});
