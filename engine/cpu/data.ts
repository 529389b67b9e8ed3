// TypeScript twin of shaders/data.wgsl.
import type { Constants } from "../backend.ts";
import type { TwinBindings } from "./twin.ts";
import { INVALID_LABEL } from "./loss.ts";

/** Byte i of a byte array stored four to a word, little-endian. */
function byte_of(word: number, i: number): number {
  return (word >>> (8 * (i % 4))) & 0xff;
}

export function gather_batch(t: TwinBindings, c: Constants): void {
  const { images, labels_all, order, stats, labels } = t.u32;
  const { x } = t.f32;
  const { B, COUNT, ROWS, COLS } = c;
  const PAD = c.PAD ?? 0;
  const mean = Math.fround(c.MEAN), std = Math.fround(c.STD);
  const height = ROWS + 2 * PAD, width = COLS + 2 * PAD;
  for (let n = 0; n < B; n++) {
    const position = stats[0] * B + n;
    const valid = position < COUNT;
    for (let p = 0; p < height * width; p++) {
      const r = Math.floor(p / width) - PAD;
      const col = (p % width) - PAD;
      let value = 0;
      let label = INVALID_LABEL;
      if (valid) {
        const image = order[position];
        if (r >= 0 && r < ROWS && col >= 0 && col < COLS) {
          const i = image * ROWS * COLS + r * COLS + col;
          value = Math.fround(Math.fround(Math.fround(byte_of(images[i >>> 2], i) / 255) - mean) / std);
        }
        label = byte_of(labels_all[image >>> 2], image);
      }
      x[n * height * width + p] = value;
      if (p === 0) labels[n] = label;
    }
  }
}
