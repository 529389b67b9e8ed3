// TypeScript twins of kernels/pool/maxpool2d.wgsl: same names, same index arithmetic, one shader
// invocation per iteration of the outer loops (samples, channels, positions).
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

/** Offset (0 .. 3, row-major) of the first maximum of the window whose top-left element is at base. */
function windowArgmax(x: Float32Array, W: number, base: number): number {
  let best = 0;
  let top = x[base];
  for (let i = 1; i < 4; i++) {
    const v = x[base + Math.floor(i / 2) * W + i % 2];
    if (v > top) {
      top = v;
      best = i;
    }
  }
  return best;
}

export function maxpool2d_forward(t: TwinBindings, c: Constants): void {
  const { x, y } = t.f32;
  const { B, C, H, W } = c;
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  for (let n = 0; n < B; n++) {
    for (let ch = 0; ch < C; ch++) {
      for (let p = 0; p < OH * OW; p++) {
        const oh = Math.floor(p / OW), ow = p % OW;
        const base = ((n * C + ch) * H + 2 * oh) * W + 2 * ow;
        const i = windowArgmax(x, W, base);
        y[((n * C + ch) * OH + oh) * OW + ow] = x[base + Math.floor(i / 2) * W + i % 2];
      }
    }
  }
}

export function maxpool2d_backward(t: TwinBindings, c: Constants): void {
  const { x, dy, dx } = t.f32;
  const { B, C, H, W } = c;
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  for (let n = 0; n < B; n++) {
    for (let ch = 0; ch < C; ch++) {
      for (let p = 0; p < H * W; p++) {
        const row = Math.floor(p / W), col = p % W;
        const oh = Math.floor(row / 2), ow = Math.floor(col / 2);
        let gradient = 0;
        if (oh < OH && ow < OW) {
          const base = ((n * C + ch) * H + 2 * oh) * W + 2 * ow;
          if (windowArgmax(x, W, base) === (row % 2) * 2 + col % 2) {
            gradient = dy[((n * C + ch) * OH + oh) * OW + ow];
          }
        }
        dx[((n * C + ch) * H + row) * W + col] = gradient;
      }
    }
  }
}
