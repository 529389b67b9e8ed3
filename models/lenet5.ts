/**
 * LeNet-5 as the lab builds it in PyTorch: 28x28 images zero-padded to 32x32, two 5x5 tanh
 * convolutions each followed by 2x2 max pooling, then three dense layers (tanh, tanh, logits).
 */
import { tanh } from "./layers/activation.ts";
import { Conv2d } from "./layers/conv2d.ts";
import { Dense } from "./layers/dense.ts";
import { MaxPool2d } from "./layers/pool.ts";
import type { ModelSpec } from "./model.ts";

const CLASSES = 10;

/** LeNet-5 as the lab builds it: 28x28 images padded to 32x32, tanh, max pooling, 10 classes. */
export function lenet5(): ModelSpec {
  return {
    name: "lenet5",
    inputShape: [1, 32, 32],
    pad: 2,
    layers: [
      new Conv2d("conv1", 1, 6, 5),
      tanh(),
      new MaxPool2d("pool1"),
      new Conv2d("conv2", 6, 16, 5),
      tanh(),
      new MaxPool2d("pool2"),
      // Flattening is implicit: pool2's 16x5x5 NCHW output is the 400 features fc1 reads.
      new Dense("fc1", 16 * 5 * 5, 120),
      tanh(),
      new Dense("fc2", 120, 84),
      tanh(),
      new Dense("fc3", 84, CLASSES),
    ],
    classes: CLASSES,
  };
}
