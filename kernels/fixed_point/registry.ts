/**
 * The fixed-point family's registry entries: the Qm.n neuron layer and tanh (fixed_point.wgsl), and the
 * quantize / dequantize pair between float32 and any integer format (affine_quantize.wgsl). One kernel
 * per op: integer results are exact, so there is nothing for a tuner to choose between.
 */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as affine from "./affine_quantize.ts";
import * as fixed from "./fixed_point.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type FixedPointKernelName = ShaderEntries["fixed_point.wgsl" | "affine_quantize.wgsl"];

/** The family's entries, by entry point (a type literal: the registry's union needs an index signature). */
export type FixedPointKernels = {
  /** y = saturate(round((b 2^n + x W^T) / 2^n)), ReLU with ACT = 1: B, IN, OUT, FRAC (n), BITS (m + n). */
  readonly fixed_dense_forward: Kernel<ShaderOverrides["fixed_point.wgsl"], "ACT" | "ROUNDING" | "SEED">;
  /** tanh of a [B, OUT] Qm.n tensor through tanh_table (fixedTanhTable). */
  readonly fixed_tanh: Kernel<ShaderOverrides["fixed_point.wgsl"], "IN" | "ACT" | "ROUNDING" | "SEED">;
  /** float32 to integers: N, QMIN, QMAX; CHANNELS and INNER for per-channel scales; ROUNDING, SEED. */
  readonly quantize_affine: Kernel<
    ShaderOverrides["affine_quantize.wgsl"],
    "CHANNELS" | "INNER" | "ROUNDING" | "SEED"
  >;
  /** Integers to float32: N; CHANNELS and INNER for per-channel scales. */
  readonly dequantize_affine: Kernel<
    ShaderOverrides["affine_quantize.wgsl"],
    "CHANNELS" | "INNER" | "QMIN" | "QMAX" | "ROUNDING" | "SEED"
  >;
};

const ROUNDING_DEFAULTS = { ROUNDING: 0, SEED: 0 } as const;
const PER_TENSOR = { CHANNELS: 1, INNER: 1 } as const;

/** The family's entries, by entry point. */
export const fixedPointKernels: FixedPointKernels = {
  fixed_dense_forward: defineKernel({
    shader: "fixed_point.wgsl",
    entry: "fixed_dense_forward",
    twin: fixed.fixed_dense_forward,
    op: "fixed_dense_forward",
    grid: (c) => [c.OUT, c.B, 1],
    defaults: { ACT: 0, ...ROUNDING_DEFAULTS },
  }),
  fixed_tanh: defineKernel({
    shader: "fixed_point.wgsl",
    entry: "fixed_tanh",
    twin: fixed.fixed_tanh,
    op: "fixed_tanh",
    grid: (c) => [c.OUT, c.B, 1],
    // IN, ACT and rounding belong to the dense kernel of the same shader: tanh rounds to nearest.
    defaults: { IN: 0, ACT: 0, ...ROUNDING_DEFAULTS },
  }),
  quantize_affine: defineKernel({
    shader: "affine_quantize.wgsl",
    entry: "quantize_affine",
    twin: affine.quantize_affine,
    op: "quantize_affine",
    grid: (c) => [c.N, 1, 1],
    defaults: { ...PER_TENSOR, ...ROUNDING_DEFAULTS },
    folds: true,
  }),
  dequantize_affine: defineKernel({
    shader: "affine_quantize.wgsl",
    entry: "dequantize_affine",
    twin: affine.dequantize_affine,
    op: "dequantize_affine",
    grid: (c) => [c.N, 1, 1],
    // The range and rounding only matter when quantizing.
    defaults: { ...PER_TENSOR, QMIN: 0, QMAX: 0, ...ROUNDING_DEFAULTS },
    folds: true,
  }),
};
