/** The loss's registry entry: one workgroup computes the whole batch's softmax cross-entropy and its gradient. */
import { type Kernel, WG64 } from "../../engine/kernel.ts";
import type { ShaderEntries } from "../../engine/webgpu/wgsl.generated.ts";
import * as loss from "./loss.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type LossKernelName = ShaderEntries["loss.wgsl"];

/** The family's entries, by entry point. */
export const lossKernels: Readonly<Record<LossKernelName, Kernel>> = {
  softmax_cross_entropy: {
    shader: "loss.wgsl",
    entry: "softmax_cross_entropy",
    twin: loss.softmax_cross_entropy,
    op: "softmax_cross_entropy",
    grid: () => [1, 1, 1],
    workgroup: WG64,
    defaults: { CLASSES: 10 },
  },
};
