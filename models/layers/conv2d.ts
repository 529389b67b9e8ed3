/** Convolution layer, PyTorch's nn.Conv2d with stride 1 and no padding: y = act(x * W + b), NCHW. */
import type { Dispatch } from "../../engine/backend.ts";
import { ACT, type ActivationName } from "../../engine/cpu/activation.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  defaultInitialised,
  type Layer,
} from "./layer.ts";

export class Conv2d implements Layer {
  #activation: ActivationName = "identity";

  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
  ) {}

  describe(): string {
    const act = this.#activation === "identity" ? "" : ` ${this.#activation}`;
    const k = this.kernelSize;
    return `${this.name}: conv ${k}x${k} ${this.inChannels}->${this.outChannels}${act}`;
  }

  fuse(activation: ActivationName): boolean {
    if (this.#activation !== "identity") return false;
    this.#activation = activation;
    return true;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch: B, learningRate } = context;
    const IC = this.inChannels, OC = this.outChannels, K = this.kernelSize;
    const [channels, H, W] = input.shape;
    if (input.shape.length !== 3 || channels !== IC || H < K || W < K) {
      throw new Error(
        `${this.name} expects ${IC} channels of at least ${K}x${K}, gets ${input.shape.join("x")}`,
      );
    }
    const fanIn = IC * K * K;
    const weight = defaultInitialised(context, `${this.name}.weight`, [OC, IC, K, K], fanIn);
    const bias = defaultInitialised(context, `${this.name}.bias`, [OC], fanIn);
    const output = activationTensors(context, this.name, [OC, H - K + 1, W - K + 1]);
    const constants = { B, IC, OC, H, W, K, ACT: ACT[this.#activation] };
    const forward: Dispatch[] = [
      backend.dispatch(
        kernels.conv2d_forward,
        { x: input.value, w: weight.value, b: bias.value, y: output.value },
        constants,
      ),
    ];
    const backward: Dispatch[] = [];
    if (!context.training) return { output, forward, backward, parameters: [weight, bias] };
    if (needsInputGrad) {
      backward.push(backend.dispatch(
        kernels.conv2d_backward_input,
        { dy: output.grad!, y: output.value, w: weight.value, dx: input.grad! },
        constants,
      ));
    }
    backward.push(backend.dispatch(kernels.conv2d_backward_weight, {
      x: input.value,
      dy: output.grad!,
      y: output.value,
      w_train: weight.value,
      b_train: bias.value,
      grad_w: weight.grad!,
      grad_b: bias.grad!,
      learning_rate: learningRate,
    }, constants));
    return { output, forward, backward, parameters: [weight, bias] };
  }
}
