/**
 * The batch gather kernel (the whole input pipeline in one dispatch): its twin against a plain reference
 * written here, the GPU against the twin, the set, the order and the step counter left untouched
 * (checkKernel); and the byte packing that feeds it.
 */
import assert from "node:assert/strict";
import { INVALID_LABEL } from "../../kernels/loss/loss.ts";
import { kernels } from "../../engine/kernels.ts";
import { packBytes } from "../../models/dataset.ts";
import stats from "../golden/mnist_stats.json" with { type: "json" };
import { f32, Random, u32 } from "../helpers.ts";
import { type CaseBuilder, checkKernel, describe, poison } from "./check.ts";

Deno.test("packBytes puts four bytes in a little-endian word and zero-pads the last", () => {
  assert.deepEqual(packBytes(new Uint8Array([])), new Uint32Array([]));
  assert.deepEqual(packBytes(new Uint8Array([1, 2, 3, 4])), new Uint32Array([0x04030201]));
  assert.deepEqual(
    packBytes(new Uint8Array([0xff, 0, 0x80, 7, 9, 0xfe])),
    new Uint32Array([0x078000ff, 0x0000fe09]),
  );
});

interface ImageSet {
  readonly images: Uint8Array | Float32Array;
  readonly labels: Uint8Array;
  readonly channels: number;
  readonly rows: number;
  readonly cols: number;
  readonly mean: number[];
  readonly std: number[];
}

function randomSet(
  random: Random,
  count: number,
  [channels, rows, cols]: readonly number[],
  float: boolean,
): ImageSet {
  const length = count * channels * rows * cols;
  const single = channels === 1 && !float;
  return {
    images: float
      ? Float32Array.from({ length }, () => random.symmetric(3))
      : Uint8Array.from({ length }, () => random.nextUint32() & 0xff),
    labels: Uint8Array.from({ length: count }, () => random.nextUint32() % 10),
    channels,
    rows,
    cols,
    // MNIST's own statistics for the MNIST-shaped set; others per channel.
    mean: single ? [stats.mean] : Array.from({ length: channels }, (_, i) => 0.1 * i - 0.3),
    std: single ? [stats.std] : Array.from({ length: channels }, (_, i) => 0.5 + 0.7 * i),
  };
}

interface GatherCase {
  readonly B: number;
  readonly COUNT: number;
  readonly PAD: number;
  readonly step: number;
}

/** Sample n of the batch: image order[step * B + n], each channel normalised in float32, zero-padded. */
function reference(set: ImageSet, order: Uint32Array, { B, COUNT, PAD, step }: GatherCase) {
  const { channels, rows, cols } = set;
  const height = rows + 2 * PAD, width = cols + 2 * PAD;
  const x = new Float32Array(B * channels * height * width);
  const labels = new Uint32Array(B).fill(INVALID_LABEL);
  for (let n = 0; n < B; n++) {
    const position = step * B + n;
    if (position >= COUNT) continue;
    const image = order[position];
    labels[n] = set.labels[image];
    for (let ch = 0; ch < channels; ch++) {
      const mean = Math.fround(set.mean[ch]), std = Math.fround(set.std[ch]);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const stored = set.images[((image * channels + ch) * rows + r) * cols + c];
          const raw = set.images instanceof Float32Array ? stored : Math.fround(stored / 255);
          x[((n * channels + ch) * height + r + PAD) * width + c + PAD] = Math.fround(
            Math.fround(raw - mean) / std,
          );
        }
      }
    }
  }
  return { x, labels };
}

/** The gather at `g`'s step into a poisoned batch; the reference says what it must hold. */
function gatherCase(set: ImageSet, order: Uint32Array, g: GatherCase): CaseBuilder {
  return (c) => {
    const float = set.images instanceof Float32Array;
    const expected = reference(set, order, g);
    return {
      bindings: {
        images: u32(float ? new Uint32Array(set.images.buffer) : packBytes(set.images as Uint8Array)),
        labels_all: u32(set.labels),
        order: u32(order),
        // [steps, correct, samples], as the loss kernel leaves them: the gather reads only the step.
        stats: u32([g.step, 1, 2]),
        x: f32(poison(expected.x.length)),
        labels: u32(new Uint32Array(c.B).fill(12345)),
        normal: f32([...set.mean, ...set.std]),
      },
      expected,
    };
  };
}

/**
 * 15-byte images straddle words; 28x28 padded by 2 is LeNet-5's 32x32; two byte channels and three
 * float32 channels normalise each with its own mean and std. COUNT below the set's size uses a
 * prefix; the last steps run past COUNT (a partial batch, then an empty one).
 */
const SHAPES = [
  { shape: [1, 5, 3], float: false },
  { shape: [1, 28, 28], float: false },
  { shape: [2, 5, 3], float: false },
  { shape: [3, 4, 6], float: true },
] as const;
const CASES: GatherCase[] = [
  { B: 4, COUNT: 10, PAD: 0, step: 0 },
  { B: 4, COUNT: 10, PAD: 2, step: 1 },
  { B: 4, COUNT: 10, PAD: 2, step: 2 },
  { B: 3, COUNT: 7, PAD: 1, step: 2 },
  { B: 4, COUNT: 10, PAD: 0, step: 3 },
];

Deno.test("gather_batch: twin vs the reference, GPU vs twin (order, step, normalisation, padding)", async (t) => {
  const random = new Random(8);
  for (const { shape, float } of SHAPES) {
    const set = randomSet(random, 11, shape, float);
    const order = random.permutation(11);
    for (const g of CASES) {
      const c = {
        B: g.B,
        COUNT: g.COUNT,
        C: set.channels,
        ROWS: set.rows,
        COLS: set.cols,
        PAD: g.PAD,
        F32: +float,
      };
      await t.step(`${describe(kernels.gather_batch, c)}, step ${g.step}`, async () => {
        const { labels } = reference(set, order, g);
        const valid = labels.filter((label) => label !== INVALID_LABEL).length;
        assert.equal(valid, Math.max(0, Math.min(g.B, g.COUNT - g.step * g.B)));
        // The GPU's float32 division may be off by an ulp or two (WGSL allows 2.5 ulp): within TOLERANCE.
        await checkKernel(kernels.gather_batch, c, gatherCase(set, order, g));
      });
    }
  }
});
