/**
 * The fake-quantization family's registry entries: the observer (one workgroup of 64 lanes per
 * channel) and the element-wise kernels (one invocation per element, a long grid folded into y).
 */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as fakeQuant from "./fake_quant.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type FakeQuantKernelName = ShaderEntries["fake_quant.wgsl"];
/** The observer and the forward: N, QMIN and QMAX required; per tensor, affine, moving average (0.01) unless given. */
export type FakeQuantKernel = Kernel<
  ShaderOverrides["fake_quant.wgsl"],
  "CHANNELS" | "INNER" | "SYMMETRIC" | "OBSERVER" | "AVERAGING"
>;
/** The kernels that only move values (straight-through backward, SGD step, copy): N alone. */
export type FakeQuantElementKernel = Kernel<
  ShaderOverrides["fake_quant.wgsl"],
  "CHANNELS" | "INNER" | "SYMMETRIC" | "OBSERVER" | "AVERAGING" | "QMIN" | "QMAX"
>;

const DEFAULTS = { CHANNELS: 1, INNER: 1, SYMMETRIC: 0, OBSERVER: 0, AVERAGING: 0.01 } as const;
/** Lanes of one observer workgroup (the shader's LANES). */
const OBSERVER_LANES = 64;

const elementWise = <Optional extends ShaderOverrides["fake_quant.wgsl"]>(
  entry: Exclude<FakeQuantKernelName, "fake_quant_observe">,
  defaults: { readonly [N in Optional]: number },
): Kernel<ShaderOverrides["fake_quant.wgsl"], Optional> =>
  defineKernel({
    shader: "fake_quant.wgsl",
    entry,
    twin: fakeQuant[entry],
    op: entry,
    grid: (c) => [c.N, 1, 1],
    defaults,
    folds: true,
  });

/** QMIN and QMAX mean nothing to the kernels that only move values. */
const MOVE_DEFAULTS = { ...DEFAULTS, QMIN: 0, QMAX: 0 } as const;

/** The family's entries, by entry point. */
// A type, not an interface: the registry is read as a record of kernels, which an interface is not.
export type FakeQuantKernels = {
  /** Updates a point's range and turns it into a scale and zero point. */
  readonly fake_quant_observe: FakeQuantKernel;
  /** Quantises and dequantises, writing the straight-through mask. */
  readonly fake_quant_forward: FakeQuantKernel;
  /** dx = dy where not clipped. */
  readonly fake_quant_backward: FakeQuantElementKernel;
  /** The float weights' SGD step, where not clipped. */
  readonly fake_quant_sgd: FakeQuantElementKernel;
  /** y = x. */
  readonly fake_quant_copy: FakeQuantElementKernel;
};

/** The family's entries, by entry point. */
export const fakeQuantKernels: FakeQuantKernels = {
  fake_quant_observe: defineKernel({
    shader: "fake_quant.wgsl",
    entry: "fake_quant_observe",
    twin: fakeQuant.fake_quant_observe,
    op: "fake_quant_observe",
    grid: (c) => [c.CHANNELS * OBSERVER_LANES, 1, 1],
    defaults: DEFAULTS,
  }),
  fake_quant_forward: elementWise("fake_quant_forward", DEFAULTS),
  fake_quant_backward: elementWise("fake_quant_backward", MOVE_DEFAULTS),
  fake_quant_sgd: elementWise("fake_quant_sgd", MOVE_DEFAULTS),
  fake_quant_copy: elementWise("fake_quant_copy", MOVE_DEFAULTS),
};
