/** The gather's registry entry: one invocation per pixel of the padded batch. */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as gather from "./gather.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type GatherKernelName = ShaderEntries["gather.wgsl"];

/** The gather kernel: B, COUNT, ROWS, COLS required; one channel, no padding, byte images unless given. */
export type GatherKernel = Kernel<ShaderOverrides["gather.wgsl"], "C" | "PAD" | "F32">;

/** The family's entries, by entry point. */
export type GatherKernels = Readonly<Record<GatherKernelName, GatherKernel>>;

/** The family's entries, by entry point. */
export const gatherKernels: GatherKernels = {
  gather_batch: defineKernel({
    shader: "gather.wgsl",
    entry: "gather_batch",
    twin: gather.gather_batch,
    op: "gather_batch",
    grid: (c) => [c.C * (c.ROWS + 2 * c.PAD) * (c.COLS + 2 * c.PAD), c.B, 1],
    defaults: { PAD: 0, C: 1, F32: 0 },
  }),
};
