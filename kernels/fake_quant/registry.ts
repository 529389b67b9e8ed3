/**
 * The fake-quantization family's registry entries: the observer (one workgroup of 64 lanes per
 * channel) and the element-wise kernels (one invocation per element, a long grid folded into y).
 */
import { defineKernel, type Kernel } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as fakeQuant from "./fake_quant.ts";

/** The family's kernels: every compute entry point of its shaders. */
export type FakeQuantKernelName = ShaderEntries["fake_quant.wgsl"];
/** N, QMIN and QMAX required; per tensor, affine, moving average (0.01) unless given. */
export type FakeQuantKernel = Kernel<
  ShaderOverrides["fake_quant.wgsl"],
  "CHANNELS" | "INNER" | "SYMMETRIC" | "OBSERVER" | "AVERAGING"
>;

const DEFAULTS = { CHANNELS: 1, INNER: 1, SYMMETRIC: 0, OBSERVER: 0, AVERAGING: 0.01 } as const;
/** Lanes of one observer workgroup (the shader's LANES). */
const OBSERVER_LANES = 64;

const elementWise = (entry: Exclude<FakeQuantKernelName, "fake_quant_observe">): FakeQuantKernel =>
  defineKernel({
    shader: "fake_quant.wgsl",
    entry,
    twin: fakeQuant[entry],
    op: entry,
    grid: (c) => [c.N, 1, 1],
    defaults: DEFAULTS,
    folds: true,
  });

/** The family's entries, by entry point. */
export type FakeQuantKernels = Readonly<Record<FakeQuantKernelName, FakeQuantKernel>>;

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
  fake_quant_forward: elementWise("fake_quant_forward"),
  fake_quant_backward: elementWise("fake_quant_backward"),
  fake_quant_sgd: elementWise("fake_quant_sgd"),
  fake_quant_copy: elementWise("fake_quant_copy"),
};
