/**
 * The integer model: LeNet-5 and an MLP converted from float weights (static int8 from calibrated
 * ranges, dynamic int8, weight-only), run on the CPU twins, on the GPU with dot4I8Packed and on the GPU
 * told to act without it. Integer models agree bit for bit across the three; every model stays near
 * its float model; bad requests are refused in one line.
 */
import assert from "node:assert/strict";
import { type Backend, PACKED_INTEGER_DOT } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { Random } from "../../engine/random.ts";
import { WebGpuBackend } from "../../engine/webgpu/backend.ts";
import { DeviceDataSet, type LabelledImages } from "../../models/dataset.ts";
import { evaluate } from "../../models/epoch.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { CompiledModel, type ModelSpec } from "../../models/model.ts";
import { predict } from "../../models/predict.ts";
import {
  calibrate,
  compileQuantized,
  convertDynamic,
  convertStatic,
  convertWeightOnly,
  type FloatWeights,
  type QuantizedModel,
} from "../../models/quantized/convert.ts";
import { Int8Dense, type QuantizeInput } from "../../models/quantized/layers.ts";
import { PercentileObserver } from "../../models/quantized/observers.ts";
import type { Layer } from "../../models/layers/layer.ts";
import { unpackInt8Rows } from "../../kernels/quantize/int8.ts";
import { pytorchForTests } from "../pytorch_tests.ts";
import { mlp, modelByName } from "../../models/zoo.ts";
import { assertClose, cpuBackend, gpuBackend } from "../helpers.ts";
import { assertIdentical } from "../kernels/check.ts";

const STATS = { mean: 0.13, std: 0.31 };
const BATCH = 6;

/** MNIST-shaped images: a blurred blob per image, so that activations vary as they do on digits. */
function images(count: number, seed: number): LabelledImages & { images: Uint8Array } {
  const random = new Random(seed);
  const pixels = new Uint8Array(count * 784);
  for (let n = 0; n < count; n++) {
    const cx = 8 + 12 * random.next(), cy = 8 + 12 * random.next();
    for (let i = 0; i < 784; i++) {
      const d = Math.hypot((i % 28) - cx, Math.floor(i / 28) - cy);
      pixels[n * 784 + i] = d < 6 ? Math.min(255, Math.round(255 * (1 - d / 8) + 40 * random.next())) : 0;
    }
  }
  return { count, rows: 28, cols: 28, images: pixels, labels: new Uint8Array(count), classes: 10 };
}

/** The weights a model starts from (PyTorch's default initialisation, seeded). */
async function floatWeights(spec: ModelSpec): Promise<FloatWeights> {
  const backend = cpuBackend();
  const model = new CompiledModel(backend, spec, 1, 5, { training: false });
  const weights = new Map<string, Float32Array>();
  for (const p of model.parameters) weights.set(p.name, (await backend.read(p.value)) as Float32Array);
  return weights;
}

async function logits(
  backend: Backend,
  quantized: QuantizedModel,
  set: LabelledImages,
): Promise<Float32Array> {
  return (await predict(compileQuantized(backend, quantized, BATCH), set, STATS)).logits;
}

async function floatLogits(
  spec: ModelSpec,
  weights: FloatWeights,
  set: LabelledImages,
): Promise<Float32Array> {
  const model = new CompiledModel(cpuBackend(), spec, BATCH, 0, { training: false });
  model.loadParameters(weights);
  return (await predict(model, set, STATS)).logits;
}

/** The GPU as it is, and the GPU acting without dot4I8Packed (the shifts path), or none here. */
async function gpus(): Promise<{ name: string; backend: Backend }[]> {
  const gpu = await gpuBackend();
  if (!gpu) return [];
  const without = await WebGpuBackend.create({ withoutLanguageFeatures: [PACKED_INTEGER_DOT] });
  assert.ok(!without.languageFeatures.has(PACKED_INTEGER_DOT));
  return [{ name: "GPU", backend: gpu }, { name: "GPU without dot4I8Packed", backend: without }];
}

const largest = (values: ArrayLike<number>) => Math.max(...Array.from(values, Math.abs));

for (const [name, spec] of [["lenet5", lenet5()], ["mlp-24-12", mlp([24, 12])]] as const) {
  Deno.test(`static int8 ${name}: CPU, GPU and GPU without dot4I8Packed agree bit for bit, near the float model`, async () => {
    const weights = await floatWeights(spec);
    const calibration = await calibrate(cpuBackend(), spec, weights, images(30, 1), STATS, {
      count: 25,
      observer: { kind: "minmax" },
      batch: 8,
    });
    const test = images(13, 2);
    const want = await floatLogits(spec, weights, test);
    for (const perChannel of [false, true]) {
      const quantized = convertStatic(spec, weights, calibration, { perChannel });
      const onCpu = await logits(cpuBackend(), quantized, test);
      for (const { name: where, backend } of await gpus()) {
        assertIdentical(await logits(backend, quantized, test), onCpu, `${name} ${where} vs CPU`);
      }
      // int8 everywhere: within a few percent of the logits' range of the float model's.
      const error = Math.max(...Array.from(onCpu, (v, i) => Math.abs(v - want[i])));
      assert.ok(
        error < 0.08 * largest(want),
        `${name} per-channel ${perChannel}: error ${error} of ${largest(want)}`,
      );
    }
  });

  Deno.test(`dynamic int8 and weight-only ${name}: CPU and GPU agree, near the float model`, async () => {
    const weights = await floatWeights(spec);
    const test = images(13, 3);
    const want = await floatLogits(spec, weights, test);
    for (
      const [quantized, allowed] of [
        [convertDynamic(spec, weights), 0.05],
        [convertWeightOnly(spec, weights, { bits: 8 }), 0.03],
        [convertWeightOnly(spec, weights, { bits: 4, perChannel: true }), 0.3],
      ] as const
    ) {
      const onCpu = await logits(cpuBackend(), quantized, test);
      for (const { name: where, backend } of await gpus()) {
        assertClose(await logits(backend, quantized, test), onCpu, `${quantized.spec.name} ${where}`);
      }
      const error = Math.max(...Array.from(onCpu, (v, i) => Math.abs(v - want[i])));
      assert.ok(
        error < allowed * largest(want),
        `${quantized.spec.name}: error ${error} of ${largest(want)}`,
      );
    }
  });
}

Deno.test("a converted model is evaluated as a float model is: evaluate's accuracy is predict's", async () => {
  const spec = lenet5(), weights = await floatWeights(spec);
  const calibration = await calibrate(cpuBackend(), spec, weights, images(20, 1), STATS, {
    count: 20,
    observer: { kind: "percentile" },
  });
  const backend = cpuBackend();
  const model = compileQuantized(backend, convertStatic(spec, weights, calibration), BATCH);
  // Labels: the float model's classes, so that the accuracy is the int8 model's agreement with it.
  const set = images(20, 6);
  const floatModel = new CompiledModel(backend, spec, BATCH, 0, { training: false });
  floatModel.loadParameters(weights);
  const floatClasses = (await predict(floatModel, set, STATS)).classes;
  const labelled = { ...set, labels: Uint8Array.from(floatClasses) };
  const { classes } = await predict(model, labelled, STATS);
  const agreeing = classes.filter((c, n) => c === labelled.labels[n]).length;
  const { accuracy, samples } = await evaluate(model, new DeviceDataSet(backend, "test", labelled, STATS));
  assert.equal(samples, 20);
  assert.equal(accuracy, agreeing / 20);
});

Deno.test("weight-only stores fewer bytes as the bits fall; int8 static stores a quarter of float32's weights", async () => {
  const spec = mlp([24, 12]), weights = await floatWeights(spec);
  const floatBytes = 4 * [...weights.values()].reduce((sum, w) => sum + w.length, 0);
  const bytes = [8, 4, 2].map((bits) => convertWeightOnly(spec, weights, { bits }).parameterBytes);
  assert.ok(bytes[0] > bytes[1] && bytes[1] > bytes[2], bytes.join(" "));
  assert.ok(bytes[0] < floatBytes / 3.5, `${bytes[0]} of ${floatBytes}`);
});

Deno.test("the percentile observer clips the tails; the min-max observer keeps them", () => {
  const observer = new PercentileObserver(99);
  observer.observe(Float32Array.from({ length: 1001 }, (_, i) => i - 500));
  assert.deepEqual(observer.range(), { min: -490, max: 490 });
});

Deno.test("quantization refuses what it cannot do, in one line", async () => {
  const spec = mlp([8]), weights = await floatWeights(spec);
  const set = images(10, 4);
  await assert.rejects(
    () => calibrate(cpuBackend(), spec, weights, set, STATS, { count: 11, observer: { kind: "minmax" } }),
    UserError,
    "calibration takes 1 to 10 images",
  );
  assert.throws(() => convertWeightOnly(spec, weights, { bits: 1 }), UserError);
  assert.throws(() => convertWeightOnly(spec, weights, { bits: 9 }), UserError);
  assert.throws(() => new PercentileObserver(40), UserError);
  const avg = modelByName("lenet5-avg");
  const calibration = { input: { min: 0, max: 1 }, outputs: avg.layers.map(() => ({ min: -1, max: 1 })) };
  const avgWeights = await floatWeights(avg);
  assert.throws(() => convertStatic(avg, avgWeights, calibration), UserError, "avgpool");
});

Deno.test("static int8 mlp-24-12 in this engine and in torch.ao (qnnpack), same scales: within 1 LSB", async (t) => {
  const torch = await pytorchForTests();
  if (!torch.ok) return void t.step({ name: `skipped: ${torch.why}`, ignore: true, fn: () => {} });
  const spec = mlp([24, 12]), weights = await floatWeights(spec);
  const calibration = await calibrate(cpuBackend(), spec, weights, images(30, 1), STATS, {
    count: 30,
    observer: { kind: "minmax" },
  });
  const quantized = convertStatic(spec, weights, calibration);
  const backend = cpuBackend();
  const model = compileQuantized(backend, quantized, 13);
  await predict(model, images(13, 5), STATS);
  const [input, ...layers] = quantized.spec.layers as [QuantizeInput, ...Layer[]];
  const dense = layers.filter((l): l is Int8Dense => l instanceof Int8Dense);
  const request = {
    batch: 13,
    x: Array.from(await backend.read(model.input.value)),
    inputScale: input.qparams.scale,
    inputZeroPoint: input.qparams.zeroPoint,
    layers: dense.map(({ name, params }) => ({
      weight: chunk(
        unpackInt8Rows(params.weights.packed, params.weights.rows, params.weights.rowLength),
        params.weights.rowLength,
      ),
      weightScale: params.weights.scales[0],
      bias: Array.from(weights.get(`${name}.bias`)!),
      outputScale: params.outputScale,
      outputZeroPoint: params.outputZeroPoint,
      relu: params.relu,
    })),
  };
  const theirs: number[][] =
    JSON.parse(await runPython(torch.python!, "quantized_torch.py", JSON.stringify(request))).outputs;
  // Ours: the quantized input, then each dense layer's int8 output (model.outputs, in layer order).
  const ours = [];
  for (const [i, width] of [[0, 784], [1, 24], [2, 12], [3, 10]]) {
    ours.push(unpackInt8Rows((await backend.read(model.outputs[i])) as Uint32Array, 13, width));
  }
  assertIdentical(ours[0], theirs[0], "the quantized input");
  let off = 0, total = 0;
  for (let l = 1; l < ours.length; l++) {
    // Outputs spread over the int8 range, not saturated: a test that can tell two requantisations apart.
    assert.ok(new Set(ours[l]).size >= 10, `layer ${l} takes only ${new Set(ours[l]).size} values`);
    for (let i = 0; i < ours[l].length; i++) {
      const difference = Math.abs(ours[l][i] - theirs[l][i]);
      assert.ok(difference <= 1, `layer ${l} [${i}]: ours ${ours[l][i]}, PyTorch's ${theirs[l][i]}`);
      off += difference;
      total++;
    }
  }
  console.log(`static int8 vs torch.ao qnnpack: ${off} of ${total} int8 outputs differ, each by 1`);
});

const chunk = (values: ArrayLike<number>, width: number) =>
  Array.from(
    { length: values.length / width },
    (_, r) => Array.from(values).slice(r * width, (r + 1) * width),
  );

async function runPython(python: string, script: string, stdin: string): Promise<string> {
  const child = new Deno.Command(python, {
    args: [new URL(script, import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}
