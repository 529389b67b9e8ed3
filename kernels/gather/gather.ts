// TypeScript twin of kernels/gather/gather.wgsl.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { INVALID_LABEL } from "../loss/loss.ts";

/** Byte i of a byte array stored four to a word, little-endian. */
function byte_of(word: number, i: number): number {
  return (word >>> (8 * (i % 4))) & 0xff;
}

export function gather_batch(t: TwinBindings, c: Constants): void {
  const { images, labels_all, order, stats, labels } = t.u32;
  const { x, normal } = t.f32;
  const { B, COUNT, ROWS, COLS } = c;
  const C = c.C ?? 1, PAD = c.PAD ?? 0, F32 = c.F32 ?? 0;
  // bitcast<f32>: the same words read as float32.
  const values = new Float32Array(images.buffer, images.byteOffset, images.length);
  const height = ROWS + 2 * PAD, width = COLS + 2 * PAD;
  for (let n = 0; n < B; n++) {
    const position = stats[0] * B + n;
    const valid = position < COUNT;
    for (let p = 0; p < C * height * width; p++) {
      const ch = Math.floor(p / (height * width));
      const q = p % (height * width);
      const r = Math.floor(q / width) - PAD;
      const col = (q % width) - PAD;
      let value = 0;
      let label = INVALID_LABEL;
      if (valid) {
        const image = order[position];
        if (r >= 0 && r < ROWS && col >= 0 && col < COLS) {
          const i = ((image * C + ch) * ROWS + r) * COLS + col;
          const raw = F32 === 1 ? values[i] : Math.fround(byte_of(images[i >>> 2], i) / 255);
          value = Math.fround(Math.fround(raw - normal[ch]) / normal[C + ch]);
        }
        label = labels_all[image];
      }
      x[n * C * height * width + p] = value;
      if (p === 0) labels[n] = label;
    }
  }
}
