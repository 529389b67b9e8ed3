/** Dense layer, PyTorch's nn.Linear: y = act(x W^T + b), W [out, in]. */
import { UserError } from "../../engine/errors.ts";
import { type Dispatch, SLICE_ALIGNMENT_BYTES } from "../../engine/backend.ts";
import { ACT, type ActivationName } from "../../engine/constants.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  defaultInitialised,
  type Layer,
} from "./layer.ts";

/** A fully connected layer as PyTorch's nn.Linear, with an optional fused activation. */
export class Dense implements Layer {
  /** Parameters are named `${name}.weight` ([out, in]) and `${name}.bias`, as in PyTorch's state_dict. */
  constructor(
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    /** Folded into the kernels: identity, relu or tanh. */
    readonly activation: ActivationName = "identity",
  ) {}

  describe(): string {
    const act = this.activation === "identity" ? "" : ` ${this.activation}`;
    return `${this.name}: dense ${this.inFeatures}->${this.outFeatures}${act}`;
  }

  fuse(activation: ActivationName): Layer | undefined {
    return this.activation === "identity"
      ? new Dense(this.name, this.inFeatures, this.outFeatures, activation)
      : undefined;
  }

  /** Output rows per slice: as many as one binding may cover. */
  rowsPerSlice(maxBindingBytes: number): number {
    const rowBytes = this.inFeatures * 4;
    let rows = Math.max(1, Math.floor(maxBindingBytes / rowBytes));
    while (rows < this.outFeatures && (rows * rowBytes) % SLICE_ALIGNMENT_BYTES !== 0) rows--;
    return Math.min(rows, this.outFeatures);
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch: B, learningRate } = context;
    const IN = this.inFeatures, OUT_TOTAL = this.outFeatures;
    const inputLength = input.shape.reduce((a, b) => a * b, 1);
    if (inputLength !== IN) {
      throw new UserError(`${this.name} expects ${IN} inputs, gets ${input.shape.join("x")}`);
    }
    const weight = defaultInitialised(context, `${this.name}.weight`, [OUT_TOTAL, IN], IN);
    const bias = defaultInitialised(context, `${this.name}.bias`, [OUT_TOTAL], IN);
    const output = activationTensors(context, this.name, [OUT_TOTAL]);
    const forward: Dispatch[] = [], backward: Dispatch[] = [], backwardWeight: Dispatch[] = [];
    const ACT_CODE = ACT[this.activation];
    if (context.training && ACT_CODE !== ACT.identity) {
      // dy becomes g = dy * act'(y) in place, once, for both backward kernels below.
      backward.push(backend.dispatch(
        kernels.activation_gradient,
        { g: output.grad!, y_saved: output.value },
        { N: B * OUT_TOTAL, ACT: ACT_CODE },
      ));
    }
    // Each op's kernel for this shape is the registry's to choose (kernels/dense/registry.ts), or the tuner's.
    const rows = this.rowsPerSlice(backend.maxBindingBytes);
    for (let O0 = 0; O0 < OUT_TOTAL; O0 += rows) {
      const OUT = Math.min(rows, OUT_TOTAL - O0);
      const constants = { B, IN, OUT, OUT_TOTAL, O0, ACT: ACT_CODE, ACCUMULATE: O0 > 0 ? 1 : 0 };
      const w = { tensor: weight.value, offset: O0 * IN, length: OUT * IN };
      const b = { tensor: bias.value, offset: O0, length: OUT };
      const at = OUT < OUT_TOTAL ? ` rows ${O0}-${O0 + OUT - 1}` : "";
      forward.push(context.kernels.dispatch(
        `${this.name}${at} forward`,
        "dense_forward",
        { x: input.value, w, b, y: output.value },
        constants,
      ));
      if (!context.training) continue;
      if (needsInputGrad) {
        backward.push(context.kernels.dispatch(
          `${this.name}${at} input gradient`,
          "dense_backward_input",
          { g: output.grad!, w, dx: input.grad! },
          constants,
        ));
      }
      backwardWeight.push(
        context.kernels.dispatch(`${this.name}${at} weight gradient`, "dense_backward_weight", {
          x: input.value,
          g: output.grad!,
          w_train: w,
          b_train: b,
          grad_w: { tensor: weight.grad!, offset: O0 * IN, length: OUT * IN },
          grad_b: { tensor: bias.grad!, offset: O0, length: OUT },
          learning_rate: learningRate,
        }, constants),
      );
    }
    return { output, forward, backward: [...backward, ...backwardWeight], parameters: [weight, bias] };
  }
}
