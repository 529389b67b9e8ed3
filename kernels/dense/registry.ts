/**
 * The dense family's registry entries: today's register tiles (dense.wgsl), the vec4 tiles for
 * inputs that are a multiple of 4 wide (dense_vec4.wgsl), and the split-K variants shaped for a
 * discrete GPU (dense_reduce.wgsl). Variants of one op share bindings and constants.
 *
 * Untuned, an op runs the first variant listed that supports the shape and is preferred for it
 * (engine/kernels.ts defaultFor): the vec4 tiles where IN is a multiple of 4 (16 x 16 from a batch
 * of 16 on, where the grid stays wide enough), else the 4 x 4 tiles; the split-K variants only when
 * the tuner measures them faster.
 */
import { DENSE_TILE as TILE, DENSE_WIDE as WIDE, REDUCE_THREADS } from "../../engine/constants.ts";
import { type ConstantValues, defineKernel, type Kernel, tunedOnly } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as dense from "./dense.ts";
import * as denseReduce from "./dense_reduce.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type DenseKernelName = ShaderEntries["dense.wgsl" | "dense_vec4.wgsl" | "dense_reduce.wgsl"];
/** A dense kernel: B, IN, OUT required; a row slice (O0, OUT_TOTAL), ACT and ACCUMULATE optional. */
export type DenseKernel = Kernel<ShaderOverrides["dense.wgsl"], "OUT_TOTAL" | "O0" | "ACT" | "ACCUMULATE">;

// As the shaders' own defaults: a whole layer (OUT_TOTAL = OUT, O0 = 0), no activation, overwrite.
const DENSE_DEFAULTS = { OUT_TOTAL: "OUT", O0: 0, ACT: 0, ACCUMULATE: 0 } as const;
const vec4Inputs = (c: ConstantValues<ShaderOverrides["dense.wgsl"]>) => c.IN % 4 === 0;

/**
 * The fewest invocations a 16 x 16 tile variant is the default at: 2 workgroups of 16, so that its larger
 * tiles still leave work for both of llvmpipe's threads on a 2-core machine (measured at batch 64: LeNet-5's
 * fc2, 54 and 32 invocations, 1.09x-1.31x the 4 x 16 tiles' speed; mlp-300-100's fc3 input gradient, 28,
 * 0.87x-0.90x).
 */
const MIN_INVOCATIONS = 32;

/** The family's entries, by entry point. */
export type DenseKernels = Readonly<Record<DenseKernelName, DenseKernel>>;

/** The family's entries, by entry point. */
export const denseKernels: DenseKernels = {
  dense_forward_vec4_batch16: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_forward_vec4_batch16",
    twin: dense.dense_forward_vec4_batch16,
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / WIDE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
    // 16 samples a tile from a batch of 16 on; a smaller batch would leave most of each tile empty.
    preferred: (c) => c.B >= 16,
  }),
  dense_forward_vec4: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_forward_vec4",
    twin: dense.dense_forward_vec4,
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / TILE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_forward: defineKernel({
    shader: "dense.wgsl",
    entry: "dense_forward",
    twin: dense.dense_forward,
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / TILE), Math.ceil(c.B / TILE), 1],
    defaults: DENSE_DEFAULTS,
  }),
  dense_forward_reduce: defineKernel({
    shader: "dense_reduce.wgsl",
    entry: "dense_forward_reduce",
    twin: denseReduce.dense_forward_reduce,
    op: "dense_forward",
    grid: (c) => [c.OUT * REDUCE_THREADS, Math.ceil(c.B / 4), 1],
    defaults: DENSE_DEFAULTS,
    preferred: tunedOnly,
  }),
  dense_backward_input_vec4_batch16: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_input_vec4_batch16",
    twin: dense.dense_backward_input_vec4_batch16,
    op: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / WIDE), Math.ceil(c.B / WIDE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
    // As dense_forward_vec4_batch16, from a batch of 16 on, and where the grid keeps enough
    // invocations for every thread (measured: mlp-300-100's fc2 at batch 64, 76 invocations, 1.33x
    // dense_backward_input_vec4's speed).
    preferred: (c) => c.B >= 16 && Math.ceil(c.IN / WIDE) * Math.ceil(c.B / WIDE) >= MIN_INVOCATIONS,
  }),
  dense_backward_input_vec4: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_input_vec4",
    twin: dense.dense_backward_input_vec4,
    op: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / WIDE), Math.ceil(c.B / TILE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_backward_input: defineKernel({
    shader: "dense.wgsl",
    entry: "dense_backward_input",
    twin: dense.dense_backward_input,
    op: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / TILE), Math.ceil(c.B / TILE), 1],
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_input_reduce: defineKernel({
    shader: "dense_reduce.wgsl",
    entry: "dense_backward_input_reduce",
    twin: denseReduce.dense_backward_input_reduce,
    op: "dense_backward_input",
    // Workgroups of 16 features x 16 slices of the rows, per 4 samples.
    grid: (c) => [Math.ceil(c.IN / 16) * 16, 16 * Math.ceil(c.B / 4), 1],
    defaults: DENSE_DEFAULTS,
    preferred: tunedOnly,
  }),
  dense_backward_weight_vec4_rows16: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_weight_vec4_rows16",
    twin: dense.dense_backward_weight_vec4_rows16,
    op: "dense_backward_weight",
    // One more column of invocations for the biases.
    grid: (c) => [Math.ceil(c.IN / WIDE) + 1, Math.ceil(c.OUT / WIDE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
    // From a batch of 16 on (at batch 4, mlp-300-100's fc1 ran at 0.68x dense_backward_weight_vec4's
    // speed: the loop is too short to pay for 16 accumulators; at batch 64, 1.32x), and where the grid
    // keeps enough invocations for every thread (fc3, 8 invocations, 0.90x-0.99x).
    preferred: (c) => c.B >= 16 && (Math.ceil(c.IN / WIDE) + 1) * Math.ceil(c.OUT / WIDE) >= MIN_INVOCATIONS,
  }),
  dense_backward_weight_vec4: defineKernel({
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_weight_vec4",
    twin: dense.dense_backward_weight_vec4,
    op: "dense_backward_weight",
    grid: (c) => [Math.ceil(c.IN / WIDE) + 1, Math.ceil(c.OUT / TILE), 1],
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_backward_weight: defineKernel({
    shader: "dense.wgsl",
    entry: "dense_backward_weight",
    twin: dense.dense_backward_weight,
    op: "dense_backward_weight",
    // One more column of invocations for the biases.
    grid: (c) => [Math.ceil(c.IN / TILE) + 1, Math.ceil(c.OUT / TILE), 1],
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_weight_flat: defineKernel({
    shader: "dense_reduce.wgsl",
    entry: "dense_backward_weight_flat",
    twin: denseReduce.dense_backward_weight_flat,
    op: "dense_backward_weight",
    grid: (c) => [c.IN + 1, c.OUT, 1],
    defaults: DENSE_DEFAULTS,
    preferred: tunedOnly,
  }),
};
