/** What every layer is: compiled once against a Backend for a batch size, into recorded dispatches. */
import type { Backend, Dispatch, Tensor } from "../../engine/backend.ts";
import type { Random } from "../../engine/random.ts";
import type { ActivationName } from "../../engine/constants.ts";
import type { KernelChooser } from "../../engine/tuner.ts";

/** A layer's output as the next layer sees it: per-sample shape, its tensor and its gradient's. */
export interface Activation {
  /** Per-sample shape. */
  readonly shape: readonly number[];
  /** Its values, [batch, ...shape]. */
  readonly value: Tensor;
  /** Absent for the model's input, whose gradient nobody needs. */
  readonly grad?: Tensor;
}

/** A trainable tensor under its PyTorch state_dict name, with its gradient (when training). */
export interface Parameter {
  /** PyTorch's state_dict name, e.g. "conv1.weight". */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its values. */
  readonly value: Tensor;
  /** Its gradient, when training. */
  readonly grad?: Tensor;
}

/** What a layer is built with. */
export interface BuildContext {
  /** Where its tensors live. */
  readonly backend: Backend;
  /** Samples per batch. */
  readonly batch: number;
  /** Initialises its parameters. */
  readonly random: Random;
  /** One float, written once per epoch; the weight-gradient kernels take their SGD step with it. */
  readonly learningRate: Tensor;
  /** False for an inference-only model: no gradient tensors, no backward dispatches. */
  readonly training: boolean;
  /** Binds the kernels that have variants: the default, or the tuner's choice. */
  readonly kernels: KernelChooser;
}

/** A layer compiled: its output, its recorded dispatches and its parameters. */
export interface BuiltLayer {
  /** What the next layer reads. */
  readonly output: Activation;
  /** Forward dispatches, in order. */
  readonly forward: readonly Dispatch[];
  /** Backward dispatches, in order: input gradient first (it needs the old weights), then the SGD step. */
  readonly backward: readonly Dispatch[];
  /** Its trainable tensors. */
  readonly parameters: readonly Parameter[];
}

/** A layer: compiled once for a backend and a batch size into dispatches. */
export interface Layer {
  /** e.g. "conv1: conv 5x5 1->6". */
  describe(): string;
  /** A copy of this layer with the activation folded into its kernels; undefined if it cannot. */
  fuse?(activation: ActivationName): Layer | undefined;
  /** `needsInputGrad` is false for the first layer: nothing upstream wants its input's gradient. */
  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer;
}

/** An output tensor for a per-sample shape, and its gradient's when training. */
export function activationTensors(
  context: BuildContext,
  label: string,
  shape: readonly number[],
): Activation {
  const full = [context.batch, ...shape];
  return {
    shape,
    value: context.backend.tensor(label, "f32", full),
    grad: context.training ? context.backend.tensor(`${label}.grad`, "f32", full) : undefined,
  };
}

/** A parameter initialised as PyTorch's default does: uniform in (-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultInitialised(
  context: BuildContext,
  name: string,
  shape: readonly number[],
  fanIn: number,
): Parameter {
  const { backend } = context;
  // The tensor first: its size is checked against the backend's limits before any work.
  const value = backend.tensor(name, "f32", shape);
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(value.length);
  for (let i = 0; i < values.length; i++) values[i] = context.random.symmetric(bound);
  backend.write(value, values);
  return {
    name,
    shape,
    value,
    grad: context.training ? backend.tensor(`${name}.grad`, "f32", shape) : undefined,
  };
}
