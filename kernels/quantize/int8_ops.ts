// TypeScript twins of kernels/quantize/int8_ops.wgsl: same names, same index arithmetic (one shader
// invocation, one output word, per iteration of the outer loop).
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { int8View, wordsFor } from "./int8.ts";

/** A K x K convolution's patches as GEMM rows, element (kh * K + kw) * C + c, stride 1, no padding. */
export function im2col_int8(t: TwinBindings, c: Constants): void {
  const x = int8View(t.u32.x), patches = int8View(t.u32.patches);
  const { B, H, W, C, K } = c;
  const OH = H - K + 1, OW = W - K + 1, length = K * K * C, words = wordsFor(length), c4 = wordsFor(C);
  for (let at = 0; at < B * OH * OW * words; at++) {
    const word = at % words, row = Math.floor(at / words);
    const n = Math.floor(row / (OH * OW)), oh = Math.floor(row / OW) % OH, ow = row % OW;
    for (let i = 0; i < 4; i++) {
      const e = 4 * word + i;
      if (e >= length) {
        patches[4 * at + i] = 0;
        continue;
      }
      const ch = e % C, kw = Math.floor(e / C) % K, kh = Math.floor(e / (C * K));
      patches[4 * at + i] = x[4 * (((n * H + oh + kh) * W + ow + kw) * c4) + ch];
    }
  }
}

/** 2x2 max pooling, stride 2, lane by lane. */
export function maxpool2d_int8(t: TwinBindings, c: Constants): void {
  const x = int8View(t.u32.x), y = int8View(t.u32.y);
  const { B, H, W, C } = c;
  const c4 = wordsFor(C), OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  for (let at = 0; at < B * OH * OW * c4; at++) {
    const word = at % c4, p = Math.floor(at / c4) % (OH * OW), n = Math.floor(at / (c4 * OH * OW));
    const oh = Math.floor(p / OW), ow = p % OW;
    const top = ((n * H + 2 * oh) * W + 2 * ow) * c4 + word;
    for (let i = 0; i < 4; i++) {
      const at4 = (w: number) => x[4 * w + i];
      y[4 * at + i] = Math.max(at4(top), at4(top + c4), at4(top + W * c4), at4(top + (W + 1) * c4));
    }
  }
}

/** An int8 -> int8 function by its table: table[q + 128]; padding lanes (channel >= C) 0. */
export function lookup_int8(t: TwinBindings, c: Constants): void {
  const { table } = t.u32;
  const x = int8View(t.u32.x), y = int8View(t.u32.y);
  const { N, C } = c;
  const c4 = wordsFor(C);
  for (let i = 0; i < N; i++) {
    for (let lane = 0; lane < 4; lane++) {
      y[4 * i + lane] = (i % c4) * 4 + lane < C ? table[x[4 * i + lane] + 128] | 0 : 0;
    }
  }
}
