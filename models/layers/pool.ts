/**
 * 2x2 pooling with stride 2, as PyTorch's nn.MaxPool2d(2) and nn.AvgPool2d(2): an odd last row or
 * column is dropped.
 * A pooling layer is one class that differs only in the pool family's kernels it names.
 */
import { UserError } from "../../engine/errors.ts";
import type { Bindings, Dispatch } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import type { PoolKernel } from "../../kernels/pool/registry.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  type Layer,
} from "./layer.ts";

/** A pooling layer's kernels, and whether its backward reads the input (max does, to find each maximum). */
interface PoolPair {
  readonly forward: PoolKernel;
  readonly backward: PoolKernel;
  readonly backwardReadsInput: boolean;
}

/** The pooling layers, by the name `describe()` gives them. */
export type PoolKind = "maxpool" | "avgpool";

/** Each pooling layer's kernels. */
const POOLS: Readonly<Record<PoolKind, PoolPair>> = {
  maxpool: {
    forward: kernels.maxpool2d_forward,
    backward: kernels.maxpool2d_backward,
    backwardReadsInput: true,
  },
  avgpool: {
    forward: kernels.avgpool2d_forward,
    backward: kernels.avgpool2d_backward,
    backwardReadsInput: false,
  },
};

/** 2x2 pooling with stride 2 by one of the pool family's kernel pairs. */
export class Pool2d implements Layer {
  /** `name` labels its tensors; `kind` names its kernels. */
  constructor(readonly name: string, readonly kind: PoolKind) {}

  describe(): string {
    return `${this.name}: ${this.kind} 2x2`;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch: B } = context;
    const [C, H, W] = input.shape;
    if (input.shape.length !== 3 || H < 2 || W < 2) {
      throw new UserError(
        `${this.name} expects channels x height x width of at least 2x2, gets ${input.shape.join("x")}`,
      );
    }
    const pool = POOLS[this.kind];
    const output = activationTensors(context, this.name, [C, Math.floor(H / 2), Math.floor(W / 2)]);
    const constants = { B, C, H, W };
    const forward = [backend.dispatch(pool.forward, { x: input.value, y: output.value }, constants)];
    const backward: Dispatch[] = [];
    if (context.training && needsInputGrad) {
      const bindings: Bindings = { dy: output.grad!, dx: input.grad! };
      backward.push(
        backend.dispatch(
          pool.backward,
          pool.backwardReadsInput ? { x: input.value, ...bindings } : bindings,
          constants,
        ),
      );
    }
    return { output, forward, backward, parameters: [] };
  }
}

/** 2x2 max pooling with stride 2, as PyTorch's max_pool2d(2, 2). */
export class MaxPool2d extends Pool2d {
  /** `name` labels its tensors. */
  constructor(name: string) {
    super(name, "maxpool");
  }
}

/** 2x2 average pooling with stride 2, as PyTorch's avg_pool2d(2, 2): LeNet-5's original subsampling. */
export class AvgPool2d extends Pool2d {
  /** `name` labels its tensors. */
  constructor(name: string) {
    super(name, "avgpool");
  }
}
