/** The gather's registry entry: one invocation per pixel of the padded batch. */
import { type Kernel, WG64 } from "../../engine/kernel.ts";
import type { ShaderEntries } from "../../engine/webgpu/wgsl.generated.ts";
import * as gather from "./gather.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type GatherKernelName = ShaderEntries["gather.wgsl"];

/** The family's entries, by entry point. */
export const gatherKernels: Readonly<Record<GatherKernelName, Kernel>> = {
  gather_batch: {
    shader: "gather.wgsl",
    entry: "gather_batch",
    twin: gather.gather_batch,
    op: "gather_batch",
    grid: (c) => [c.C * (c.ROWS + 2 * c.PAD) * (c.COLS + 2 * c.PAD), c.B, 1],
    workgroup: WG64,
    defaults: { PAD: 0, C: 1 },
  },
};
