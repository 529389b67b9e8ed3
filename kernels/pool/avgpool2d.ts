// TypeScript twins of kernels/pool/avgpool2d.wgsl: same names, same index arithmetic, one shader
// invocation per iteration of the outer loops (samples, channels, positions), float32 sums in the
// shader's order.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

export function avgpool2d_forward(t: TwinBindings, c: Constants): void {
  const { x, y } = t.f32;
  const { B, C, H, W } = c;
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  const f = Math.fround;
  for (let n = 0; n < B; n++) {
    for (let ch = 0; ch < C; ch++) {
      for (let p = 0; p < OH * OW; p++) {
        const oh = Math.floor(p / OW), ow = p % OW;
        const base = ((n * C + ch) * H + 2 * oh) * W + 2 * ow;
        const sum = f(f(f(x[base] + x[base + 1]) + x[base + W]) + x[base + W + 1]);
        y[((n * C + ch) * OH + oh) * OW + ow] = sum / 4;
      }
    }
  }
}

export function avgpool2d_backward(t: TwinBindings, c: Constants): void {
  const { dy, dx } = t.f32;
  const { B, C, H, W } = c;
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  for (let n = 0; n < B; n++) {
    for (let ch = 0; ch < C; ch++) {
      for (let p = 0; p < H * W; p++) {
        const row = Math.floor(p / W), col = p % W;
        const oh = Math.floor(row / 2), ow = Math.floor(col / 2);
        dx[((n * C + ch) * H + row) * W + col] = oh < OH && ow < OW
          ? dy[((n * C + ch) * OH + oh) * OW + ow] / 4
          : 0;
      }
    }
  }
}
