/**
 * Observers, in torch.ao.quantization's vocabulary: each sees an activation's values batch after batch
 * during calibration and gives the range its scale and zero point are computed from.
 */
import { UserError } from "../../engine/errors.ts";

/** Sees values, gives a range. */
export interface Observer {
  /** Takes in one batch's values. */
  observe(values: ArrayLike<number>): void;
  /** The range seen (both 0 before any value: a range always holds 0 once quantized). */
  range(): { min: number; max: number };
}

/** PyTorch's MinMaxObserver: the smallest and largest value seen. */
export class MinMaxObserver implements Observer {
  #min = Infinity;
  #max = -Infinity;

  observe(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < this.#min) this.#min = v;
      if (v > this.#max) this.#max = v;
    }
  }

  range(): { min: number; max: number } {
    return this.#min <= this.#max ? { min: this.#min, max: this.#max } : { min: 0, max: 0 };
  }
}

/**
 * The `percentile` and 100 - `percentile` percentiles of every value seen (e.g. 99.99: the largest
 * 0.01% of values on either side are clipped, which buys resolution for the rest). Keeps the values:
 * calibration sets are small (N images).
 */
export class PercentileObserver implements Observer {
  readonly #batches: Float32Array[] = [];

  /** `percentile` in (50, 100]: 99.99 clips the top and bottom 0.01%. */
  constructor(readonly percentile: number) {
    if (!(percentile > 50 && percentile <= 100)) {
      throw new UserError(`a percentile observer takes a percentile in (50, 100], not ${percentile}`);
    }
  }

  observe(values: ArrayLike<number>): void {
    this.#batches.push(Float32Array.from(values));
  }

  range(): { min: number; max: number } {
    const length = this.#batches.reduce((sum, b) => sum + b.length, 0);
    if (length === 0) return { min: 0, max: 0 };
    const all = new Float32Array(length);
    let at = 0;
    for (const batch of this.#batches) {
      all.set(batch, at);
      at += batch.length;
    }
    all.sort();
    // Nearest rank, as numpy's percentile with method "nearest" rounds the position.
    const rank = (p: number) => all[Math.min(length - 1, Math.max(0, Math.round((p / 100) * (length - 1))))];
    return { min: rank(100 - this.percentile), max: rank(this.percentile) };
  }
}

/** An observer by name: "minmax" or "percentile" (99.99 unless given). */
export type ObserverKind = { kind: "minmax" } | { kind: "percentile"; percentile?: number };

/** A fresh observer of this kind. */
export function makeObserver(kind: ObserverKind): Observer {
  return kind.kind === "minmax" ? new MinMaxObserver() : new PercentileObserver(kind.percentile ?? 99.99);
}
