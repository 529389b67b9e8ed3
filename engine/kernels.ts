/**
 * Every kernel the engine dispatches: its WGSL file and entry point (also the name of its
 * TypeScript twin in engine/cpu/) and how many invocations it needs for given shape constants.
 * The GPU rounds the grid up to whole workgroups; each kernel guards its own edges.
 */
import type { Constants } from "./backend.ts";

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

const NB = 4; // samples per invocation in the dense kernels
const flat = (shader: string, entry: string): Kernel => ({
  shader,
  entry,
  grid: (c) => [c.N, 1, 1],
  folds: true,
});

export const kernels = {
  gather_batch: {
    shader: "data.wgsl",
    entry: "gather_batch",
    grid: (c) => [(c.ROWS + 2 * (c.PAD ?? 0)) * (c.COLS + 2 * (c.PAD ?? 0)), c.B, 1],
  },
  dense_forward: {
    shader: "dense.wgsl",
    entry: "dense_forward",
    grid: (c) => [c.OUT, Math.ceil(c.B / NB), 1],
  },
  dense_backward_input: {
    shader: "dense.wgsl",
    entry: "dense_backward_input",
    grid: (c) => [c.IN, Math.ceil(c.B / NB), 1],
  },
  dense_backward_weight: {
    shader: "dense.wgsl",
    entry: "dense_backward_weight",
    grid: (c) => [c.IN + 1, c.OUT, 1],
  },
  relu_forward: flat("activation.wgsl", "relu_forward"),
  relu_backward: flat("activation.wgsl", "relu_backward"),
  tanh_forward: flat("activation.wgsl", "tanh_forward"),
  tanh_backward: flat("activation.wgsl", "tanh_backward"),
  softmax_cross_entropy: { shader: "loss.wgsl", entry: "softmax_cross_entropy", grid: () => [1, 1, 1] },
} satisfies Record<string, Kernel>;
