/**
 * Every kernel the engine dispatches: its WGSL file and entry point (also the name of its
 * TypeScript twin in engine/cpu/) and how many invocations it needs for given shape constants.
 * The GPU rounds the grid up to whole workgroups; each kernel guards its own edges.
 */
import type { Constants } from "./backend.ts";

/** One kernel: its WGSL file and entry point (the twin's name too) and its grid for given constants. */
export interface Kernel {
  /** File in shaders/. */
  readonly shader: string;
  /** WGSL entry point, and the twin's function name. */
  readonly entry: string;
  /** Invocations along x, y, z. */
  readonly grid: (c: Constants) => readonly [number, number, number];
  /** A 1-D kernel that indexes with num_workgroups, so a long grid may fold into y. */
  readonly folds?: boolean;
}

const TILE = 4; // the dense kernels' register tile: 4 x 4 outputs per invocation
const WIDE = 16; // dense_vec4.wgsl's long side: 16 x 4 outputs per invocation
const flat = (shader: string, entry: string): Kernel => ({
  shader,
  entry,
  grid: (c) => [c.N, 1, 1],
  folds: true,
});

/**
 * Every kernel's name (its WGSL entry point), written out so the registry's type is explicit, as a
 * published module's must be: a new kernel is one more name here and one more entry below.
 */
export type KernelName =
  | "gather_batch"
  | "dense_forward"
  | "dense_backward_input"
  | "dense_backward_weight"
  | "dense_forward_vec4"
  | "dense_forward_vec4_batch16"
  | "dense_backward_input_vec4"
  | "dense_backward_weight_vec4"
  | "conv2d_forward"
  | "conv2d_preactivation_gradient"
  | "conv2d_backward_input"
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
  gather_batch: {
    shader: "data.wgsl",
    entry: "gather_batch",
    grid: (c) => [(c.C ?? 1) * (c.ROWS + 2 * (c.PAD ?? 0)) * (c.COLS + 2 * (c.PAD ?? 0)), c.B, 1],
  },
  dense_forward: {
    shader: "dense.wgsl",
    entry: "dense_forward",
    grid: (c) => [Math.ceil(c.OUT / TILE), Math.ceil(c.B / TILE), 1],
  },
  dense_backward_input: {
    shader: "dense.wgsl",
    entry: "dense_backward_input",
    grid: (c) => [Math.ceil(c.IN / TILE), Math.ceil(c.B / TILE), 1],
  },
  dense_backward_weight: {
    shader: "dense.wgsl",
    entry: "dense_backward_weight",
    // One more column of invocations for the biases.
    grid: (c) => [Math.ceil(c.IN / TILE) + 1, Math.ceil(c.OUT / TILE), 1],
  },
  dense_forward_vec4: {
    shader: "dense_vec4.wgsl",
    entry: "dense_forward_vec4",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / TILE), 1],
  },
  dense_forward_vec4_batch16: {
    shader: "dense_vec4.wgsl",
    entry: "dense_forward_vec4_batch16",
    grid: (c) => [Math.ceil(c.OUT / WIDE), Math.ceil(c.B / WIDE), 1],
  },
  dense_backward_input_vec4: {
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_input_vec4",
    grid: (c) => [Math.ceil(c.IN / WIDE), Math.ceil(c.B / TILE), 1],
  },
  dense_backward_weight_vec4: {
    shader: "dense_vec4.wgsl",
    entry: "dense_backward_weight_vec4",
    grid: (c) => [Math.ceil(c.IN / WIDE) + 1, Math.ceil(c.OUT / TILE), 1],
  },
  // Convolution: an invocation computes 4 channels x 4 positions of a row (TILE in conv2d.wgsl).
  conv2d_forward: {
    shader: "conv2d.wgsl",
    entry: "conv2d_forward",
    grid: (c) => {
      const OH = c.H - (c.K ?? 5) + 1, OW = c.W - (c.K ?? 5) + 1;
      return [Math.ceil(c.OC / 4) * OH * Math.ceil(OW / 4), c.B, 1];
    },
  },
  conv2d_preactivation_gradient: {
    shader: "conv2d.wgsl",
    entry: "conv2d_preactivation_gradient",
    grid: (c) => {
      const PAD = c.PAD ?? 0, OH = c.H - (c.K ?? 5) + 1, OW = c.W - (c.K ?? 5) + 1;
      return [c.OC * (OH + 2 * PAD) * (OW + 2 * PAD), c.B, 1];
    },
  },
  conv2d_backward_input: {
    shader: "conv2d.wgsl",
    entry: "conv2d_backward_input",
    grid: (c) => [Math.ceil(c.IC / 4) * c.H * Math.ceil(c.W / 4), c.B, 1],
  },
  conv2d_weight_partials: {
    shader: "conv2d.wgsl",
    entry: "conv2d_weight_partials",
    grid: (c) => {
      const K = c.K ?? 5, chunks = Math.ceil(c.B * (c.H - K + 1) / (c.ROWS ?? 1));
      return [Math.ceil(c.OC / 4) * K * c.IC * chunks, 1, 1];
    },
  },
  conv2d_backward_weight: {
    shader: "conv2d.wgsl",
    entry: "conv2d_backward_weight",
    grid: (c) => [c.IC * (c.K ?? 5) ** 2 + 1, c.OC, 1],
  },
  maxpool2d_forward: {
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_forward",
    grid: (c) => [Math.floor(c.H / 2) * Math.floor(c.W / 2), c.C, c.B],
  },
  maxpool2d_backward: {
    shader: "maxpool2d.wgsl",
    entry: "maxpool2d_backward",
    grid: (c) => [c.H * c.W, c.C, c.B],
  },
  relu_forward: flat("activation.wgsl", "relu_forward"),
  relu_backward: flat("activation.wgsl", "relu_backward"),
  tanh_forward: flat("activation.wgsl", "tanh_forward"),
  tanh_backward: flat("activation.wgsl", "tanh_backward"),
  activation_gradient: flat("activation.wgsl", "activation_gradient"),
  softmax_cross_entropy: { shader: "loss.wgsl", entry: "softmax_cross_entropy", grid: () => [1, 1, 1] },
};
