// TypeScript twins of kernels/half/half.wgsl and half_unpack.wgsl (the same arithmetic:
// exact products summed in float32, Math.fround at each step, Math.f16round once at the end), and the
// packing both use: float16 values two to a u32 word, in flat order.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { halfBits, halfFromBits } from "../../engine/quantization.ts";
import { activate } from "../activation/activation.ts";

/** Values as float16 (rounded to nearest even), two to a word, element e in half e % 2 of word e / 2. */
export function packHalves(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let e = 0; e < values.length; e++) words[e >> 1] |= halfBits(values[e]) << (16 * (e & 1));
  return words;
}

/** `length` float16 values out of packed words. */
export function unpackHalves(words: Uint32Array, length: number): Float32Array {
  return Float32Array.from({ length }, (_, e) => halfFromBits((words[e >> 1] >>> (16 * (e & 1))) & 0xffff));
}

let halfValues: Float32Array | undefined;

/** Element e of packed halves, by a table of all 65,536 halves' values (made on first use, 256 KiB). */
function halfAt(words: Uint32Array, e: number): number {
  halfValues ??= Float32Array.from({ length: 65536 }, (_, bits) => halfFromBits(bits));
  return halfValues[(words[e >> 1] >>> (16 * (e & 1))) & 0xffff];
}

/** Writes `total` outputs two to a word, each `output(e)` rounded to f16 once, as one invocation per word does. */
function storeHalves(y: Uint32Array, total: number, output: (e: number) => number): void {
  for (let i = 0; 2 * i < total; i++) {
    const e = 2 * i;
    const second = e + 1 < total ? output(e + 1) : 0;
    y[i] = (halfBits(output(e)) | (halfBits(second) << 16)) >>> 0;
  }
}

function halfDense(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.u32;
  const { B, IN, OUT } = c;
  storeHalves(y, B * OUT, (e) => {
    const n = Math.floor(e / OUT), o = e % OUT;
    let acc = 0;
    // A product of two halves is exact in float32: only the sum rounds.
    for (let k = 0; k < IN; k++) acc = Math.fround(acc + halfAt(x, n * IN + k) * halfAt(w, o * IN + k));
    return activate(c.ACT ?? 0, Math.fround(acc + halfAt(b, o)));
  });
}

function halfConv2d(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.u32;
  const { B, IC, OC, H, W, K } = c;
  const OH = H - K + 1, OW = W - K + 1;
  storeHalves(y, B * OC * OH * OW, (e) => {
    const ow = e % OW, oh = Math.floor(e / OW) % OH, oc = Math.floor(e / (OW * OH)) % OC;
    const n = Math.floor(e / (OW * OH * OC));
    let acc = 0;
    for (let ic = 0; ic < IC; ic++) {
      for (let kh = 0; kh < K; kh++) {
        for (let kw = 0; kw < K; kw++) {
          const xe = ((n * IC + ic) * H + oh + kh) * W + ow + kw, we = ((oc * IC + ic) * K + kh) * K + kw;
          acc = Math.fround(acc + halfAt(x, xe) * halfAt(w, we));
        }
      }
    }
    return activate(c.ACT ?? 0, Math.fround(acc + halfAt(b, oc)));
  });
}

export function half_dense_forward(t: TwinBindings, c: Constants): void {
  halfDense(t, c);
}

export function half_dense_forward_unpack(t: TwinBindings, c: Constants): void {
  halfDense(t, c);
}

export function half_conv2d_forward(t: TwinBindings, c: Constants): void {
  halfConv2d(t, c);
}

export function half_conv2d_forward_unpack(t: TwinBindings, c: Constants): void {
  halfConv2d(t, c);
}
