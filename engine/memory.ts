/**
 * The memory ledger: every GPU buffer and CPU typed array the engine creates is entered here, so live
 * and peak bytes per device are counted, not estimated. That is the tensors, and also what the
 * instrument itself allocates: readback staging buffers, timestamp query sets with their resolve and
 * readback buffers, and the CPU twins' scratch arrays (each once, when it first grows).
 */
export type MemoryDevice = "gpu" | "cpu";

/** Bytes in use on one device now, and the most at any moment. */
export interface MemoryCount {
  /** Bytes allocated and not freed. */
  live: number;
  /** The largest `live` has been. */
  peak: number;
}

/** Counts every byte a backend allocates and frees, per device. */
export class MemoryLedger {
  readonly #counts: Record<MemoryDevice, MemoryCount> = {
    gpu: { live: 0, peak: 0 },
    cpu: { live: 0, peak: 0 },
  };

  /** Enters an allocation. */
  allocate(device: MemoryDevice, bytes: number): void {
    const count = this.#counts[device];
    count.live += bytes;
    count.peak = Math.max(count.peak, count.live);
  }

  /** Enters a release. */
  free(device: MemoryDevice, bytes: number): void {
    this.#counts[device].live -= bytes;
  }

  /** Bytes in use now. */
  live(device: MemoryDevice): number {
    return this.#counts[device].live;
  }

  /** The most bytes in use at any moment so far. */
  peak(device: MemoryDevice): number {
    return this.#counts[device].peak;
  }
}
