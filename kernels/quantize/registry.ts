/**
 * The quantize family's registry entries: float <-> int8, the per-batch range of dynamic quantization,
 * the integer GEMM (dense layers, and convolutions over im2col patches) with and without
 * dot4I8Packed, and the int8 layers between GEMMs (im2col, max-pool, a 256-entry table for tanh).
 *
 * The dot4I8Packed variants need the adapter's packed_4x8_integer_dot_product language feature; a
 * caller picks them with `int8Gemm` (never the tuner: an op's variants must run on every adapter).
 */
import { type Backend, PACKED_INTEGER_DOT } from "../../engine/backend.ts";
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as dense from "./dense_int8.ts";
import * as ops from "./int8_ops.ts";
import * as quantize from "./quantize.ts";
import { wordsFor } from "./int8.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type QuantizeKernelName = ShaderEntries[
  "quantize.wgsl" | "dense_int8.wgsl" | "dense_int8_dot4.wgsl" | "int8_ops.wgsl"
];

/** An integer GEMM: B, IN4, OUT required; Y_ZP, RELU (int8 out), ACT (float out) optional. */
export type Int8GemmKernel = Kernel<ShaderOverrides["dense_int8.wgsl"], "Y_ZP" | "RELU" | "ACT">;

const GEMM_DEFAULTS = { Y_ZP: 0, RELU: 0, ACT: 0 } as const;
const gemmGrid = (c: { OUT: number; B: number }) => [wordsFor(c.OUT), Math.ceil(c.B / 4), 1] as const;

/** The family's entries, by entry point (a type, not an interface: the registry is read as a Record). */
export type QuantizeKernels = {
  readonly quantize_int8: Kernel<ShaderOverrides["quantize.wgsl"], "N">;
  readonly dequantize_int8: Kernel<ShaderOverrides["quantize.wgsl"], "N">;
  readonly dequantize_weights: Kernel<ShaderOverrides["quantize.wgsl"], "N" | "HW">;
  readonly int8_range_qparams: Kernel<ShaderOverrides["quantize.wgsl"], "B" | "C" | "HW">;
  readonly dense_int8: Int8GemmKernel;
  readonly dense_int8_float: Int8GemmKernel;
  readonly dense_int8_dot4: Int8GemmKernel;
  readonly dense_int8_float_dot4: Int8GemmKernel;
  readonly im2col_int8: Kernel<ShaderOverrides["int8_ops.wgsl"], "K" | "N">;
  readonly maxpool2d_int8: Kernel<ShaderOverrides["int8_ops.wgsl"], "K" | "N">;
  readonly lookup_int8: Kernel<ShaderOverrides["int8_ops.wgsl"], "B" | "H" | "W" | "K">;
};

/** The family's entries, by entry point. */
export const quantizeKernels: QuantizeKernels & Readonly<Record<QuantizeKernelName, Kernel>> = {
  quantize_int8: defineKernel({
    shader: "quantize.wgsl",
    entry: "quantize_int8",
    twin: quantize.quantize_int8,
    op: "quantize_int8",
    grid: (c) => [c.B * c.HW * wordsFor(c.C), 1, 1],
    defaults: { N: 0 },
    folds: true,
  }),
  dequantize_int8: defineKernel({
    shader: "quantize.wgsl",
    entry: "dequantize_int8",
    twin: quantize.dequantize_int8,
    op: "dequantize_int8",
    grid: (c) => [c.B * c.C * c.HW, 1, 1],
    defaults: { N: 0 },
    folds: true,
  }),
  dequantize_weights: defineKernel({
    shader: "quantize.wgsl",
    entry: "dequantize_weights",
    twin: quantize.dequantize_weights,
    op: "dequantize_weights",
    grid: (c) => [c.B * c.C, 1, 1],
    defaults: { N: 0, HW: 1 },
    folds: true,
  }),
  int8_range_qparams: defineKernel({
    shader: "quantize.wgsl",
    entry: "int8_range_qparams",
    twin: quantize.int8_range_qparams,
    op: "int8_range_qparams",
    // One workgroup strides over the whole tensor.
    grid: () => [64, 1, 1],
    defaults: { B: 1, C: 1, HW: 1 },
  }),
  dense_int8: defineKernel({
    shader: "dense_int8.wgsl",
    entry: "dense_int8",
    twin: dense.dense_int8,
    op: "dense_int8",
    grid: gemmGrid,
    defaults: GEMM_DEFAULTS,
  }),
  dense_int8_float: defineKernel({
    shader: "dense_int8.wgsl",
    entry: "dense_int8_float",
    twin: dense.dense_int8_float,
    op: "dense_int8_float",
    grid: gemmGrid,
    defaults: GEMM_DEFAULTS,
  }),
  dense_int8_dot4: defineKernel({
    shader: "dense_int8_dot4.wgsl",
    entry: "dense_int8_dot4",
    twin: dense.dense_int8_dot4,
    op: "dense_int8 with dot4I8Packed",
    grid: gemmGrid,
    defaults: GEMM_DEFAULTS,
  }),
  dense_int8_float_dot4: defineKernel({
    shader: "dense_int8_dot4.wgsl",
    entry: "dense_int8_float_dot4",
    twin: dense.dense_int8_float_dot4,
    op: "dense_int8_float with dot4I8Packed",
    grid: gemmGrid,
    defaults: GEMM_DEFAULTS,
  }),
  im2col_int8: defineKernel({
    shader: "int8_ops.wgsl",
    entry: "im2col_int8",
    twin: ops.im2col_int8,
    op: "im2col_int8",
    grid: (c) => [c.B * (c.H - c.K + 1) * (c.W - c.K + 1) * wordsFor(c.K * c.K * c.C), 1, 1],
    defaults: { K: 1, N: 1 },
    folds: true,
  }),
  maxpool2d_int8: defineKernel({
    shader: "int8_ops.wgsl",
    entry: "maxpool2d_int8",
    twin: ops.maxpool2d_int8,
    op: "maxpool2d_int8",
    grid: (c) => [c.B * Math.floor(c.H / 2) * Math.floor(c.W / 2) * wordsFor(c.C), 1, 1],
    defaults: { K: 1, N: 1 },
    folds: true,
  }),
  lookup_int8: defineKernel({
    shader: "int8_ops.wgsl",
    entry: "lookup_int8",
    twin: ops.lookup_int8,
    op: "lookup_int8",
    grid: (c) => [c.N, 1, 1],
    defaults: { B: 1, H: 1, W: 1, K: 1 },
    folds: true,
  }),
};

/** The integer GEMM a backend runs: with dot4I8Packed where it has the language feature, by shifts where not. */
export function int8Gemm(backend: Backend, output: "int8" | "float"): Int8GemmKernel {
  const packed = backend.languageFeatures.has(PACKED_INTEGER_DOT);
  if (output === "int8") return packed ? quantizeKernels.dense_int8_dot4 : quantizeKernels.dense_int8;
  return packed ? quantizeKernels.dense_int8_float_dot4 : quantizeKernels.dense_int8_float;
}
