/**
 * Data sets resident on the backend: images of any C x H x W, as bytes or float32, with labels of
 * any number of classes, normalised per channel when each batch is gathered. MNIST is one such set
 * (60,000 images are 47 MB as bytes, 188 MB as float32: over one binding's 128 MiB on the software
 * adapter, hence bytes). The gather kernel builds, normalises and pads each batch on the device.
 */
import { type Backend, type Binding, type Dispatch, elementCount, type Tensor } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { kernels } from "../engine/kernels.ts";
import type { CompiledModel } from "./model.ts";

/**
 * Labelled images, one after another, each `channels` x `rows` x `cols` (channel-major, row-major):
 * bytes 0-255 (scaled by 1/255 before normalising) or float32 values. `labels[i]` is image i's class,
 * an integer from 0 to `classes` - 1.
 */
export interface LabelledImages {
  /** `count` x C x H x W values: bytes (0-255) or float32. */
  readonly images: Uint8Array | Float32Array;
  /** One class per image. */
  readonly labels: ArrayLike<number>;
  /** Number of images. */
  readonly count: number;
  /** Default 1. */
  readonly channels?: number;
  /** Image height. */
  readonly rows: number;
  /** Image width. */
  readonly cols: number;
  /** Default: one more than the largest label. */
  readonly classes?: number;
}

/** The MNIST-shaped special case: single-channel bytes. */
export type ByteImageSet = LabelledImages & { readonly images: Uint8Array };

/** What each channel's values are normalised with: (value - mean) / std; one number serves all channels. */
export interface PixelStats {
  /** Subtracted from each channel's values (after the 1/255 scaling of bytes). */
  readonly mean: number | readonly number[];
  /** What each channel's values are divided by, after the mean is subtracted. */
  readonly std: number | readonly number[];
}

/** Mean and std of each channel over a set's images (of pixel / 255 for bytes), in float64. */
export interface ChannelStats {
  /** One mean per channel. */
  readonly mean: number[];
  /** One population std per channel. */
  readonly std: number[];
}

/** Per-channel mean and population std over the first `count` images, computed in float64. */
export function channelMeanStd(
  set: Pick<LabelledImages, "images" | "count" | "channels" | "rows" | "cols">,
): ChannelStats {
  const channels = set.channels ?? 1, plane = set.rows * set.cols;
  if (set.count * channels * plane === 0 || set.images.length < set.count * channels * plane) {
    throw new UserError("no pixels to compute a mean and std from; load a non-empty data set");
  }
  const bytes = set.images instanceof Uint8Array;
  const mean: number[] = [], std: number[] = [];
  for (let ch = 0; ch < channels; ch++) {
    // Bytes: a histogram makes both passes over 256 bins instead of millions of pixels.
    const histogram = new Float64Array(256);
    let sum = 0;
    for (let image = 0; image < set.count; image++) {
      const start = (image * channels + ch) * plane;
      for (let i = start; i < start + plane; i++) {
        if (bytes) histogram[set.images[i]]++;
        else sum += set.images[i];
      }
    }
    const n = set.count * plane;
    let squares = 0;
    if (bytes) {
      for (let value = 0; value < 256; value++) sum += histogram[value] * (value / 255);
      for (let value = 0; value < 256; value++) squares += histogram[value] * (value / 255 - sum / n) ** 2;
    } else {
      for (let image = 0; image < set.count; image++) {
        const start = (image * channels + ch) * plane;
        for (let i = start; i < start + plane; i++) squares += (set.images[i] - sum / n) ** 2;
      }
    }
    mean.push(sum / n);
    std.push(Math.sqrt(squares / n));
  }
  return { mean, std };
}

function positiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** A data set resident on a backend, from which the gather kernel builds each batch of a model. */
export class DeviceDataSet {
  /** The images, as u32 words (four bytes, or one float32's bits, to a word). */
  readonly images: Tensor;
  /** One label per image. */
  readonly labels: Tensor;
  /** The order in which samples are visited: shuffled each epoch for training. */
  readonly order: Tensor;
  /** Each channel's mean, then each channel's std. */
  readonly normalisation: Tensor;
  /** Channels per image. */
  readonly channels: number;
  /** Classes the labels come from. */
  readonly classes: number;

  /**
   * Uploads `set` (checked first: a shape that does not add up is refused in one line) to `backend`.
   * `count` uses only the first images of the set.
   */
  constructor(
    readonly backend: Backend,
    readonly name: string,
    readonly set: LabelledImages,
    readonly stats: PixelStats,
    /** Use only the first `count` samples. */
    readonly count: number = set.count,
  ) {
    const channels = set.channels ?? 1;
    const fail = (problem: string) => new UserError(`data set ${name}: ${problem}`);
    for (
      const [what, value] of [["count", set.count], ["channels", channels], ["rows", set.rows], [
        "cols",
        set.cols,
      ]] as const
    ) {
      if (!positiveInteger(value)) throw fail(`${what} is ${value}, expected a positive integer`);
    }
    const values = set.count * channels * set.rows * set.cols;
    if (set.images.length !== values) {
      throw fail(
        `${set.count} images of ${channels}x${set.rows}x${set.cols} need ${values} values, ` +
          `but there are ${set.images.length}; check its count and shape`,
      );
    }
    if (set.labels.length !== set.count) {
      throw fail(`${set.count} images but ${set.labels.length} labels; give one label per image`);
    }
    if (!positiveInteger(count) || count > set.count) {
      throw fail(`cannot use ${count} samples of ${set.count}; use 1 to ${set.count}`);
    }
    let largest = 0;
    for (let i = 0; i < set.count; i++) {
      const label = set.labels[i];
      if (!Number.isInteger(label) || label < 0 || (set.classes !== undefined && label >= set.classes)) {
        throw fail(`label ${label} of image ${i} is not a class from 0 to ${(set.classes ?? Infinity) - 1}`);
      }
      largest = Math.max(largest, label);
    }
    this.channels = channels;
    this.classes = set.classes ?? largest + 1;
    const mean = perChannel(stats.mean, channels, "mean", fail);
    const std = perChannel(stats.std, channels, "std", fail);
    if (!std.every((s) => s > 0)) throw fail(`std [${std}] must be positive for every channel`);

    const words = set.images instanceof Uint8Array
      ? packBytes(set.images)
      : new Uint32Array(set.images.buffer, set.images.byteOffset, set.images.length);
    this.images = backend.tensor(`${name}.images`, "u32", [words.length], words);
    this.labels = backend.tensor(`${name}.labels`, "u32", [set.count], Uint32Array.from(set.labels));
    this.normalisation = backend.tensor(`${name}.normalisation`, "f32", [2 * channels], [...mean, ...std]);
    const identity = new Uint32Array(count);
    for (let i = 0; i < count; i++) identity[i] = i;
    this.order = backend.tensor(`${name}.order`, "u32", [count], identity);
  }

  /** Whether the images are float32 (else bytes). */
  get isFloat(): boolean {
    return this.set.images instanceof Float32Array;
  }

  /** Sets the order the next pass visits the samples in (a permutation of 0 .. count - 1). */
  setOrder(order: Uint32Array): void {
    this.backend.write(this.order, order);
  }

  /** Steps (batches) in one pass over the set; the last batch may be partial. */
  steps(batch: number): number {
    return Math.ceil(this.count / batch);
  }

  /** Frees the set's tensors on the backend. */
  release(): void {
    for (const tensor of [this.images, this.labels, this.order, this.normalisation]) {
      this.backend.release(tensor);
    }
  }

  /**
   * Refuses, in one line, a model this set cannot feed: its input must be the set's C x H x W after
   * the model's padding (or that many values, flattened), and it must have a logit for every class.
   */
  checkFits(model: CompiledModel): void {
    const { spec } = model;
    const { rows, cols } = this.set;
    const padded = [this.channels, rows + 2 * spec.pad, cols + 2 * spec.pad];
    const fits = spec.inputShape.length === 1
      ? spec.inputShape[0] === elementCount(padded)
      : spec.inputShape.join("x") === padded.join("x");
    if (!fits) {
      throw new UserError(
        `data set ${this.name} holds ${this.channels}x${rows}x${cols} images (${
          padded.join("x")
        } padded by ` +
          `${spec.pad}), but ${spec.name} takes ${spec.inputShape.join("x")}: build the model for this shape`,
      );
    }
    if (this.classes > spec.classes) {
      throw new UserError(
        `data set ${this.name} has ${this.classes} classes, but ${spec.name} has ${spec.classes} outputs: ` +
          `build the model with ${this.classes} classes`,
      );
    }
  }

  readonly #gathers = new WeakMap<CompiledModel, Dispatch>();

  /**
   * The dispatch that gathers a model's batch from this set, normalised and padded for it; made
   * once per model, so an epoch replays it without creating a bind group.
   */
  gatherFor(model: CompiledModel): Dispatch {
    let gather = this.#gathers.get(model);
    if (!gather) {
      gather = this.gatherAt(model, model.stats);
      this.#gathers.set(model, gather);
    }
    return gather;
  }

  /**
   * A gather that reads its batch number from the first element of `step`: the model's step counter,
   * which the loss kernel advances (gatherFor), or a fixed number, with which inference timing goes
   * batch after batch without a dispatch of its own to count them.
   */
  gatherAt(model: CompiledModel, step: Binding): Dispatch {
    this.checkFits(model);
    const { batch, spec } = model;
    return this.backend.dispatch(kernels.gather_batch, {
      images: this.images,
      labels_all: this.labels,
      order: this.order,
      stats: step,
      x: model.input.value,
      labels: model.labels,
      normal: this.normalisation,
    }, {
      B: batch,
      COUNT: this.count,
      C: this.channels,
      ROWS: this.set.rows,
      COLS: this.set.cols,
      PAD: spec.pad,
      F32: this.isFloat ? 1 : 0,
    });
  }
}

function perChannel(
  value: number | readonly number[],
  channels: number,
  what: string,
  fail: (problem: string) => UserError,
): number[] {
  const values = typeof value === "number" ? Array(channels).fill(value) : [...value];
  if (values.length !== channels || !values.every(Number.isFinite)) {
    throw fail(`${what} [${values}] should be one finite number or one for each of ${channels} channels`);
  }
  return values;
}

/** Bytes four to a little-endian u32 word, zero-padded to a whole word. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}
