/**
 * The convolution family's registry entries: register tiles for a software adapter (conv2d.wgsl:
 * an invocation computes 4 channels x CONV_TILE positions of a row) and one thread per output for
 * a discrete GPU (conv2d_flat.wgsl), with the same bindings and constants.
 */
import { CONV_TILE } from "../../engine/constants.ts";
import { type ConstantValues, defineKernel, type Kernel, tunedOnly } from "../../engine/kernel.ts";
import type { ShaderEntries, ShaderOverrides } from "../../engine/webgpu/wgsl.generated.ts";
import * as conv2d from "./conv2d.ts";
import * as conv2dFlat from "./conv2d_flat.ts";

/** A convolution kernel: B, IC, OC, H, W required; K, ACT, PAD and ROWS optional. */
export type Conv2dKernel = Kernel<ShaderOverrides["conv2d.wgsl"], "K" | "ACT" | "PAD" | "ROWS">;

const CONV_DEFAULTS = { K: 5, ACT: 0, PAD: 0, ROWS: 1 };
const outputSize = (c: ConstantValues<ShaderOverrides["conv2d.wgsl"]>) =>
  [c.H - c.K + 1, c.W - c.K + 1] as const;

/** The family's kernels: every compute entry point of its shaders. */
export type Conv2dKernelName = ShaderEntries["conv2d.wgsl" | "conv2d_flat.wgsl"];

/** The family's entries, by entry point. */
export type Conv2dKernels = Readonly<Record<Conv2dKernelName, Conv2dKernel>>;

/** The family's entries, by entry point. */
export const conv2dKernels: Conv2dKernels = {
  conv2d_forward: defineKernel({
    shader: "conv2d.wgsl",
    entry: "conv2d_forward",
    twin: conv2d.conv2d_forward,
    op: "conv2d_forward",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [Math.ceil(c.OC / 4) * OH * Math.ceil(OW / CONV_TILE), c.B, 1];
    },
    defaults: CONV_DEFAULTS,
  }),
  conv2d_forward_flat: defineKernel({
    shader: "conv2d_flat.wgsl",
    entry: "conv2d_forward_flat",
    twin: conv2dFlat.conv2d_forward_flat,
    op: "conv2d_forward",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [OH * OW, c.OC, c.B];
    },
    defaults: CONV_DEFAULTS,
    preferred: tunedOnly,
  }),
  conv2d_preactivation_gradient: defineKernel({
    shader: "conv2d.wgsl",
    entry: "conv2d_preactivation_gradient",
    twin: conv2d.conv2d_preactivation_gradient,
    op: "conv2d_preactivation_gradient",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [c.OC * (OH + 2 * c.PAD) * (OW + 2 * c.PAD), c.B, 1];
    },
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_input: defineKernel({
    shader: "conv2d.wgsl",
    entry: "conv2d_backward_input",
    twin: conv2d.conv2d_backward_input,
    op: "conv2d_backward_input",
    grid: (c) => [Math.ceil(c.IC / 4) * c.H * Math.ceil(c.W / CONV_TILE), c.B, 1],
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_input_flat: defineKernel({
    shader: "conv2d_flat.wgsl",
    entry: "conv2d_backward_input_flat",
    twin: conv2dFlat.conv2d_backward_input_flat,
    op: "conv2d_backward_input",
    grid: (c) => [c.H * c.W, c.IC, c.B],
    defaults: CONV_DEFAULTS,
    preferred: tunedOnly,
  }),
  conv2d_weight_partials: defineKernel({
    shader: "conv2d.wgsl",
    entry: "conv2d_weight_partials",
    twin: conv2d.conv2d_weight_partials,
    op: "conv2d_weight_partials",
    grid: (c) => {
      const [OH] = outputSize(c), chunks = Math.ceil(c.B * OH / c.ROWS);
      return [Math.ceil(c.OC / 4) * c.K * c.IC * chunks, 1, 1];
    },
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_weight: defineKernel({
    shader: "conv2d.wgsl",
    entry: "conv2d_backward_weight",
    twin: conv2d.conv2d_backward_weight,
    op: "conv2d_backward_weight",
    grid: (c) => [c.IC * c.K ** 2 + 1, c.OC, 1],
    defaults: CONV_DEFAULTS,
  }),
};

/**
 * Output rows (n, oh) per conv2d_weight_partials invocation (its ROWS): enough chunks that the
 * reduction runs as about 256 invocations (the software adapter's threads each take whole
 * workgroups of 64), and no more, since conv2d_backward_weight then adds the chunks up serially.
 */
export function rowsPerChunk(rows: number, invocationsPerChunk: number): number {
  const chunks = Math.min(rows, Math.ceil(256 / invocationsPerChunk));
  return Math.ceil(rows / chunks);
}
