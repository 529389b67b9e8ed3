/**
 * The batch gather kernel (the whole input pipeline in one dispatch) against a plain reference
 * written here, on the twin and on the GPU; and the byte packing that feeds it.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { INVALID_LABEL } from "../../kernels/loss/loss.ts";
import { kernels } from "../../engine/kernels.ts";
import { packBytes } from "../../models/dataset.ts";
import stats from "../golden/mnist_stats.json" with { type: "json" };
import { assertClose, cpuBackend, f32, gpuBackend, Random, runKernel, u32 } from "../helpers.ts";

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

async function gather(backend: Backend, set: ImageSet, order: Uint32Array, g: GatherCase) {
  const height = set.rows + 2 * g.PAD, width = set.cols + 2 * g.PAD;
  const float = set.images instanceof Float32Array;
  const out = await runKernel(backend, kernels.gather_batch, {
    images: u32(float ? new Uint32Array(set.images.buffer) : packBytes(set.images as Uint8Array)),
    labels_all: u32(set.labels),
    order: u32(order),
    // [steps, correct, samples], as the loss kernel leaves them: the gather reads only the step.
    stats: u32([g.step, 1, 2]),
    x: f32(new Float32Array(g.B * set.channels * height * width).fill(-7)),
    labels: u32(new Uint32Array(g.B).fill(12345)),
    normal: f32([...set.mean, ...set.std]),
  }, {
    B: g.B,
    COUNT: g.COUNT,
    C: set.channels,
    ROWS: set.rows,
    COLS: set.cols,
    PAD: g.PAD,
    F32: float ? 1 : 0,
  });
  return { x: out.x as Float32Array, labels: out.labels as Uint32Array };
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

Deno.test("gather_batch: twin and GPU match the reference (order, step, normalisation, padding)", async (t) => {
  const backends: Backend[] = [cpuBackend()];
  const gpu = await gpuBackend();
  if (gpu) backends.push(gpu);
  else console.warn("GPU cases skipped: no WebGPU adapter");
  const random = new Random(8);
  for (const { shape, float } of SHAPES) {
    const set = randomSet(random, 11, shape, float);
    const order = random.permutation(11);
    for (const g of CASES) {
      await t.step(
        `${shape.join("x")} ${
          float ? "f32" : "u8"
        }, B ${g.B}, COUNT ${g.COUNT}, PAD ${g.PAD}, step ${g.step}`,
        async () => {
          const expected = reference(set, order, g);
          const valid = expected.labels.filter((label) => label !== INVALID_LABEL).length;
          assert.equal(valid, Math.max(0, Math.min(g.B, g.COUNT - g.step * g.B)));
          for (const backend of backends) {
            const { x, labels } = await gather(backend, set, order, g);
            assert.deepEqual(labels, expected.labels, `${backend.kind} labels`);
            // The GPU's float32 division may be off by an ulp or two (WGSL allows 2.5 ulp).
            assertClose(x, expected.x, `${backend.kind} x`);
          }
        },
      );
    }
  }
});
