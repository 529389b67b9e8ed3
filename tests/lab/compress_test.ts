/**
 * lab/compress: a committed float checkpoint compressed and measured on the CPU path (int8 static,
 * weight-only, a storage format, pruning), the method checks, and QAT's ranges turned into a calibration.
 */
import assert from "node:assert/strict";
import { parseQuantFormat } from "../../engine/quantization.ts";
import { decodeSafetensors } from "../../engine/safetensors.ts";
import { loadSafetensors } from "../../io/checkpoint_file.ts";
import { compressModel, type CompressOptions, resolveMethod } from "../../lab/compress/compress.ts";
import { compressJson, compressTable } from "../../lab/compress/table.ts";
import { withCheckpointNormalisation } from "../../lab/evaluate.ts";
import { loadStudyData } from "../../lab/session.ts";
import { dequantizeCheckpoint } from "../../models/checkpoint.ts";
import type { QatParams, QuantPointParams } from "../../models/compress/qat.ts";
import { qatCalibration } from "../../models/compress/qat_convert.ts";
import { modelByName } from "../../models/zoo.ts";

const MLP =
  new URL("../../docs/results/study20/limit/checkpoints/mlp-200-70-seed3.safetensors", import.meta.url)
    .pathname;

const BASE: CompressOptions = { paths: ["cpu"], batchSize: 4, warmup: 0, timedBatches: 0 };

async function mlpSetup() {
  const checkpoint = await loadSafetensors(MLP);
  const data = withCheckpointNormalisation(await loadStudyData(undefined, 400, 200, 4), checkpoint.metadata);
  return { checkpoint, data };
}

Deno.test("int8 static mlp-200-70: a quarter of the bytes, op bytes at one byte, accuracy within a point", async () => {
  const { checkpoint, data } = await mlpSetup();
  const result = await compressModel("mlp-200-70", checkpoint, data, {
    ...BASE,
    format: parseQuantFormat("int8"),
    calibrationImages: 200,
  });
  const [float, int8] = result.measurements;
  assert.equal(float.variant, "float");
  assert.equal(int8.variant, "compressed");
  assert.equal(float.parameterBytes, 4 * (784 * 200 + 200 + 200 * 70 + 70 + 70 * 10 + 10));
  // int8 weights, int32 biases, one float scale per tensor.
  assert.equal(int8.parameterBytes, 784 * 200 + 200 * 70 + 70 * 10 + 4 * (200 + 70 + 10) + 4 * 3);
  assert.equal(int8.opBytes, float.opBytes / 4);
  assert.ok(int8.fileBytes < float.fileBytes / 3, `${int8.fileBytes} vs ${float.fileBytes}`);
  assert.equal(float.testImages, 200);
  assert.ok(float.testAccuracy > 0.85);
  assert.ok(
    Math.abs(int8.testAccuracy - float.testAccuracy) <= 0.01,
    `${int8.testAccuracy} vs ${float.testAccuracy}`,
  );
  assert.equal(int8.msPerBatch, null);
  // The saved file is a quantized checkpoint whose weights come back within half a step.
  const saved = dequantizeCheckpoint(decodeSafetensors(result.checkpoint, "saved"));
  const w = checkpoint.tensors.get("fc1.weight")!.data, back = saved.tensors.get("fc1.weight")!.data;
  const step = Array.from(w).reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
  for (let i = 0; i < w.length; i += 97) assert.ok(Math.abs(w[i] - back[i]) <= step / 2 + 1e-7);
  assert.match(compressTable(result), /compressed\s+cpu\s+0\.\d{4}/);
  assert.equal(JSON.parse(compressJson(result)).measurements.length, 2);
});

Deno.test("weight-only int2 and f16 storage: bytes at their bits; int2 loses accuracy, f16 does not", async () => {
  const { checkpoint, data } = await mlpSetup();
  const weights = 784 * 200 + 200 * 70 + 70 * 10, biases = 200 + 70 + 10;
  const int2 = await compressModel("mlp-200-70", checkpoint, data, {
    ...BASE,
    format: parseQuantFormat("int2"),
  });
  assert.equal(int2.measurements[1].parameterBytes, Math.ceil(weights / 4) + 4 * biases + 4 * 3);
  const f16 = await compressModel("mlp-200-70", checkpoint, data, {
    ...BASE,
    format: parseQuantFormat("f16"),
  });
  assert.equal(f16.measurements[1].parameterBytes, 2 * (weights + biases));
  assert.equal(f16.measurements[1].testAccuracy, f16.measurements[0].testAccuracy);
  assert.ok(int2.measurements[1].testAccuracy < int2.measurements[0].testAccuracy - 0.005);
});

Deno.test("pruning to 0.9 without retraining: 90% zeros per layer, the stored size, the float model's op bytes", async () => {
  const { checkpoint, data } = await mlpSetup();
  const result = await compressModel("mlp-200-70", checkpoint, data, {
    ...BASE,
    prune: { sparsity: 0.9, method: "magnitude", retrainEpochs: 0 },
  });
  const [float, pruned] = result.measurements;
  for (const sparsity of Object.values(result.pruning!.sparsity)) assert.ok(Math.abs(sparsity - 0.9) < 1e-3);
  assert.ok(pruned.parameterBytes < float.parameterBytes / 5, `${pruned.parameterBytes}`);
  assert.equal(pruned.opBytes, float.opBytes);
  assert.equal(pruned.testAccuracy, result.pruning!.accuracyBeforeRetraining);
  const saved = decodeSafetensors(result.checkpoint, "saved").tensors.get("fc1.weight")!.data;
  assert.ok(Math.abs(saved.filter((x) => x === 0).length / saved.length - 0.9) < 1e-3);
});

Deno.test("the method checks refuse what does not fit, before any work", () => {
  const int4 = parseQuantFormat("int4");
  assert.throws(() => resolveMethod({ format: int4, method: "static" }), /--method weight-only/);
  assert.throws(() => resolveMethod({ format: int4, method: "dynamic" }), /--method weight-only/);
  assert.throws(() => resolveMethod({ qatEpochs: 1 }), /needs a format/);
  assert.throws(() => resolveMethod({}), /nothing to do/);
  assert.throws(
    () => resolveMethod({ prune: { sparsity: 1, method: "random", retrainEpochs: 0 } }),
    /below 1/,
  );
  assert.throws(
    () => resolveMethod({ prune: { sparsity: 0.5, method: "random", retrainEpochs: 0, gradual: true } }),
    /--retrain-epochs 1/,
  );
  assert.throws(
    () => resolveMethod({ format: parseQuantFormat("int8"), method: "dynamic", qatEpochs: 2 }),
    /--method static/,
  );
  assert.deepEqual(resolveMethod({ format: int4 }).method, "weight-only");
  assert.deepEqual(resolveMethod({ format: parseQuantFormat("int8") }).method, "static");
  assert.equal(resolveMethod({ format: parseQuantFormat("q6.10") }).kernels, false);
});

function point(min: number[], max: number[]): QuantPointParams {
  return { format: "uint8", symmetric: false, axis: null, scales: [1], zeroPoints: [0], min, max };
}

Deno.test("QAT's ranges become the static model's calibration; pre-tanh ranges come from the float calibration", () => {
  const mlp = modelByName("mlp-200-70"); // fc1 relu fc2 relu fc3
  const observed = { input: { min: -9, max: 9 }, outputs: mlp.layers.map((_, i) => ({ min: -i, max: i })) };
  const params: QatParams = {
    model: "mlp-200-70",
    observer: "moving-average",
    layers: {
      fc1: { input: point([-0.5], [2.5]), weight: point([0], [0]), activation: point([0, 0], [3, 4]) },
      fc2: { weight: point([0], [0]), activation: point([0], [5]) },
      fc3: { weight: point([0], [0]), activation: point([-7], [6]) },
    },
  };
  const mlpCalibration = qatCalibration(mlp, params, observed);
  assert.deepEqual(mlpCalibration.input, { min: -0.5, max: 2.5 });
  // After a ReLU the point sits on the activation (index + 1), per-channel ranges joined; the last on the layer.
  assert.deepEqual(mlpCalibration.outputs, [
    { min: -0, max: 0 },
    { min: 0, max: 4 },
    { min: -2, max: 2 },
    { min: 0, max: 5 },
    { min: -7, max: 6 },
  ]);
  const lenet = modelByName("lenet5");
  const lenetObserved = {
    input: { min: 0, max: 1 },
    outputs: lenet.layers.map(() => ({ min: -42, max: 42 })),
  };
  const conv1 = lenet.layers.findIndex((layer) => (layer as { name?: string }).name === "conv1");
  const lenetParams: QatParams = {
    model: "lenet5",
    observer: "moving-average",
    layers: Object.fromEntries(
      ["conv1", "conv2", "fc1", "fc2", "fc3"].map((name) => [name, {
        input: point([0], [1]),
        weight: point([0], [0]),
        activation: point([-1], [1]),
      }]),
    ),
  };
  const lenetCalibration = qatCalibration(lenet, lenetParams, lenetObserved);
  // conv1 is followed by tanh: its int8 input range is the float model's pre-tanh one.
  assert.deepEqual(lenetCalibration.outputs[conv1], { min: -42, max: 42 });
  assert.deepEqual(lenetCalibration.outputs.at(-1), { min: -1, max: 1 });
  assert.throws(() => qatCalibration(lenet, params, lenetObserved), /for mlp-200-70, not lenet5/);
});

Deno.test("QAT then conversion: the int8 model's accuracy within a point of the fake-quantised model's", async () => {
  const { checkpoint, data } = await mlpSetup();
  const result = await compressModel("mlp-200-70", checkpoint, data, {
    ...BASE,
    format: parseQuantFormat("int8"),
    qatEpochs: 1,
    calibrationImages: 200,
    measureFloat: false,
  });
  assert.deepEqual(result.measurements.map((m) => m.variant), ["compressed"]);
  const { qat } = result;
  assert.ok(qat && qat.fakeQuantAccuracy > 0.85, `${qat?.fakeQuantAccuracy}`);
  assert.equal(qat.largestDifference, Math.abs(qat.convertedAccuracy.cpu - qat.fakeQuantAccuracy));
  assert.ok(qat.largestDifference <= 0.01, `${qat.largestDifference}`);
  assert.ok(qat.params.layers.fc1.input);
  // The saved file carries QAT's scales for the converter.
  assert.equal(JSON.parse(decodeSafetensors(result.checkpoint, "saved").metadata.qat).model, "mlp-200-70");
});
