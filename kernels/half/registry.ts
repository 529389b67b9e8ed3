/**
 * The half-precision family's registry entries: the f16 dense forward (half_dense.wgsl, shader-f16) and
 * the same without the feature (half_dense_unpack.wgsl). They compute the same values; which one runs
 * is the device's to say (`halfDenseKernel`), not a tuner's: two ops, so that no tuner times the f16
 * one on a device without shader-f16.
 */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as half from "./half.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type HalfKernelName = ShaderEntries["half_dense.wgsl" | "half_dense_unpack.wgsl"];
/** An f16 dense forward: B, IN, OUT; ACT optional. */
export type HalfDenseKernel = Kernel<ShaderOverrides["half_dense.wgsl"], "ACT">;

/** The family's entries, by entry point. */
export type HalfKernels = Readonly<Record<HalfKernelName, HalfDenseKernel>>;

/** One invocation per output word (two outputs). */
const grid = (c: { B: number; OUT: number }) => [Math.ceil((c.B * c.OUT) / 2), 1, 1] as const;

/** The family's entries, by entry point. */
export const halfKernels: HalfKernels = {
  half_dense_forward: defineKernel({
    shader: "half_dense.wgsl",
    entry: "half_dense_forward",
    twin: half.half_dense_forward,
    op: "half_dense_forward",
    grid,
    defaults: { ACT: 0 },
  }),
  half_dense_forward_unpack: defineKernel({
    shader: "half_dense_unpack.wgsl",
    entry: "half_dense_forward_unpack",
    twin: half.half_dense_forward_unpack,
    op: "half_dense_forward_unpack",
    grid,
    defaults: { ACT: 0 },
  }),
};

/** The f16 dense forward a device runs: with shader-f16 where it has it, else unpacking in float32. */
export function halfDenseKernel(hasShaderF16: boolean): HalfDenseKernel {
  return hasShaderF16 ? halfKernels.half_dense_forward : halfKernels.half_dense_forward_unpack;
}
