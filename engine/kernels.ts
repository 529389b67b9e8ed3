/**
 * The kernel contract: every kernel the engine dispatches, declared once. An entry names its WGSL
 * file and entry point, its TypeScript twin (same name, same index arithmetic), the operation it
 * computes, its grid (invocations for given shape constants; the GPU rounds up to whole
 * workgroups and each kernel guards its own edges), its workgroup geometry (checked against the
 * shader's @workgroup_size when its pipeline is built) and its default constants.
 *
 * A variant (another tiling, a split-K reduction) is one more entry with the same `op`: variants
 * of one op share their bindings and constants and compute the same values, summed in another
 * order. `variantsOf` lists them for the tuner (engine/tuner.ts); the first listed is the default.
 */
import type { Constants } from "./backend.ts";
import { CONV_TILE, DENSE_TILE as TILE, DENSE_WIDE as WIDE, REDUCE_THREADS } from "./constants.ts";
import type { Twin } from "./cpu/twin.ts";
import * as activation from "../kernels/activation/activation.ts";
import * as conv2d from "../kernels/conv2d/conv2d.ts";
import * as conv2dFlat from "../kernels/conv2d/conv2d_flat.ts";
import * as data from "../kernels/gather/gather.ts";
import * as dense from "../kernels/dense/dense.ts";
import * as denseReduce from "../kernels/dense/dense_reduce.ts";
import * as loss from "../kernels/loss/loss.ts";
import * as maxpool2d from "../kernels/pool/maxpool2d.ts";

/** One kernel's contract: shader, entry point, twin, op, grid, workgroup geometry, defaults. */
export interface Kernel {
  /** Its WGSL file, by name (kernels/FAMILY/NAME.wgsl). */
  readonly shader: string;
  /** WGSL entry point, and the twin's function name. */
  readonly entry: string;
  /** The TypeScript twin. */
  readonly twin: Twin;
  /** What it computes; kernels with the same op are variants of one another. */
  readonly op: string;
  /** Invocations along x, y, z, for the constants with the defaults filled in. */
  readonly grid: (c: Constants) => readonly [number, number, number];
  /** The shader's @workgroup_size. */
  readonly workgroup: readonly [number, number, number];
  /** Constants a caller may leave out. */
  readonly defaults?: Constants;
  /** Whether the kernel computes this shape (a vec4 kernel needs IN % 4 == 0); all if absent. */
  readonly supports?: (c: Constants) => boolean;
  /** A 1-D kernel that indexes with num_workgroups, so a long grid may fold into y. */
  readonly folds?: boolean;
}

/** The constants with the kernel's defaults filled in. */
export function withDefaults(kernel: Kernel, constants: Constants): Constants {
  return kernel.defaults ? { ...kernel.defaults, ...constants } : constants;
}

const DENSE_DEFAULTS = { O0: 0, ACT: 0, ACCUMULATE: 0 };
const CONV_DEFAULTS = { K: 5, ACT: 0, PAD: 0, ROWS: 1 };
const WG64 = [64, 1, 1] as const;
const WG16 = [16, 1, 1] as const;
const vec4Inputs = (c: Constants) => c.IN % 4 === 0;
const outputSize = (c: Constants) => [c.H - c.K + 1, c.W - c.K + 1] as const;

function entry(
  shader: string,
  name: string,
  twins: Record<string, unknown>,
  rest: Omit<Kernel, "shader" | "entry" | "twin">,
): Kernel {
  const twin = twins[name];
  if (typeof twin !== "function") throw new Error(`kernel ${name} has no twin in engine/cpu/`);
  return { shader, entry: name, twin: twin as Twin, ...rest };
}

const flat = (name: string): Kernel =>
  entry("activation.wgsl", name, activation, {
    op: name,
    grid: (c) => [c.N, 1, 1],
    workgroup: WG64,
    defaults: name === "activation_gradient" ? { ACT: 0 } : undefined,
    folds: true,
  });

/**
 * Every kernel's name (its WGSL entry point), written out so the registry's type is explicit, as a
 * published module's must be: a new kernel or variant is one more name here and one more entry below.
 */
export type KernelName =
  | "gather_batch"
  | "dense_forward"
  | "dense_forward_vec4"
  | "dense_forward_vec4_batch16"
  | "dense_forward_reduce"
  | "dense_backward_input"
  | "dense_backward_input_vec4"
  | "dense_backward_input_reduce"
  | "dense_backward_weight"
  | "dense_backward_weight_vec4"
  | "dense_backward_weight_flat"
  | "conv2d_forward"
  | "conv2d_forward_flat"
  | "conv2d_preactivation_gradient"
  | "conv2d_backward_input"
  | "conv2d_backward_input_flat"
  | "conv2d_weight_partials"
  | "conv2d_backward_weight"
  | "maxpool2d_forward"
  | "maxpool2d_backward"
  | "relu_forward"
  | "relu_backward"
  | "tanh_forward"
  | "tanh_backward"
  | "activation_gradient"
  | "softmax_cross_entropy";

/** Every kernel the engine dispatches, by entry point. */
export const kernels: Readonly<Record<KernelName, Kernel>> = {
  gather_batch: entry("gather.wgsl", "gather_batch", data, {
    op: "gather_batch",
    grid: (c) => [c.C * (c.ROWS + 2 * c.PAD) * (c.COLS + 2 * c.PAD), c.B, 1],
    workgroup: WG64,
    defaults: { PAD: 0, C: 1 },
  }),
  // Dense forward: today's register tiles first, then the variants the tuner may choose.
  dense_forward: entry("dense.wgsl", "dense_forward", dense, {
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / TILE), Math.ceil(c.B / TILE), 1],
    workgroup: WG64,
    defaults: DENSE_DEFAULTS,
  }),
  dense_forward_vec4: entry("dense_vec4.wgsl", "dense_forward_vec4", dense, {
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / TILE), 1],
    workgroup: WG16,
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_forward_vec4_batch16: entry("dense_vec4.wgsl", "dense_forward_vec4_batch16", dense, {
    op: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / WIDE), 1],
    workgroup: WG16,
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_forward_reduce: entry("dense_reduce.wgsl", "dense_forward_reduce", denseReduce, {
    op: "dense_forward",
    grid: (c) => [c.OUT * REDUCE_THREADS, Math.ceil(c.B / 4), 1],
    workgroup: WG64,
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_input: entry("dense.wgsl", "dense_backward_input", dense, {
    op: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / TILE), Math.ceil(c.B / TILE), 1],
    workgroup: WG64,
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_input_vec4: entry("dense_vec4.wgsl", "dense_backward_input_vec4", dense, {
    op: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / WIDE), Math.ceil(c.B / TILE), 1],
    workgroup: WG16,
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_backward_input_reduce: entry("dense_reduce.wgsl", "dense_backward_input_reduce", denseReduce, {
    op: "dense_backward_input",
    // Workgroups of 16 features x 16 slices of the rows, per 4 samples.
    grid: (c) => [Math.ceil(c.IN / 16) * 16, 16 * Math.ceil(c.B / 4), 1],
    workgroup: [16, 16, 1],
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_weight: entry("dense.wgsl", "dense_backward_weight", dense, {
    op: "dense_backward_weight",
    // One more column of invocations for the biases.
    grid: (c) => [Math.ceil(c.IN / TILE) + 1, Math.ceil(c.OUT / TILE), 1],
    workgroup: WG64,
    defaults: DENSE_DEFAULTS,
  }),
  dense_backward_weight_vec4: entry("dense_vec4.wgsl", "dense_backward_weight_vec4", dense, {
    op: "dense_backward_weight",
    grid: (c) => [Math.ceil(c.IN / WIDE) + 1, Math.ceil(c.OUT / TILE), 1],
    workgroup: WG16,
    defaults: DENSE_DEFAULTS,
    supports: vec4Inputs,
  }),
  dense_backward_weight_flat: entry("dense_reduce.wgsl", "dense_backward_weight_flat", denseReduce, {
    op: "dense_backward_weight",
    grid: (c) => [c.IN + 1, c.OUT, 1],
    workgroup: WG64,
    defaults: DENSE_DEFAULTS,
  }),
  // Convolution: an invocation computes 4 channels x CONV_TILE positions of a row.
  conv2d_forward: entry("conv2d.wgsl", "conv2d_forward", conv2d, {
    op: "conv2d_forward",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [Math.ceil(c.OC / 4) * OH * Math.ceil(OW / CONV_TILE), c.B, 1];
    },
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_forward_flat: entry("conv2d_flat.wgsl", "conv2d_forward_flat", conv2dFlat, {
    op: "conv2d_forward",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [OH * OW, c.OC, c.B];
    },
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_preactivation_gradient: entry("conv2d.wgsl", "conv2d_preactivation_gradient", conv2d, {
    op: "conv2d_preactivation_gradient",
    grid: (c) => {
      const [OH, OW] = outputSize(c);
      return [c.OC * (OH + 2 * c.PAD) * (OW + 2 * c.PAD), c.B, 1];
    },
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_input: entry("conv2d.wgsl", "conv2d_backward_input", conv2d, {
    op: "conv2d_backward_input",
    grid: (c) => [Math.ceil(c.IC / 4) * c.H * Math.ceil(c.W / CONV_TILE), c.B, 1],
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_input_flat: entry("conv2d_flat.wgsl", "conv2d_backward_input_flat", conv2dFlat, {
    op: "conv2d_backward_input",
    grid: (c) => [c.H * c.W, c.IC, c.B],
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_weight_partials: entry("conv2d.wgsl", "conv2d_weight_partials", conv2d, {
    op: "conv2d_weight_partials",
    grid: (c) => {
      const [OH] = outputSize(c), chunks = Math.ceil(c.B * OH / c.ROWS);
      return [Math.ceil(c.OC / 4) * c.K * c.IC * chunks, 1, 1];
    },
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  conv2d_backward_weight: entry("conv2d.wgsl", "conv2d_backward_weight", conv2d, {
    op: "conv2d_backward_weight",
    grid: (c) => [c.IC * c.K ** 2 + 1, c.OC, 1],
    workgroup: WG64,
    defaults: CONV_DEFAULTS,
  }),
  maxpool2d_forward: entry("maxpool2d.wgsl", "maxpool2d_forward", maxpool2d, {
    op: "maxpool2d_forward",
    grid: (c) => [Math.floor(c.H / 2) * Math.floor(c.W / 2), c.C, c.B],
    workgroup: WG64,
  }),
  maxpool2d_backward: entry("maxpool2d.wgsl", "maxpool2d_backward", maxpool2d, {
    op: "maxpool2d_backward",
    grid: (c) => [c.H * c.W, c.C, c.B],
    workgroup: WG64,
  }),
  relu_forward: flat("relu_forward"),
  relu_backward: flat("relu_backward"),
  tanh_forward: flat("tanh_forward"),
  tanh_backward: flat("tanh_backward"),
  activation_gradient: flat("activation_gradient"),
  softmax_cross_entropy: entry("loss.wgsl", "softmax_cross_entropy", loss, {
    op: "softmax_cross_entropy",
    grid: () => [1, 1, 1],
    workgroup: WG64,
    defaults: { CLASSES: 10 },
  }),
};

/** Every registered kernel that computes `op` for these constants, the registry's order. */
export function variantsOf(op: string, constants: Constants): Kernel[] {
  return Object.values(kernels).filter((k) =>
    k.op === op && (k.supports?.(withDefaults(k, constants)) ?? true)
  );
}
