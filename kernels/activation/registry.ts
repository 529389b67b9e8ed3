/** The stand-alone activations' registry entries: element-wise, one invocation per element, a long grid folded into y. */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as activation from "./activation.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type ActivationKernelName = ShaderEntries["activation.wgsl"];
/** An element-wise kernel: N elements; ACT (identity unless given) only for activation_gradient. */
export type ActivationKernel = Kernel<ShaderOverrides["activation.wgsl"], "ACT">;

const elementWise = (entry: ActivationKernelName): ActivationKernel =>
  defineKernel({
    shader: "activation.wgsl",
    entry,
    twin: activation[entry],
    op: entry,
    grid: (c) => [c.N, 1, 1],
    defaults: { ACT: 0 },
    folds: true,
  });

/** The family's entries, by entry point. */
export type ActivationKernels = Readonly<Record<ActivationKernelName, ActivationKernel>>;

/** The family's entries, by entry point. */
export const activationKernels: ActivationKernels = {
  relu_forward: elementWise("relu_forward"),
  relu_backward: elementWise("relu_backward"),
  tanh_forward: elementWise("tanh_forward"),
  tanh_backward: elementWise("tanh_backward"),
  activation_gradient: elementWise("activation_gradient"),
};
