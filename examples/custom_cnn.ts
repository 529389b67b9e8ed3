// A CNN that is not in the study, from the public API alone: LeNet-5's shape with ReLU and 8 and 24
// channels, trained for one epoch of MNIST with the lab's protocol, tested, and saved as safetensors.
// deno run -A --unstable-webgpu examples/custom_cnn.ts [--backend webgpu|cpu] [--train-limit N] [--save PATH]
import { parseArgs } from "node:util";
import {
  type BackendKind,
  CompiledModel,
  Conv2d,
  createBackend,
  Dense,
  DeviceDataSet,
  MaxPool2d,
  type ModelSpec,
  relu,
  trainModel,
} from "../mod.ts";
import { loadMnist, parseSchedule, pixelMeanStd, PROTOCOL } from "../lab/mod.ts";
import { prepareWebGpuEnvironment, saveCheckpoint } from "../io/mod.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "webgpu" },
    "train-limit": { type: "string", default: "60000" },
    "test-limit": { type: "string", default: "10000" },
    save: { type: "string", default: "lenet5-relu-8-24.safetensors" },
  },
});

// 28x28 digits padded to 32x32 -> conv 5x5 (8) -> pool -> conv 5x5 (24) -> pool -> 600 -> 120 -> 84 -> 10.
const spec: ModelSpec = {
  name: "lenet5-relu-8-24",
  inputShape: [1, 32, 32],
  pad: 2,
  layers: [
    new Conv2d("conv1", 1, 8, 5),
    relu(),
    new MaxPool2d("pool1"),
    new Conv2d("conv2", 8, 24, 5),
    relu(),
    new MaxPool2d("pool2"),
    new Dense("fc1", 24 * 5 * 5, 120),
    relu(),
    new Dense("fc2", 120, 84),
    relu(),
    new Dense("fc3", 84, 10),
  ],
  classes: 10,
};

const mnist = await loadMnist();
const stats = pixelMeanStd(mnist.train.images);
if (flags.backend === "webgpu") prepareWebGpuEnvironment();
const backend = await createBackend(flags.backend as BackendKind);
const model = new CompiledModel(backend, spec, PROTOCOL.batchSize, PROTOCOL.seed);
const trainCount = Math.min(Number(flags["train-limit"]), mnist.train.count);
const sets = {
  train: new DeviceDataSet(backend, "train", mnist.train, stats, trainCount),
  test: new DeviceDataSet(backend, "test", mnist.test, stats, Math.min(Number(flags["test-limit"]), 10000)),
};
console.log(`${spec.name}: ${model.parameterCount()} parameters on ${backend.adapter.name}`);
const run = await trainModel(model, sets, {
  epochs: 1,
  schedule: parseSchedule(PROTOCOL.learningRateSchedule),
  seed: PROTOCOL.seed,
  trainCount,
}, {
  onEpoch: (epoch) => console.log(`epoch ${epoch.epoch}: loss ${epoch.trainLoss.toFixed(4)}`),
});
console.log(
  `test accuracy ${run.testAccuracy.toFixed(4)} after ${run.trainSeconds.toFixed(1)} s of training`,
);
await saveCheckpoint(model, flags.save, { epochs: "1", testAccuracy: String(run.testAccuracy) });
console.log(`saved ${flags.save}`);
backend.destroy();
