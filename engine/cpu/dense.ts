// TypeScript twins of shaders/dense.wgsl: same names, same 4 x 4 register tiles, one shader
// invocation per iteration of the two outer loops. Clamped edge indices become loop bounds here.
import type { Constants } from "../backend.ts";
import type { TwinBindings } from "./twin.ts";
import { activate } from "./activation.ts";
import { scratch } from "./twin.ts";

const TILE = 4;

function sliceConstants(c: Constants) {
  return { OUT_TOTAL: c.OUT_TOTAL ?? c.OUT, O0: c.O0 ?? 0, ACT: c.ACT ?? 0 };
}

export function dense_forward(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const acc = scratch("dense.acc", TILE * TILE); // acc[j * 4 + i] = y[n0 + j, o0 + i]
  for (let o0 = 0; o0 < OUT; o0 += TILE) {
    const rows = Math.min(TILE, OUT - o0);
    for (let n0 = 0; n0 < B; n0 += TILE) {
      const samples = Math.min(TILE, B - n0);
      acc.fill(0);
      for (let k = 0; k < IN; k++) {
        for (let j = 0; j < samples; j++) {
          const xk = x[(n0 + j) * IN + k];
          for (let i = 0; i < rows; i++) acc[j * TILE + i] += xk * w[(o0 + i) * IN + k];
        }
      }
      for (let j = 0; j < samples; j++) {
        for (let i = 0; i < rows; i++) {
          y[(n0 + j) * OUT_TOTAL + O0 + o0 + i] = activate(ACT, acc[j * TILE + i] + b[o0 + i]);
        }
      }
    }
  }
}

export function dense_backward_input(t: TwinBindings, c: Constants): void {
  const { g, w, dx } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const accumulate = c.ACCUMULATE === 1;
  const acc = scratch("dense.acc", TILE * TILE); // acc[j * 4 + i] = dx[n0 + j, k0 + i]
  for (let k0 = 0; k0 < IN; k0 += TILE) {
    const features = Math.min(TILE, IN - k0);
    for (let n0 = 0; n0 < B; n0 += TILE) {
      const samples = Math.min(TILE, B - n0);
      acc.fill(0);
      for (let o = 0; o < OUT; o++) {
        for (let j = 0; j < samples; j++) {
          const go = g[(n0 + j) * OUT_TOTAL + O0 + o];
          for (let i = 0; i < features; i++) acc[j * TILE + i] += go * w[o * IN + k0 + i];
        }
      }
      for (let j = 0; j < samples; j++) {
        for (let i = 0; i < features; i++) {
          const at = (n0 + j) * IN + k0 + i;
          dx[at] = accumulate ? dx[at] + acc[j * TILE + i] : acc[j * TILE + i];
        }
      }
    }
  }
}

export function dense_backward_weight(t: TwinBindings, c: Constants): void {
  const { x, g, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0 } = sliceConstants(c);
  const lr = learning_rate[0];
  const acc = scratch("dense.acc", TILE * TILE); // acc[i * 4 + j] = dW[o0 + i, k0 + j]
  for (let o0 = 0; o0 < OUT; o0 += TILE) {
    const rows = Math.min(TILE, OUT - o0);
    for (let k0 = 0; k0 < IN + TILE; k0 += TILE) {
      if (k0 >= IN) { // the bias column
        for (let i = 0; i < rows; i++) {
          let sum = 0;
          for (let n = 0; n < B; n++) sum += g[n * OUT_TOTAL + O0 + o0 + i];
          grad_b[o0 + i] = sum;
          b_train[o0 + i] -= lr * sum;
        }
        continue;
      }
      const features = Math.min(TILE, IN - k0);
      acc.fill(0);
      for (let n = 0; n < B; n++) {
        for (let i = 0; i < rows; i++) {
          const gn = g[n * OUT_TOTAL + O0 + o0 + i];
          for (let j = 0; j < features; j++) acc[i * TILE + j] += gn * x[n * IN + k0 + j];
        }
      }
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < features; j++) {
          const at = (o0 + i) * IN + k0 + j;
          grad_w[at] = acc[i * TILE + j];
          w_train[at] -= lr * acc[i * TILE + j];
        }
      }
    }
  }
}
