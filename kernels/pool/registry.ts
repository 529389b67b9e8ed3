/** The pooling family's registry entries: 2x2 windows with stride 2, one invocation per output (forward) or input (backward). */
import { type Kernel, WG64 } from "../../engine/kernel.ts";
import type { ShaderEntries } from "../../engine/webgpu/wgsl.generated.ts";
import * as maxpool2d from "./maxpool2d.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type PoolKernelName = ShaderEntries["maxpool2d.wgsl"];

/** The family's entries, by entry point. */
export const poolKernels: Readonly<Record<PoolKernelName, Kernel>> = {
  maxpool2d_forward: {
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_forward",
    twin: maxpool2d.maxpool2d_forward,
    op: "maxpool2d_forward",
    grid: (c) => [Math.floor(c.H / 2) * Math.floor(c.W / 2), c.C, c.B],
    workgroup: WG64,
  },
  maxpool2d_backward: {
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_backward",
    twin: maxpool2d.maxpool2d_backward,
    op: "maxpool2d_backward",
    grid: (c) => [c.H * c.W, c.C, c.B],
    workgroup: WG64,
  },
};
