// TypeScript twins of shaders/dense.wgsl: same names, same index arithmetic, one shader
// invocation per iteration of the outer loops.
import type { Constants } from "../backend.ts";
import type { TwinBindings } from "./twin.ts";
import { activate, activationSlope } from "./activation.ts";
import { scratch } from "./twin.ts";

const NB = 4;

function sliceConstants(c: Constants) {
  return { OUT_TOTAL: c.OUT_TOTAL ?? c.OUT, O0: c.O0 ?? 0, ACT: c.ACT ?? 0 };
}

export function dense_forward(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const acc = scratch("dense.acc", NB);
  for (let o = 0; o < OUT; o++) {
    for (let n0 = 0; n0 < B; n0 += NB) {
      const count = Math.min(NB, B - n0);
      acc.fill(b[o]);
      for (let k = 0; k < IN; k++) {
        const wk = w[o * IN + k];
        for (let j = 0; j < count; j++) acc[j] += x[(n0 + j) * IN + k] * wk;
      }
      for (let j = 0; j < count; j++) y[(n0 + j) * OUT_TOTAL + O0 + o] = activate(ACT, acc[j]);
    }
  }
}

export function dense_backward_input(t: TwinBindings, c: Constants): void {
  const { dy, y, w, dx } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const accumulate = c.ACCUMULATE === 1;
  const acc = scratch("dense.acc", NB);
  for (let k = 0; k < IN; k++) {
    for (let n0 = 0; n0 < B; n0 += NB) {
      const count = Math.min(NB, B - n0);
      acc.fill(0);
      for (let o = 0; o < OUT; o++) {
        const wk = w[o * IN + k];
        for (let j = 0; j < count; j++) {
          const at = (n0 + j) * OUT_TOTAL + O0 + o;
          acc[j] += dy[at] * activationSlope(ACT, y[at]) * wk;
        }
      }
      for (let j = 0; j < count; j++) {
        const at = (n0 + j) * IN + k;
        dx[at] = accumulate ? dx[at] + acc[j] : acc[j];
      }
    }
  }
}

export function dense_backward_weight(t: TwinBindings, c: Constants): void {
  const { x, dy, y, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IN, OUT } = c;
  const { OUT_TOTAL, O0, ACT } = sliceConstants(c);
  const lr = learning_rate[0];
  const g = scratch("dense.g", B);
  for (let o = 0; o < OUT; o++) {
    // The pre-activation gradient of row o is shared by the row's IN + 1 invocations.
    for (let n = 0; n < B; n++) {
      const at = n * OUT_TOTAL + O0 + o;
      g[n] = dy[at] * activationSlope(ACT, y[at]);
    }
    for (let k = 0; k <= IN; k++) {
      let sum = 0;
      for (let n = 0; n < B; n++) sum += k < IN ? g[n] * x[n * IN + k] : g[n];
      if (k < IN) {
        grad_w[o * IN + k] = sum;
        w_train[o * IN + k] -= lr * sum;
      } else {
        grad_b[o] = sum;
        b_train[o] -= lr * sum;
      }
    }
  }
}
