// TypeScript twins of kernels/conv2d/conv2d.wgsl: same names, same index arithmetic, one shader
// invocation per iteration of the outer loops. A vec4 of the shader is 4 consecutive entries of a
// scratch array here; the shader's clamped loads of lanes it discards are skipped.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { activate, activationSlope } from "../activation/activation.ts";
import { scratch } from "../../engine/cpu/twin.ts";
import { CONV_TILE as TILE, MAX_K } from "../../engine/constants.ts";

function shape(c: Constants) {
  const { B, IC, OC, H, W } = c;
  const K = c.K ?? 5, PAD = c.PAD ?? 0, OH = H - K + 1, OW = W - K + 1;
  return {
    B,
    IC,
    OC,
    H,
    W,
    K,
    OH,
    OW,
    PAD,
    GH: OH + 2 * PAD,
    GW: OW + 2 * PAD,
    ACT: c.ACT ?? 0,
    ROWS: c.ROWS ?? 1,
  };
}

export function conv2d_forward(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.f32;
  const { B, IC, OC, H, W, K, OH, OW, ACT } = shape(c);
  const TILES = Math.ceil(OW / TILE);
  const acc = scratch("conv2d.acc", TILE * 4);
  for (let n = 0; n < B; n++) {
    for (let i = 0; i < Math.ceil(OC / 4) * OH * TILES; i++) {
      const ow0 = (i % TILES) * TILE, oh = Math.floor(i / TILES) % OH, oc0 = Math.floor(i / (TILES * OH)) * 4;
      const channels = Math.min(4, OC - oc0), columns = Math.min(TILE, OW - ow0);
      for (let t = 0; t < TILE; t++) {
        for (let q = 0; q < channels; q++) acc[t * 4 + q] = b[oc0 + q];
      }
      for (let ic = 0; ic < IC; ic++) {
        for (let kh = 0; kh < K; kh++) {
          const row = ((n * IC + ic) * H + oh + kh) * W + ow0;
          for (let kw = 0; kw < K; kw++) {
            for (let q = 0; q < channels; q++) {
              const wv = w[((oc0 + q) * IC + ic) * K * K + kh * K + kw];
              for (let t = 0; t < columns; t++) acc[t * 4 + q] += x[row + t + kw] * wv;
            }
          }
        }
      }
      for (let t = 0; t < columns; t++) {
        for (let q = 0; q < channels; q++) {
          y[((n * OC + oc0 + q) * OH + oh) * OW + ow0 + t] = activate(ACT, acc[t * 4 + q]);
        }
      }
    }
  }
}

export function conv2d_preactivation_gradient(t: TwinBindings, c: Constants): void {
  const { dy, y, g } = t.f32;
  const { B, OC, OH, OW, PAD, GH, GW, ACT } = shape(c);
  for (let n = 0; n < B; n++) {
    for (let i = 0; i < OC * GH * GW; i++) {
      const gw = i % GW, gh = Math.floor(i / GW) % GH, oc = Math.floor(i / (GW * GH));
      let value = 0;
      if (gh >= PAD && gh - PAD < OH && gw >= PAD && gw - PAD < OW) {
        const at = ((n * OC + oc) * OH + gh - PAD) * OW + gw - PAD;
        value = dy[at] * activationSlope(ACT, y[at]);
      }
      g[n * OC * GH * GW + i] = value;
    }
  }
}

export function conv2d_backward_input(t: TwinBindings, c: Constants): void {
  const { g, w, dx } = t.f32;
  const { B, IC, OC, H, W, K, OH, PAD, GH, GW } = shape(c);
  const TILES = Math.ceil(W / TILE);
  const acc = scratch("conv2d.acc", TILE * 4);
  for (let n = 0; n < B; n++) {
    for (let i = 0; i < Math.ceil(IC / 4) * H * TILES; i++) {
      const col0 = (i % TILES) * TILE, row = Math.floor(i / TILES) % H, ic0 = Math.floor(i / (TILES * H)) * 4;
      const channels = Math.min(4, IC - ic0), columns = Math.min(TILE, W - col0);
      const khFirst = row + 1 > OH ? row + 1 - OH : 0, khEnd = Math.min(K, row + 1);
      acc.fill(0);
      for (let oc = 0; oc < OC; oc++) {
        for (let kh = khFirst; kh < khEnd; kh++) {
          const at = ((n * OC + oc) * GH + row + PAD - kh) * GW + col0;
          for (let u = 0; u < K; u++) {
            for (let q = 0; q < channels; q++) {
              const wv = w[((oc * IC + ic0 + q) * K + kh) * K + K - 1 - u];
              for (let t = 0; t < columns; t++) acc[t * 4 + q] += g[at + t + u] * wv;
            }
          }
        }
      }
      for (let t = 0; t < columns; t++) {
        for (let q = 0; q < channels; q++) dx[((n * IC + ic0 + q) * H + row) * W + col0 + t] = acc[t * 4 + q];
      }
    }
  }
}

export function conv2d_weight_partials(t: TwinBindings, c: Constants): void {
  const { x, g, partial } = t.f32;
  const { B, IC, OC, H, W, K, OH, OW, PAD, GH, GW, ROWS } = shape(c);
  const KK = IC * K * K, OCG = Math.ceil(OC / 4), R = Math.ceil(B * OH / ROWS);
  const acc = scratch("conv2d.acc", MAX_K * 4);
  const bias = scratch("conv2d.bias", 4);
  for (let i = 0; i < OCG * K * IC * R; i++) {
    const oc0 = (i % OCG) * 4, kh = Math.floor(i / OCG) % K;
    const ic = Math.floor(i / (OCG * K)) % IC, r = Math.floor(i / (OCG * K * IC));
    const channels = Math.min(4, OC - oc0);
    acc.fill(0);
    bias.fill(0);
    for (let row = r * ROWS; row < Math.min(r * ROWS + ROWS, B * OH); row++) {
      const n = Math.floor(row / OH), oh = row % OH;
      const xRow = ((n * IC + ic) * H + oh + kh) * W;
      const gRow = ((n * OC + oc0) * GH + oh + PAD) * GW + PAD;
      for (let ow0 = 0; ow0 < OW; ow0 += TILE) {
        const columns = Math.min(TILE, OW - ow0);
        for (let q = 0; q < channels; q++) {
          // The shader's tile of positions summed in its order (its masked positions add zeros).
          const at = gRow + q * GH * GW + ow0;
          let gSum = 0;
          for (let t = 0; t < columns; t++) gSum += g[at + t];
          bias[q] += gSum;
          for (let kw = 0; kw < K; kw++) {
            let sum = 0;
            for (let t = 0; t < columns; t++) sum += g[at + t] * x[xRow + ow0 + t + kw];
            acc[kw * 4 + q] += sum;
          }
        }
      }
    }
    const chunk = r * (KK + 1) * OC;
    for (let kw = 0; kw < K; kw++) {
      for (let q = 0; q < channels; q++) {
        partial[chunk + ((ic * K + kh) * K + kw) * OC + oc0 + q] = acc[kw * 4 + q];
      }
    }
    if (ic === 0 && kh === 0) {
      for (let q = 0; q < channels; q++) partial[chunk + KK * OC + oc0 + q] = bias[q];
    }
  }
}

export function conv2d_backward_weight(t: TwinBindings, c: Constants): void {
  const { partial, w_train, b_train, grad_w, grad_b, learning_rate } = t.f32;
  const { B, IC, OC, K, OH, ROWS } = shape(c);
  const KK = IC * K * K, R = Math.ceil(B * OH / ROWS);
  const lr = learning_rate[0];
  for (let oc = 0; oc < OC; oc++) {
    for (let k = 0; k <= KK; k++) {
      let sum = 0;
      for (let r = 0; r < R; r++) sum += partial[(r * (KK + 1) + k) * OC + oc];
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
