// TypeScript twins of shaders/conv2d.wgsl: same names, same index arithmetic, one shader
// invocation per iteration of the outer loops (samples, channels, positions).
import type { Constants } from "../backend.ts";
import type { TwinBindings } from "./twin.ts";
import { activate, activationSlope } from "./activation.ts";
import { scratch } from "./twin.ts";

function shape(c: Constants) {
  const { B, IC, OC, H, W } = c;
  const K = c.K ?? 5;
  return { B, IC, OC, H, W, K, OH: H - K + 1, OW: W - K + 1, ACT: c.ACT ?? 0 };
}

export function conv2d_forward(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IC, OC, H, W, K, OH, OW, ACT } = shape(c);
  for (let n = 0; n < B; n++) {
    for (let oc = 0; oc < OC; oc++) {
      for (let p = 0; p < OH * OW; p++) {
        const oh = Math.floor(p / OW), ow = p % OW;
        let sum = b[oc];
        for (let ic = 0; ic < IC; ic++) {
          for (let kh = 0; kh < K; kh++) {
            for (let kw = 0; kw < K; kw++) {
              sum += x[((n * IC + ic) * H + oh + kh) * W + ow + kw] * w[((oc * IC + ic) * K + kh) * K + kw];
            }
          }
        }
        y[((n * OC + oc) * OH + oh) * OW + ow] = activate(ACT, sum);
      }
    }
  }
}

export function conv2d_backward_input(t: TwinBindings, c: Constants): void {
  const { dy, y, w, dx } = t.f32;
  const { B, IC, OC, H, W, K, OH, OW, ACT } = shape(c);
  for (let n = 0; n < B; n++) {
    for (let ic = 0; ic < IC; ic++) {
      for (let p = 0; p < H * W; p++) {
        const row = Math.floor(p / W), col = p % W;
        let sum = 0;
        for (let oc = 0; oc < OC; oc++) {
          for (let kh = 0; kh < K; kh++) {
            if (kh > row || row - kh >= OH) continue;
            for (let kw = 0; kw < K; kw++) {
              if (kw > col || col - kw >= OW) continue;
              const at = ((n * OC + oc) * OH + row - kh) * OW + col - kw;
              sum += dy[at] * activationSlope(ACT, y[at]) * w[((oc * IC + ic) * K + kh) * K + kw];
            }
          }
        }
        dx[((n * IC + ic) * H + row) * W + col] = sum;
      }
    }
  }
}

export function conv2d_backward_weight(t: TwinBindings, c: Constants): void {
  const { x, dy, y, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IC, OC, H, W, K, OH, OW, ACT } = shape(c);
  const KK = IC * K * K;
  const lr = learning_rate[0];
  const g = scratch("conv2d.g", B * OH * OW);
  for (let oc = 0; oc < OC; oc++) {
    // The pre-activation gradient of channel oc is shared by the channel's KK + 1 invocations.
    for (let n = 0; n < B; n++) {
      for (let q = 0; q < OH * OW; q++) {
        const at = (n * OC + oc) * OH * OW + q;
        g[n * OH * OW + q] = dy[at] * activationSlope(ACT, y[at]);
      }
    }
    for (let k = 0; k <= KK; k++) {
      const ic = Math.floor(k / (K * K)), kh = Math.floor(k / K) % K, kw = k % K;
      let sum = 0;
      for (let n = 0; n < B; n++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const gn = g[(n * OH + oh) * OW + ow];
            sum += k < KK ? gn * x[((n * IC + ic) * H + oh + kh) * W + ow + kw] : gn;
          }
        }
      }
      if (k < KK) {
        grad_w[oc * KK + k] = sum;
        w_train[oc * KK + k] -= lr * sum;
      } else {
        grad_b[oc] = sum;
        b_train[oc] -= lr * sum;
      }
    }
  }
}
