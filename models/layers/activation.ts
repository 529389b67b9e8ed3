/** Stand-alone activations, for when no preceding layer can fuse them. */
import type { ActivationName } from "../../engine/constants.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  type Layer,
} from "./layer.ts";

/** A stand-alone activation layer; a layer before it that can fuse it (Dense, Conv2d) takes it in instead. */
export class ActivationLayer implements Layer {
  /** `activation`: relu or tanh. */
  constructor(readonly activation: Exclude<ActivationName, "identity">) {}

  describe(): string {
    return this.activation;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend } = context;
    const output = activationTensors(context, this.activation, input.shape);
    const N = context.batch * input.shape.reduce((a, b) => a * b, 1);
    const forwardKernel = this.activation === "relu" ? kernels.relu_forward : kernels.tanh_forward;
    const backwardKernel = this.activation === "relu" ? kernels.relu_backward : kernels.tanh_backward;
    const forward = [backend.dispatch(forwardKernel, { x: input.value, y: output.value }, { N })];
    const backward = context.training && needsInputGrad
      ? [
        backend.dispatch(backwardKernel, { y_saved: output.value, dy: output.grad!, dx: input.grad! }, { N }),
      ]
      : [];
    return { output, forward, backward, parameters: [] };
  }
}

/** A ReLU layer. */
export const relu = (): Layer => new ActivationLayer("relu");
/** A tanh layer. */
export const tanh = (): Layer => new ActivationLayer("tanh");
