// TypeScript twins of kernels/half/half_dense.wgsl and half_dense_unpack.wgsl (the same arithmetic:
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

const halfAt = (words: Uint32Array, e: number) => halfFromBits((words[e >> 1] >>> (16 * (e & 1))) & 0xffff);

function halfDense(t: TwinBindings, c: Constants): void {
  const { x, w, b, y } = t.u32;
  const { B, IN, OUT } = c;
  const ACT = c.ACT ?? 0;
  const output = (e: number) => {
    const n = Math.floor(e / OUT), o = e % OUT;
    let acc = 0;
    // A product of two halves is exact in float32: only the sum rounds.
    for (let k = 0; k < IN; k++) acc = Math.fround(acc + halfAt(x, n * IN + k) * halfAt(w, o * IN + k));
    return activate(ACT, Math.fround(acc + halfAt(b, o)));
  };
  for (let i = 0; 2 * i < B * OUT; i++) {
    const e = 2 * i;
    const second = e + 1 < B * OUT ? output(e + 1) : 0;
    y[i] = (halfBits(output(e)) | (halfBits(second) << 16)) >>> 0;
  }
}

export function half_dense_forward(t: TwinBindings, c: Constants): void {
  halfDense(t, c);
}

export function half_dense_forward_unpack(t: TwinBindings, c: Constants): void {
  halfDense(t, c);
}
