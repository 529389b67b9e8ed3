/** The study's models, by the lab's own names. */
import { UserError } from "../engine/errors.ts";
import { relu } from "./layers/activation.ts";
import { Dense } from "./layers/dense.ts";
import { AvgPool2d, MaxPool2d } from "./layers/pool.ts";
import type { Layer } from "./layers/layer.ts";
import { lenet5 } from "./lenet5.ts";
import type { ModelSpec } from "./model.ts";

const MNIST_PIXELS = 28 * 28;
const CLASSES = 10;
/** Far above any buffer an adapter offers (784 x 2^24 float32 is 49 GiB): only keeps the sizes exact. */
const MAX_HIDDEN = 2 ** 24;

/** 784 -> hidden (ReLU) [-> hidden2 (ReLU)] -> 10, named as PyTorch's fc1, fc2, fc3. */
export function mlp(hidden: readonly number[]): ModelSpec {
  const widths = [MNIST_PIXELS, ...hidden, CLASSES];
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push(new Dense(`fc${i + 1}`, widths[i], widths[i + 1]));
    if (i + 2 < widths.length) layers.push(relu());
  }
  return { name: `mlp-${hidden.join("-")}`, inputShape: [MNIST_PIXELS], pad: 0, layers, classes: CLASSES };
}

/** LeNet-5 with average pooling, LeNet's original subsampling, where the lab's LeNet-5 takes the maximum. */
function lenet5Avg(): ModelSpec {
  const spec = lenet5();
  const layers = spec.layers.map((layer) => layer instanceof MaxPool2d ? new AvgPool2d(layer.name) : layer);
  return { ...spec, name: "lenet5-avg", layers };
}

/**
 * The models with fixed names. A Map, not an object: a name comes from the user, and an object would
 * answer "constructor" or "__proto__" with something from its prototype.
 */
const modelBuilders: ReadonlyMap<string, () => ModelSpec> = new Map([
  ["lenet5", lenet5],
  ["lenet5-avg", lenet5Avg],
]);

/** "lenet5", "mlp-300", "mlp-300-100", ... */
export function modelByName(name: string): ModelSpec {
  const builder = modelBuilders.get(name);
  if (builder) return builder();
  const match = /^mlp((?:-[^-]*)+)$/.exec(name);
  if (!match) {
    throw new UserError(
      `unknown model "${name}": use ${
        [...modelBuilders.keys()].join(", ")
      }, mlp-H or mlp-H1-H2 (e.g. mlp-300-100)`,
    );
  }
  const hidden = match[1].slice(1).split("-").map((part) => {
    const size = Number(part);
    if (!/^\d+$/.test(part) || !Number.isInteger(size) || size <= 0 || size > MAX_HIDDEN) {
      throw new UserError(
        `model "${name}": hidden size "${part}" must be a positive integer of at most ${MAX_HIDDEN}`,
      );
    }
    return size;
  });
  if (hidden.length > 2) throw new UserError(`model "${name}": at most two hidden layers, as in the study`);
  return mlp(hidden);
}
