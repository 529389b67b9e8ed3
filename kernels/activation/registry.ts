/** The stand-alone activations' registry entries: element-wise, one invocation per element, a long grid folded into y. */
import type { Twin } from "../../engine/cpu/twin.ts";
import { type Kernel, WG64 } from "../../engine/kernel.ts";
import type { ShaderEntries } from "../../engine/webgpu/wgsl.generated.ts";
import * as activation from "./activation.ts";

const elementWise = (twin: Twin, defaults?: Kernel["defaults"]): Kernel => ({
  shader: "activation.wgsl",
  entry: twin.name,
  twin,
  op: twin.name,
  grid: (c) => [c.N, 1, 1],
  workgroup: WG64,
  defaults,
  folds: true,
});

/** The family's kernels: every compute entry point of its shaders. */
export type ActivationKernelName = ShaderEntries["activation.wgsl"];

/** The family's entries, by entry point. */
export const activationKernels: Readonly<Record<ActivationKernelName, Kernel>> = {
  relu_forward: elementWise(activation.relu_forward),
  relu_backward: elementWise(activation.relu_backward),
  tanh_forward: elementWise(activation.tanh_forward),
  tanh_backward: elementWise(activation.tanh_backward),
  activation_gradient: elementWise(activation.activation_gradient, { ACT: 0 }),
};
