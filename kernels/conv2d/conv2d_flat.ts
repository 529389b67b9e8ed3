// TypeScript twins of kernels/conv2d/conv2d_flat.wgsl: same names, same index arithmetic, one shader
// thread per iteration of the three outer loops (samples, channels, positions).
import type { Constants } from "../../engine/backend.ts";
import { activate } from "../activation/activation.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

export function conv2d_forward_flat(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IC, OC, H, W } = c;
  const K = c.K ?? 5, ACT = c.ACT ?? 0, OH = H - K + 1, OW = W - K + 1;
  for (let n = 0; n < B; n++) {
    for (let oc = 0; oc < OC; oc++) {
      for (let p = 0; p < OH * OW; p++) {
        const oh = Math.floor(p / OW), ow = p % OW;
        let sum = b[oc];
        for (let ic = 0; ic < IC; ic++) {
          for (let kh = 0; kh < K; kh++) {
            const row = ((n * IC + ic) * H + oh + kh) * W + ow, taps = ((oc * IC + ic) * K + kh) * K;
            for (let kw = 0; kw < K; kw++) sum = Math.fround(sum + x[row + kw] * w[taps + kw]);
          }
        }
        y[((n * OC + oc) * OH + oh) * OW + ow] = activate(ACT, sum);
      }
    }
  }
}

export function conv2d_backward_input_flat(t: TwinBindings, c: Constants): void {
  const { g, w, dx } = t.f32;
  const { B, IC, OC, H, W } = c;
  const K = c.K ?? 5, PAD = c.PAD ?? 0, OH = H - K + 1, OW = W - K + 1;
  const GH = OH + 2 * PAD, GW = OW + 2 * PAD;
  for (let n = 0; n < B; n++) {
    for (let ic = 0; ic < IC; ic++) {
      for (let p = 0; p < H * W; p++) {
        const row = Math.floor(p / W), col = p % W;
        let sum = 0;
        for (let oc = 0; oc < OC; oc++) {
          for (let kh = 0; kh < K; kh++) {
            const at = ((n * OC + oc) * GH + row + PAD - kh) * GW + col + PAD;
            const taps = ((oc * IC + ic) * K + kh) * K;
            for (let kw = 0; kw < K; kw++) sum = Math.fround(sum + g[at - kw] * w[taps + kw]);
          }
        }
        dx[((n * IC + ic) * H + row) * W + col] = sum;
      }
    }
  }
}
