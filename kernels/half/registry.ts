/**
 * The half-precision family's registry entries: the f16 dense and convolution forwards (half.wgsl,
 * shader-f16) and the same without the feature (half_unpack.wgsl). Each pair computes the same values;
 * which one runs is the device's to say (`halfDenseKernel`, `halfConv2dKernel`), not a tuner's: four
 * ops, so that no tuner times an f16 kernel on a device without shader-f16.
 */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as half from "./half.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type HalfKernelName = ShaderEntries["half.wgsl" | "half_unpack.wgsl"];
/** An f16 dense forward: B, IN, OUT; ACT optional. */
export type HalfDenseKernel = Kernel<ShaderOverrides["half.wgsl"], "IC" | "OC" | "H" | "W" | "K" | "ACT">;
/** An f16 convolution forward: B, IC, OC, H, W, K; ACT optional. */
export type HalfConv2dKernel = Kernel<ShaderOverrides["half.wgsl"], "IN" | "OUT" | "ACT">;

/** The family's entries, by entry point. */
export type HalfKernels = {
  readonly half_dense_forward: HalfDenseKernel;
  readonly half_dense_forward_unpack: HalfDenseKernel;
  readonly half_conv2d_forward: HalfConv2dKernel;
  readonly half_conv2d_forward_unpack: HalfConv2dKernel;
};

// The other kernel's shape constants, unused.
const DENSE_DEFAULTS = { IC: 0, OC: 0, H: 0, W: 0, K: 0, ACT: 0 } as const;
const CONV_DEFAULTS = { IN: 0, OUT: 0, ACT: 0 } as const;

/** One invocation per output word (two outputs). */
const words = (outputs: number) => [Math.ceil(outputs / 2), 1, 1] as const;
const convOutputs = (c: { B: number; OC: number; H: number; W: number; K: number }) =>
  c.B * c.OC * (c.H - c.K + 1) * (c.W - c.K + 1);

/** The family's entries, by entry point. */
export const halfKernels: HalfKernels = {
  half_dense_forward: defineKernel({
    shader: "half.wgsl",
    entry: "half_dense_forward",
    twin: half.half_dense_forward,
    op: "half_dense_forward",
    grid: (c) => words(c.B * c.OUT),
    defaults: DENSE_DEFAULTS,
  }),
  half_dense_forward_unpack: defineKernel({
    shader: "half_unpack.wgsl",
    entry: "half_dense_forward_unpack",
    twin: half.half_dense_forward_unpack,
    op: "half_dense_forward_unpack",
    grid: (c) => words(c.B * c.OUT),
    defaults: DENSE_DEFAULTS,
  }),
  half_conv2d_forward: defineKernel({
    shader: "half.wgsl",
    entry: "half_conv2d_forward",
    twin: half.half_conv2d_forward,
    op: "half_conv2d_forward",
    grid: (c) => words(convOutputs(c)),
    defaults: CONV_DEFAULTS,
  }),
  half_conv2d_forward_unpack: defineKernel({
    shader: "half_unpack.wgsl",
    entry: "half_conv2d_forward_unpack",
    twin: half.half_conv2d_forward_unpack,
    op: "half_conv2d_forward_unpack",
    grid: (c) => words(convOutputs(c)),
    defaults: CONV_DEFAULTS,
  }),
};

/** The f16 dense forward a device runs: with shader-f16 where it has it, else unpacking in float32. */
export function halfDenseKernel(hasShaderF16: boolean): HalfDenseKernel {
  return hasShaderF16 ? halfKernels.half_dense_forward : halfKernels.half_dense_forward_unpack;
}

/** The f16 convolution forward a device runs, chosen as `halfDenseKernel`'s. */
export function halfConv2dKernel(hasShaderF16: boolean): HalfConv2dKernel {
  return hasShaderF16 ? halfKernels.half_conv2d_forward : halfKernels.half_conv2d_forward_unpack;
}
