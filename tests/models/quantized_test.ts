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
import type { LabelledImages } from "../../models/dataset.ts";
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
import { PercentileObserver } from "../../models/quantized/observers.ts";
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
