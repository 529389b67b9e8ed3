/** The pruning family's registry entry: one invocation per weight, a long grid folded into y. */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as prune from "./prune.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type PruneKernelName = ShaderEntries["prune.wgsl"];

/** The family's entries, by entry point. */
export type PruneKernels = Readonly<Record<PruneKernelName, Kernel<ShaderOverrides["prune.wgsl"], never>>>;

/** The family's entries, by entry point. */
export const pruneKernels: PruneKernels = {
  prune_apply_mask: defineKernel({
    shader: "prune.wgsl",
    entry: "prune_apply_mask",
    twin: prune.prune_apply_mask,
    op: "prune_apply_mask",
    grid: (c) => [c.N, 1, 1],
    folds: true,
  }),
};
