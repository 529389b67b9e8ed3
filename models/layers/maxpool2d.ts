/** 2x2 max pooling with stride 2, PyTorch's nn.MaxPool2d(2): an odd last row or column is dropped. */
import { UserError } from "../../engine/errors.ts";
import type { Dispatch } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  type Layer,
} from "./layer.ts";

/** 2x2 max pooling with stride 2, as PyTorch's max_pool2d(2, 2). */
export class MaxPool2d implements Layer {
  /** `name` labels its tensors. */
  constructor(readonly name: string) {}

  describe(): string {
    return `${this.name}: maxpool 2x2`;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch: B } = context;
    const [C, H, W] = input.shape;
    if (input.shape.length !== 3 || H < 2 || W < 2) {
      throw new UserError(
        `${this.name} expects channels x height x width of at least 2x2, gets ${input.shape.join("x")}`,
      );
    }
    const output = activationTensors(context, this.name, [C, Math.floor(H / 2), Math.floor(W / 2)]);
    const constants = { B, C, H, W };
    const forward = [
      backend.dispatch(kernels.maxpool2d_forward, { x: input.value, y: output.value }, constants),
    ];
    const backward: Dispatch[] = context.training && needsInputGrad
      ? [
        backend.dispatch(
          kernels.maxpool2d_backward,
          { x: input.value, dy: output.grad!, dx: input.grad! },
          constants,
        ),
      ]
      : [];
    return { output, forward, backward, parameters: [] };
  }
}
