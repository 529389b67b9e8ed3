/** The loss's registry entry: one workgroup computes the whole batch's softmax cross-entropy and its gradient. */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as loss from "./loss.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type LossKernelName = ShaderEntries["loss.wgsl"];

/** The loss kernel: B required, CLASSES 10 unless given. */
export type LossKernel = Kernel<ShaderOverrides["loss.wgsl"], "CLASSES">;

/** The family's entries, by entry point. */
export type LossKernels = Readonly<Record<LossKernelName, LossKernel>>;

/** The family's entries, by entry point. */
export const lossKernels: LossKernels = {
  softmax_cross_entropy: defineKernel({
    shader: "loss.wgsl",
    entry: "softmax_cross_entropy",
    twin: loss.softmax_cross_entropy,
    op: "softmax_cross_entropy",
    grid: () => [1, 1, 1],
    defaults: { CLASSES: 10 },
  }),
};
