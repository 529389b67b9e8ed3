// TypeScript twins of kernels/dense/dense.wgsl and kernels/dense/dense_vec4.wgsl: same names, same tiles
// (one shader invocation per iteration of the two outer loops); the two files differ only in
// tile size, so each twin is one tiled loop nest called with its shader's tile.
// Clamped edge indices in the shaders are shorter loops here.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { activate } from "../activation/activation.ts";
import { scratch } from "../../engine/cpu/twin.ts";

function sliceConstants(c: Constants) {
  return { OUT_TOTAL: c.OUT_TOTAL ?? c.OUT, O0: c.O0 ?? 0, ACT: c.ACT ?? 0 };
}

/** y = act(x W^T + b) in tiles of ROWS output rows x SAMPLES samples. */
function forwardTiles(t: TwinBindings, c: Constants, ROWS: number, SAMPLES: number): void {
  const { x, w, b, y } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const acc = scratch("dense.acc", ROWS * SAMPLES); // acc[j * ROWS + i] = y[n0 + j, o0 + i]
  for (let o0 = 0; o0 < OUT; o0 += ROWS) {
    const rows = Math.min(ROWS, OUT - o0);
    for (let n0 = 0; n0 < B; n0 += SAMPLES) {
      const samples = Math.min(SAMPLES, B - n0);
      acc.fill(0);
      for (let k = 0; k < IN; k++) {
        for (let j = 0; j < samples; j++) {
          const xk = x[(n0 + j) * IN + k];
          for (let i = 0; i < rows; i++) acc[j * ROWS + i] += xk * w[(o0 + i) * IN + k];
        }
      }
      for (let j = 0; j < samples; j++) {
        for (let i = 0; i < rows; i++) {
          y[(n0 + j) * OUT_TOTAL + O0 + o0 + i] = activate(ACT, acc[j * ROWS + i] + b[o0 + i]);
        }
      }
    }
  }
}

/** dx = g W in tiles of FEATURES input features x SAMPLES samples. */
function backwardInputTiles(t: TwinBindings, c: Constants, FEATURES: number, SAMPLES: number): void {
  const { g, w, dx } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const accumulate = c.ACCUMULATE === 1;
  const acc = scratch("dense.acc", FEATURES * SAMPLES); // acc[j * FEATURES + i] = dx[n0 + j, k0 + i]
  for (let k0 = 0; k0 < IN; k0 += FEATURES) {
    const features = Math.min(FEATURES, IN - k0);
    for (let n0 = 0; n0 < B; n0 += SAMPLES) {
      const samples = Math.min(SAMPLES, B - n0);
      acc.fill(0);
      for (let o = 0; o < OUT; o++) {
        for (let j = 0; j < samples; j++) {
          const go = g[(n0 + j) * OUT_TOTAL + O0 + o];
          for (let i = 0; i < features; i++) acc[j * FEATURES + i] += go * w[o * IN + k0 + i];
        }
      }
      for (let j = 0; j < samples; j++) {
        for (let i = 0; i < features; i++) {
          const at = (n0 + j) * IN + k0 + i;
          dx[at] = accumulate ? dx[at] + acc[j * FEATURES + i] : acc[j * FEATURES + i];
        }
      }
    }
  }
}

/**
 * dW = g^T x and db = sum of g over the batch, in tiles of ROWS rows x FEATURES input features,
 * plus a last column of tiles for the biases; keeps the gradients and takes the SGD step.
 */
function backwardWeightTiles(t: TwinBindings, c: Constants, ROWS: number, FEATURES: number): void {
  const { x, g, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const lr = learning_rate[0];
  const acc = scratch("dense.acc", ROWS * FEATURES); // acc[i * FEATURES + j] = dW[o0 + i, k0 + j]
  for (let o0 = 0; o0 < OUT; o0 += ROWS) {
    const rows = Math.min(ROWS, OUT - o0);
    for (let k0 = 0; k0 < IN + FEATURES; k0 += FEATURES) {
      if (k0 >= IN) { // the bias column
        for (let i = 0; i < rows; i++) {
          let sum = 0;
          for (let n = 0; n < B; n++) sum += g[n * OUT_TOTAL + O0 + o0 + i];
          grad_b[o0 + i] = sum;
          b_train[o0 + i] -= lr * sum;
        }
        continue;
      }
      const features = Math.min(FEATURES, IN - k0);
      acc.fill(0);
      for (let n = 0; n < B; n++) {
        for (let i = 0; i < rows; i++) {
          const gn = g[n * OUT_TOTAL + O0 + o0 + i];
          for (let j = 0; j < features; j++) acc[i * FEATURES + j] += gn * x[n * IN + k0 + j];
        }
      }
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < features; j++) {
          const at = (o0 + i) * IN + k0 + j;
          grad_w[at] = acc[i * FEATURES + j];
          w_train[at] -= lr * acc[i * FEATURES + j];
        }
      }
    }
  }
}

export const dense_forward = (t: TwinBindings, c: Constants) => forwardTiles(t, c, 4, 4);
export const dense_backward_input = (t: TwinBindings, c: Constants) => backwardInputTiles(t, c, 4, 4);
export const dense_backward_weight = (t: TwinBindings, c: Constants) => backwardWeightTiles(t, c, 4, 4);
export const dense_forward_vec4 = (t: TwinBindings, c: Constants) => forwardTiles(t, c, 16, 4);
export const dense_forward_vec4_batch16 = (t: TwinBindings, c: Constants) => forwardTiles(t, c, 16, 16);
export const dense_backward_input_vec4 = (t: TwinBindings, c: Constants) => backwardInputTiles(t, c, 16, 4);
export const dense_backward_weight_vec4 = (t: TwinBindings, c: Constants) => backwardWeightTiles(t, c, 4, 16);
export const dense_backward_input_vec4_batch16 = (t: TwinBindings, c: Constants) =>
  backwardInputTiles(t, c, 16, 16);
export const dense_backward_weight_vec4_rows16 = (t: TwinBindings, c: Constants) =>
  backwardWeightTiles(t, c, 16, 16);
