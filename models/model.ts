/**
 * A model is a list of layers; compiling it for a backend and a batch size creates every tensor and
 * records every dispatch once. A training step is then [gather, ...forward, loss, ...backward].
 */
import { UserError } from "../engine/errors.ts";
import type { Backend, Dispatch, Tensor } from "../engine/backend.ts";
import { kernels } from "../engine/kernels.ts";
import { Random } from "../engine/random.ts";
import {
  type KernelChoice,
  KernelChooser,
  type KernelMode,
  type TuningCache,
  type TuningOptions,
} from "../engine/tuner.ts";
import { ActivationLayer } from "./layers/activation.ts";
import type { Activation, BuildContext, Layer, Parameter } from "./layers/layer.ts";

/** A model's definition: its layers and the shape they take, compiled by `CompiledModel`. */
export interface ModelSpec {
  /** As on the command line: "lenet5", "mlp-300-100". */
  readonly name: string;
  /** Per-sample input shape, after padding: [1, 32, 32] or [784]. */
  readonly inputShape: readonly number[];
  /** Zero padding added around each image when its batch is gathered. */
  readonly pad: number;
  /** In order; an activation after a Dense or Conv2d layer is fused into it. */
  readonly layers: readonly Layer[];
  /** Number of outputs (logits). */
  readonly classes: number;
}

/**
 * Folds each activation into the layer before it where that layer can take it. The spec's layers
 * stay as they are, so one spec compiles any number of times.
 */
export function fuseActivations(layers: readonly Layer[]): Layer[] {
  const fused: Layer[] = [];
  for (const layer of layers) {
    const merged = layer instanceof ActivationLayer ? fused.at(-1)?.fuse?.(layer.activation) : undefined;
    if (merged) fused[fused.length - 1] = merged;
    else fused.push(layer);
  }
  return fused;
}

/** A model compiled for a backend and a batch size: every tensor and dispatch made once. */
export class CompiledModel {
  /** The batch the gather kernel writes: [batch, ...spec.inputShape]. */
  readonly input: Activation;
  /** The last layer's output: [batch, classes]. */
  readonly logits: Activation;
  /** Labels of the current batch; the gather kernel writes them. */
  readonly labels: Tensor;
  /** [steps run, correct, samples], accumulated on the device. */
  readonly stats: Tensor;
  /** Per-sample losses summed in blocks of steps: [current block, earlier blocks]. */
  readonly lossSum: Tensor;
  /** One float the SGD steps read; `setLearningRate` writes it. */
  readonly learningRate: Tensor;
  /** Every trainable tensor, in layer order. */
  readonly parameters: readonly Parameter[];
  /** The forward dispatches, in order; replaced, not changed, when `tune` picks other variants. */
  forward: readonly Dispatch[];
  /** The backward dispatches (each with its fused SGD step), in order; `tune` may replace them too. */
  backward: readonly Dispatch[];
  /** Softmax cross-entropy, its gradient, and the running totals. */
  readonly loss: Dispatch;
  /** The spec's layers with activations fused. */
  readonly layers: readonly Layer[];
  /** Every layer's output tensor, in order. */
  readonly outputs: readonly Tensor[];

  /** With `training: false` no gradient tensors or backward dispatches are made: inference only. */
  readonly training: boolean;
  readonly #kernels: KernelChooser;

  /** Builds every tensor (parameters initialised from `seed`, as PyTorch's defaults) and records every dispatch. */
  constructor(
    readonly backend: Backend,
    readonly spec: ModelSpec,
    readonly batch: number,
    seed: number,
    options: {
      training?: boolean;
      /** "fixed": the registry's defaults (today's kernels); "tuned": variants chosen by `tune`. */
      kernels?: KernelMode;
      tuningCache?: TuningCache;
    } = {},
  ) {
    this.training = options.training ?? true;
    this.#kernels = new KernelChooser(backend, options.kernels ?? "fixed", options.tuningCache);
    const random = new Random(seed);
    this.learningRate = backend.tensor("learning_rate", "f32", [1]);
    const context: BuildContext = {
      backend,
      batch,
      random,
      learningRate: this.learningRate,
      training: this.training,
      kernels: this.#kernels,
    };
    this.input = {
      shape: spec.inputShape,
      value: backend.tensor("input", "f32", [batch, ...spec.inputShape]),
    };
    this.layers = fuseActivations(spec.layers);
    const forward: Dispatch[] = [], backward: Dispatch[] = [], parameters: Parameter[] = [];
    const outputs: Tensor[] = [];
    let current: Activation = this.input;
    this.layers.forEach((layer, i) => {
      const built = layer.build(context, current, i > 0);
      forward.push(...built.forward);
      backward.unshift(...built.backward);
      parameters.push(...built.parameters);
      outputs.push(built.output.value);
      current = built.output;
    });
    if (current.shape.join() !== String(spec.classes)) {
      throw new UserError(`${spec.name} ends in ${current.shape.join("x")}, not ${spec.classes} classes`);
    }
    this.logits = current;
    this.labels = backend.tensor("labels", "u32", [batch]);
    this.stats = backend.tensor("stats", "u32", [3]);
    this.lossSum = backend.tensor("loss_sum", "f32", [2]);
    // An inference-only model still computes the loss (for accuracy): its gradient goes to scratch.
    const dlogits = this.logits.grad ?? backend.tensor("dlogits", "f32", [batch, spec.classes]);
    this.loss = backend.dispatch(kernels.softmax_cross_entropy, {
      logits: this.logits.value,
      labels: this.labels,
      dlogits,
      stats: this.stats,
      loss_sum: this.lossSum,
    }, { B: batch, CLASSES: spec.classes });
    this.forward = forward;
    this.backward = backward;
    this.parameters = parameters;
    this.outputs = outputs;
  }

  /**
   * Times the variants of each layer kernel on the backend and keeps the fastest (a no-op for a
   * model compiled with fixed kernels, and for choices found in the tuning cache). Runs the kernels
   * with the learning rate set to zero: call it before training.
   */
  async tune(options?: TuningOptions): Promise<void> {
    this.setLearningRate(0);
    const replaced = await this.#kernels.tune(options);
    this.forward = this.forward.map((d) => replaced.get(d) ?? d);
    this.backward = this.backward.map((d) => replaced.get(d) ?? d);
  }

  /** The layer kernels that have variants: which one each runs, with the tuner's timings. */
  get kernelChoices(): readonly KernelChoice[] {
    return this.#kernels.choices;
  }

  /** The tensors one inference batch flows through: the input and every layer's output. */
  activations(): Tensor[] {
    return [this.input.value, ...this.outputs];
  }

  /**
   * Appends dispatches that run after each training step's SGD updates, e.g. pruning masks that put
   * pruned weights back to zero (models/compress/prune.ts).
   */
  addAfterStep(dispatches: readonly Dispatch[]): void {
    this.backward = [...this.backward, ...dispatches];
  }

  /** One training step: gather, forward, loss, backward. */
  trainStep(gather: Dispatch): Dispatch[] {
    return [gather, ...this.forward, this.loss, ...this.backward];
  }

  /** One evaluation step: gather, forward, loss (for the totals). */
  evaluationStep(gather: Dispatch): Dispatch[] {
    return [gather, ...this.forward, this.loss];
  }

  /** The rate the next steps' SGD updates use. */
  setLearningRate(rate: number): void {
    this.backend.write(this.learningRate, [rate]);
  }

  /** Zeroes the step counter and the loss and accuracy totals. */
  resetTotals(): void {
    this.backend.write(this.stats, [0, 0, 0]);
    this.backend.write(this.lossSum, [0, 0]);
  }

  /** Trainable values in all. */
  parameterCount(): number {
    return this.parameters.reduce((sum, p) => sum + p.value.length, 0);
  }

  /** One line per layer, e.g. "conv1: conv 5x5 1->6 tanh". */
  describe(): string[] {
    return this.layers.map((layer) => layer.describe());
  }

  /**
   * Replaces every parameter's value (e.g. from a checkpoint), by state_dict name. Every value is
   * checked before any is written, so a refused call leaves the model as it was.
   */
  loadParameters(values: ReadonlyMap<string, ArrayLike<number>>): void {
    for (const parameter of this.parameters) {
      const value = values.get(parameter.name);
      if (!value) throw new UserError(`${this.spec.name}: no value for ${parameter.name}`);
      if (value.length !== parameter.value.length) {
        throw new UserError(
          `${this.spec.name}: ${parameter.name} takes ${parameter.value.length} values ` +
            `(${parameter.shape.join("x")}), given ${value.length}`,
        );
      }
    }
    for (const parameter of this.parameters) this.backend.write(parameter.value, values.get(parameter.name)!);
  }
}
