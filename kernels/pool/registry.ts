/** The pooling family's registry entries: 2x2 windows with stride 2, one invocation per output (forward) or input (backward). */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as avgpool2d from "./avgpool2d.ts";
import * as maxpool2d from "./maxpool2d.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type PoolKernelName = ShaderEntries["maxpool2d.wgsl" | "avgpool2d.wgsl"];

/** A pooling kernel: B, C, H, W, all required. */
export type PoolKernel = Kernel<ShaderOverrides["maxpool2d.wgsl"], never>;

/** The family's entries, by entry point. */
export type PoolKernels = Readonly<Record<PoolKernelName, PoolKernel>>;

/** The family's entries, by entry point. */
export const poolKernels: PoolKernels = {
  maxpool2d_forward: defineKernel({
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_forward",
    twin: maxpool2d.maxpool2d_forward,
    op: "maxpool2d_forward",
    grid: (c) => [Math.floor(c.H / 2) * Math.floor(c.W / 2), c.C, c.B],
  }),
  maxpool2d_backward: defineKernel({
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_backward",
    twin: maxpool2d.maxpool2d_backward,
    op: "maxpool2d_backward",
    grid: (c) => [c.H * c.W, c.C, c.B],
  }),
  avgpool2d_forward: defineKernel({
    shader: "avgpool2d.wgsl",
    entry: "avgpool2d_forward",
    twin: avgpool2d.avgpool2d_forward,
    op: "avgpool2d_forward",
    grid: (c) => [Math.floor(c.H / 2) * Math.floor(c.W / 2), c.C, c.B],
  }),
  avgpool2d_backward: defineKernel({
    shader: "avgpool2d.wgsl",
    entry: "avgpool2d_backward",
    twin: avgpool2d.avgpool2d_backward,
    op: "avgpool2d_backward",
    grid: (c) => [c.H * c.W, c.C, c.B],
  }),
};
