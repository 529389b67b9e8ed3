/** The drawing made into MNIST's form (web/preprocess.ts): box, aspect, centre of mass, stroke width. */
import assert from "node:assert/strict";
import { loadMnist } from "../../lab/mnist.ts";
import {
  centreOfMass,
  imageToMnist,
  MNIST_BOX,
  MNIST_SIDE,
  MNIST_STROKE,
  type Stroke,
  strokesToMnist,
} from "../../web/preprocess.ts";

/** Rows and columns that hold any ink above `threshold`. */
function inkExtent(image: Uint8Array, threshold = 0): { rows: number; cols: number } {
  const rows = new Set<number>(), cols = new Set<number>();
  image.forEach((v, i) => {
    if (v > threshold) [rows.add(Math.floor(i / MNIST_SIDE)), cols.add(i % MNIST_SIDE)];
  });
  return { rows: rows.size, cols: cols.size };
}

const SEVEN: Stroke[] = [[[40, 50], [180, 50], [110, 200]], [[80, 125], [150, 125]]];
const moved = (strokes: Stroke[], scale: number, dx: number, dy: number): Stroke[] =>
  strokes.map((stroke) => stroke.map(([x, y]) => [x * scale + dx, y * scale + dy] as const));

Deno.test("strokes: the ink fits 20x20, its centre of mass at the centre of 28x28", () => {
  const one = strokesToMnist([[[112, 40], [112, 190]]]);
  // A 20-pixel box that does not start on a pixel's edge touches 21 rows.
  const { rows } = inkExtent(one);
  assert.ok(rows >= MNIST_BOX && rows <= MNIST_BOX + 1, `a 1 touches ${rows} rows, expected 20 or 21`);
  const [x, y] = centreOfMass(one);
  assert.ok(Math.abs(x - 14.5) < 0.05 && Math.abs(y - 14.5) < 0.05, `centre of mass (${x}, ${y})`);
});

Deno.test("strokes: a digit heavy at one end is centred as far as the frame allows, not cut off", () => {
  // A 7 with a bar three strokes thick: its centre of mass lies more than 4 pixels above its box's middle,
  // so its 20-pixel box moves down 4, to rows 8-27, and no further (rows 9-28 would cut its foot off).
  const seven = strokesToMnist([
    [[40, 50], [180, 50], [110, 200]],
    [[40, 58], [180, 58]],
    [[40, 66], [180, 66]],
  ]);
  const inked = [...Array(MNIST_SIDE).keys()].filter((row) =>
    seven.subarray(row * MNIST_SIDE, (row + 1) * MNIST_SIDE).some((v) => v > 0)
  );
  assert.deepEqual([inked[0], inked.at(-1)], [8, 27]);
  const [x, y] = centreOfMass(seven);
  assert.ok(Math.abs(x - 14.5) < 0.05 && y < 14, `centre of mass (${x}, ${y})`);
});

Deno.test("strokes: MNIST's stroke width, whatever size and place the digit was drawn at", () => {
  const one = strokesToMnist([[[112, 40], [112, 190]]]);
  // A middle row of a vertical stroke holds the stroke's width in ink.
  const row = one.subarray(14 * MNIST_SIDE, 15 * MNIST_SIDE).reduce((a, b) => a + b, 0) / 255;
  assert.ok(Math.abs(row - MNIST_STROKE) < 0.15, `a row of the 1 holds ${row} pixels of ink`);
  const big = strokesToMnist(SEVEN), small = strokesToMnist(moved(SEVEN, 0.3, 120, 7));
  const worst = Math.max(...big.map((v, i) => Math.abs(v - small[i])));
  assert.ok(worst <= 1, `a 7 drawn small and elsewhere differs by ${worst} in a pixel`);
});

Deno.test("strokes: the aspect ratio is kept (a wide shape is not stretched to a square)", () => {
  const wide = strokesToMnist([[[0, 0], [200, 0], [200, 100], [0, 100], [0, 0]]]);
  const { rows, cols } = inkExtent(wide);
  assert.ok(cols >= MNIST_BOX && cols <= MNIST_BOX + 1, `${cols} columns`);
  // Half the pen's path, plus the stroke: 8.7 + 2.6 = 11.3 pixels, touching 12 or 13 rows.
  const height = (MNIST_BOX - MNIST_STROKE) / 2 + MNIST_STROKE;
  assert.ok(rows >= Math.ceil(height) && rows <= Math.ceil(height) + 1, `${rows} rows for ${height}`);
});

Deno.test("nothing drawn is a blank image; a raster of the wrong size is refused", () => {
  assert.deepEqual(strokesToMnist([]), new Uint8Array(784));
  assert.deepEqual(imageToMnist(new Uint8Array(100 * 100), 100, 100), new Uint8Array(784));
  assert.throws(() => imageToMnist(new Uint8Array(10), 4, 4), /10 values for a 4x4 image/);
});

Deno.test("a raster: an MNIST digit scaled up onto a pad and placed anywhere comes back as itself", async () => {
  const mnist = await loadMnist();
  let total = 0;
  for (let k = 0; k < 50; k++) {
    const digit = mnist.test.images.subarray(k * 784, (k + 1) * 784);
    const side = 300, scale = 8, [dx, dy] = [(k * 7) % 60, (k * 13) % 60];
    const pad = new Uint8Array(side * side);
    for (let y = 0; y < 28 * scale; y++) {
      for (let x = 0; x < 28 * scale; x++) {
        pad[(y + dy) * side + x + dx] = digit[Math.floor(y / scale) * 28 + Math.floor(x / scale)];
      }
    }
    const image = imageToMnist(pad, side, side);
    const difference = image.reduce((sum, v, i) => sum + Math.abs(v - digit[i]), 0) / 784 / 255;
    assert.ok(difference < 0.07, `test digit ${k} comes back ${difference} off`);
    total += difference;
    const [x, y] = centreOfMass(image);
    assert.ok(Math.abs(x - 14.5) < 0.1 && Math.abs(y - 14.5) < 0.1, `centre of mass (${x}, ${y})`);
  }
  assert.ok(total / 50 < 0.035, `mean difference ${total / 50}`);
});
