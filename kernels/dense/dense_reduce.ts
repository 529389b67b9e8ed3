// TypeScript twins of kernels/dense/dense_reduce.wgsl: same names, same index arithmetic. One
// iteration of the outer loops is one workgroup (dense_forward_reduce, dense_backward_input_reduce)
// or one thread (dense_backward_weight_flat); a workgroup's threads are an inner loop writing the
// same shared partial sums, added up in the shader's tree order.
import type { Constants } from "../../engine/backend.ts";
import { REDUCE_THREADS as THREADS } from "../../engine/constants.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { activate } from "../activation/activation.ts";
import { scratch } from "../../engine/cpu/twin.ts";

const SLICES = 16;

function sliceConstants(c: Constants) {
  return { OUT_TOTAL: c.OUT_TOTAL ?? c.OUT, O0: c.O0 ?? 0, ACT: c.ACT ?? 0 };
}

/** Adds partial[t + stride] (4 lanes each) into partial[t] for halving strides, as the shader's tree. */
function tree(partial: Float32Array, count: number, step: number): void {
  for (let stride = count >> 1; stride > 0; stride >>= 1) {
    for (let t = 0; t < stride; t++) {
      for (let j = 0; j < 4; j++) partial[t * step * 4 + j] += partial[(t + stride) * step * 4 + j];
    }
  }
}

export function dense_forward_reduce(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const partial = scratch("dense_reduce.partial", THREADS * 4);
  for (let o = 0; o < OUT; o++) {
    for (let n0 = 0; n0 < B; n0 += 4) {
      const s = [0, 1, 2, 3].map((j) => Math.min(n0 + j, B - 1) * IN);
      for (let th = 0; th < THREADS; th++) {
        for (let j = 0; j < 4; j++) partial[th * 4 + j] = 0;
        for (let k = th; k < IN; k += THREADS) {
          for (let j = 0; j < 4; j++) partial[th * 4 + j] += w[o * IN + k] * x[s[j] + k];
        }
      }
      tree(partial, THREADS, 1);
      for (let j = 0; j < 4 && n0 + j < B; j++) {
        y[(n0 + j) * OUT_TOTAL + O0 + o] = activate(ACT, partial[j] + b[o]);
      }
    }
  }
}

export function dense_backward_input_reduce(t: TwinBindings, c: Constants): void {
  const { g, w, dx } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const accumulate = c.ACCUMULATE === 1;
  const partial = scratch("dense_reduce.partial", SLICES * 4);
  for (let k = 0; k < IN; k++) {
    for (let n0 = 0; n0 < B; n0 += 4) {
      const s = [0, 1, 2, 3].map((j) => Math.min(n0 + j, B - 1) * OUT_TOTAL + O0);
      for (let slice = 0; slice < SLICES; slice++) {
        for (let j = 0; j < 4; j++) partial[slice * 4 + j] = 0;
        for (let o = slice; o < OUT; o += SLICES) {
          for (let j = 0; j < 4; j++) partial[slice * 4 + j] += w[o * IN + k] * g[s[j] + o];
        }
      }
      tree(partial, SLICES, 1);
      for (let j = 0; j < 4 && n0 + j < B; j++) {
        const at = (n0 + j) * IN + k;
        dx[at] = (accumulate ? dx[at] : 0) + partial[j];
      }
    }
  }
}

export function dense_backward_weight_flat(t: TwinBindings, c: Constants): void {
  const { x, g, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const lr = learning_rate[0];
  for (let o = 0; o < OUT; o++) {
    for (let k = 0; k <= IN; k++) {
      let sum = 0;
      if (k === IN) {
        for (let n = 0; n < B; n++) sum = Math.fround(sum + g[n * OUT_TOTAL + O0 + o]);
        grad_b[o] = sum;
        b_train[o] -= lr * sum;
        continue;
      }
      for (let n = 0; n < B; n++) sum = Math.fround(sum + g[n * OUT_TOTAL + O0 + o] * x[n * IN + k]);
      grad_w[o * IN + k] = sum;
      w_train[o * IN + k] -= lr * sum;
    }
  }
}
