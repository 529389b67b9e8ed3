/** Data sets of one's own: any C x H x W, bytes or float32, any number of classes; and predict. */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { Random } from "../../engine/random.ts";
import { relu } from "../../models/layers/activation.ts";
import { Conv2d } from "../../models/layers/conv2d.ts";
import { Dense } from "../../models/layers/dense.ts";
import { MaxPool2d } from "../../models/layers/pool.ts";
import { channelMeanStd, DeviceDataSet, type LabelledImages } from "../../models/dataset.ts";
import { CompiledModel, type ModelSpec } from "../../models/model.ts";
import { predict } from "../../models/predict.ts";
import { evaluate, trainEpoch } from "../../models/epoch.ts";
import { mlp } from "../../models/zoo.ts";
import { cpuBackend } from "../helpers.ts";

/** Three classes of 3x8x8 float32 images: class k is noise plus a bright channel k. */
function coloured(
  count: number,
  seed: number,
): LabelledImages & { images: Float32Array; labels: Uint8Array } {
  const random = new Random(seed);
  const images = new Float32Array(count * 3 * 64);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = random.nextUint32() % 3;
    for (let ch = 0; ch < 3; ch++) {
      for (let p = 0; p < 64; p++) {
        images[(i * 3 + ch) * 64 + p] = random.symmetric(1) + (ch === labels[i] ? 2 : 0);
      }
    }
  }
  return { images, labels, count, channels: 3, rows: 8, cols: 8, classes: 3 };
}

function smallCnn(): ModelSpec {
  return {
    name: "cnn-3x8x8",
    inputShape: [3, 8, 8],
    pad: 0,
    layers: [new Conv2d("conv1", 3, 4, 3), relu(), new MaxPool2d("pool1"), new Dense("fc1", 4 * 3 * 3, 3)],
    classes: 3,
  };
}

Deno.test("a 3-channel float32 set with 3 classes trains a CNN, and predict agrees with evaluate", async () => {
  const backend = cpuBackend();
  const train = coloured(96, 1), test = coloured(48, 2);
  const stats = channelMeanStd(train);
  assert.equal(stats.mean.length, 3);
  const model = new CompiledModel(backend, smallCnn(), 4, 0);
  const trainSet = new DeviceDataSet(backend, "train", train, stats);
  const testSet = new DeviceDataSet(backend, "test", test, stats);
  const before = await evaluate(model, testSet);
  const shuffle = new Random(7);
  let last = Infinity;
  for (let epoch = 0; epoch < 3; epoch++) {
    last = (await trainEpoch(model, trainSet, 0.02, shuffle.permutation(train.count))).loss;
  }
  const after = await evaluate(model, testSet);
  assert.ok(after.loss < before.loss / 2, `test loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy > 0.9, `accuracy ${after.accuracy} (training loss ${last})`);
  const { logits, classes } = await predict(model, test, stats);
  assert.equal(logits.length, test.count * 3);
  const correct = classes.filter((c, i) => c === test.labels[i]).length;
  assert.equal(correct / test.count, after.accuracy);
});

Deno.test("per-channel statistics of bytes are of pixel / 255, channel by channel", () => {
  // Two images of 2 channels x 2 pixels: channel 0 holds 0 and 255, channel 1 always 51.
  const images = Uint8Array.from([0, 255, 51, 51, 255, 0, 51, 51]);
  const { mean, std } = channelMeanStd({ images, count: 2, channels: 2, rows: 1, cols: 2 });
  assert.deepEqual(mean, [0.5, 0.2]);
  assert.equal(std[0], 0.5);
  assert.ok(Math.abs(std[1]) < 1e-15);
});

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof UserError, `not a UserError: ${error}`);
    assert.ok(!error.message.includes("\n"), error.message);
    return error.message;
  }
  throw new assert.AssertionError({ message: "not refused" });
}

Deno.test("data that do not add up, or do not fit the model, are refused in one line", () => {
  const backend = cpuBackend();
  const set = coloured(8, 3);
  const stats = { mean: 0, std: 1 };
  const make = (changes: Partial<LabelledImages>, count?: number) =>
    new DeviceDataSet(backend, "mine", { ...set, ...changes }, stats, count);
  // A count past the images: this used to gather zeros with label 0 and report accuracy 1.0.
  assert.match(refusal(() => make({ count: 9 })), /9 images of 3x8x8 need 1728 values, but there are 1536/);
  assert.match(refusal(() => make({ labels: set.labels.subarray(0, 7) })), /8 images but 7 labels/);
  assert.match(refusal(() => make({}, 9)), /cannot use 9 samples of 8/);
  assert.match(refusal(() => make({ classes: 2 })), /label 2 of image \d+ is not a class from 0 to 1/);
  assert.match(refusal(() => make({ channels: 0 })), /channels is 0/);
  assert.match(
    refusal(() => new DeviceDataSet(backend, "mine", set, { mean: [0, 0], std: 1 })),
    /mean \[0,0\] should be one finite number or one for each of 3 channels/,
  );
  const data = make({});
  assert.match(
    refusal(() => new CompiledModel(backend, { ...smallCnn(), inputShape: [1, 8, 8] }, 4, 0)),
    /conv1 expects 3 channels of at least 3x3, gets 1x8x8/,
  );
  const cnn = new CompiledModel(
    backend,
    { ...smallCnn(), inputShape: [1, 8, 8], layers: [new Dense("fc", 64, 3)] },
    4,
    0,
  );
  assert.match(
    refusal(() => data.gatherFor(cnn)),
    /holds 3x8x8 images \(3x8x8 padded by 0\), but cnn-3x8x8 takes 1x8x8/,
  );
  const tenClassMlp = new CompiledModel(backend, mlp([16]), 4, 0, { training: false });
  assert.match(refusal(() => data.gatherFor(tenClassMlp)), /takes 784/);
  const twoClasses = new CompiledModel(
    backend,
    { ...smallCnn(), layers: [new Dense("fc", 192, 2)], classes: 2 },
    4,
    0,
  );
  assert.match(refusal(() => data.gatherFor(twoClasses)), /has 3 classes, but cnn-3x8x8 has 2 outputs/);
});
