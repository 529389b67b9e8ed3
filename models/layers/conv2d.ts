/** Convolution layer, PyTorch's nn.Conv2d with stride 1 and no padding: y = act(x * W + b), NCHW. */
import type { Dispatch } from "../../engine/backend.ts";
import { ACT, type ActivationName, MAX_K } from "../../engine/constants.ts";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
import { rowsPerChunk } from "../../kernels/conv2d/registry.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  defaultInitialised,
  type Layer,
} from "./layer.ts";

/** 2-D convolution as PyTorch's nn.Conv2d: stride 1, no padding, square kernels, an optional fused activation. */
export class Conv2d implements Layer {
  /** Parameters are named `${name}.weight` and `${name}.bias`, as in PyTorch's state_dict. */
  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    /** Folded into the kernels: identity, relu or tanh. */
    readonly activation: ActivationName = "identity",
  ) {}

  describe(): string {
    const act = this.activation === "identity" ? "" : ` ${this.activation}`;
    const k = this.kernelSize;
    return `${this.name}: conv ${k}x${k} ${this.inChannels}->${this.outChannels}${act}`;
  }

  fuse(activation: ActivationName): Layer | undefined {
    return this.activation === "identity"
      ? new Conv2d(this.name, this.inChannels, this.outChannels, this.kernelSize, activation)
      : undefined;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch: B, learningRate } = context;
    const IC = this.inChannels, OC = this.outChannels, K = this.kernelSize;
    const [channels, H, W] = input.shape;
    if (input.shape.length !== 3 || channels !== IC || H < K || W < K) {
      throw new UserError(
        `${this.name} expects ${IC} channels of at least ${K}x${K}, gets ${input.shape.join("x")}`,
      );
    }
    if (K > MAX_K) {
      throw new UserError(`${this.name}: kernels larger than ${MAX_K}x${MAX_K} are not supported`);
    }
    const fanIn = IC * K * K;
    const weight = defaultInitialised(context, `${this.name}.weight`, [OC, IC, K, K], fanIn);
    const bias = defaultInitialised(context, `${this.name}.bias`, [OC], fanIn);
    const OH = H - K + 1, OW = W - K + 1;
    const output = activationTensors(context, this.name, [OC, OH, OW]);
    // g carries a zero border of K - 1 only where conv2d_backward_input reads it.
    const PAD = needsInputGrad ? K - 1 : 0;
    const ROWS = rowsPerChunk(B * OH, Math.ceil(OC / 4) * K * IC);
    const constants = { B, IC, OC, H, W, K, ACT: ACT[this.activation], PAD, ROWS };
    const forward: Dispatch[] = [
      context.kernels.dispatch(
        `${this.name} forward`,
        "conv2d_forward",
        { x: input.value, w: weight.value, b: bias.value, y: output.value },
        constants,
      ),
    ];
    const backward: Dispatch[] = [];
    if (!context.training) return { output, forward, backward, parameters: [weight, bias] };
    const g = backend.tensor(`${this.name}.g`, "f32", [B, OC, OH + 2 * PAD, OW + 2 * PAD]);
    const chunks = Math.ceil(B * OH / ROWS);
    const partial = backend.tensor(`${this.name}.partial`, "f32", [chunks, IC * K * K + 1, OC]);
    backward.push(backend.dispatch(
      kernels.conv2d_preactivation_gradient,
      { dy: output.grad!, y: output.value, g },
      constants,
    ));
    if (needsInputGrad) {
      backward.push(context.kernels.dispatch(
        `${this.name} input gradient`,
        "conv2d_backward_input",
        { g, w: weight.value, dx: input.grad! },
        constants,
      ));
    }
    backward.push(
      backend.dispatch(kernels.conv2d_weight_partials, { x: input.value, g, partial }, constants),
    );
    backward.push(backend.dispatch(kernels.conv2d_backward_weight, {
      partial,
      w_train: weight.value,
      b_train: bias.value,
      grad_w: weight.grad!,
      grad_b: bias.grad!,
      learning_rate: learningRate,
    }, constants));
    return { output, forward, backward, parameters: [weight, bias] };
  }
}
