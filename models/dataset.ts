/**
 * A data set resident on the backend, as bytes (60,000 MNIST images are 47 MB as u8, 188 MB as
 * float32: over one binding's 128 MiB on the software adapter). The gather kernel builds each batch.
 */
import type { Backend, Binding, Dispatch, Tensor } from "../engine/backend.ts";
import { kernels } from "../engine/kernels.ts";
import type { CompiledModel } from "./model.ts";

/** Images and labels as bytes; experiments/data.ts's ImageSet is one. */
export interface ByteImageSet {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
}

/** Normalisation: the training set's own pixel mean and std (of pixel / 255). */
export interface PixelStats {
  readonly mean: number;
  readonly std: number;
}

export class DeviceDataSet {
  readonly images: Tensor;
  readonly labels: Tensor;
  /** The order in which samples are visited: shuffled each epoch for training. */
  readonly order: Tensor;

  constructor(
    readonly backend: Backend,
    readonly name: string,
    readonly set: ByteImageSet,
    readonly stats: PixelStats,
    /** Use only the first `count` samples. */
    readonly count = set.count,
  ) {
    this.images = backend.tensor(
      `${name}.images`,
      "u32",
      [Math.ceil(set.images.length / 4)],
      packBytes(set.images),
    );
    this.labels = backend.tensor(
      `${name}.labels`,
      "u32",
      [Math.ceil(set.labels.length / 4)],
      packBytes(set.labels),
    );
    const identity = new Uint32Array(count);
    for (let i = 0; i < count; i++) identity[i] = i;
    this.order = backend.tensor(`${name}.order`, "u32", [count], identity);
  }

  setOrder(order: Uint32Array): void {
    this.backend.write(this.order, order);
  }

  /** Steps (batches) in one pass over the set; the last batch may be partial. */
  steps(batch: number): number {
    return Math.ceil(this.count / batch);
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
    const { batch, spec } = model;
    return this.backend.dispatch(kernels.gather_batch, {
      images: this.images,
      labels_all: this.labels,
      order: this.order,
      stats: step,
      x: model.input.value,
      labels: model.labels,
    }, {
      B: batch,
      COUNT: this.count,
      ROWS: this.set.rows,
      COLS: this.set.cols,
      PAD: spec.pad,
      MEAN: this.stats.mean,
      STD: this.stats.std,
    });
  }
}

/** Bytes four to a little-endian u32 word, zero-padded to a whole word. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}
