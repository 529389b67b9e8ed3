/**
 * The memory ledger: every GPU buffer and CPU typed array the engine creates is entered here,
 * so live and peak bytes per device are counted, not estimated.
 */
export type MemoryDevice = "gpu" | "cpu";

export interface MemoryCount {
  live: number;
  peak: number;
}

export class MemoryLedger {
  readonly #counts: Record<MemoryDevice, MemoryCount> = {
    gpu: { live: 0, peak: 0 },
    cpu: { live: 0, peak: 0 },
  };

  allocate(device: MemoryDevice, bytes: number): void {
    const count = this.#counts[device];
    count.live += bytes;
    count.peak = Math.max(count.peak, count.live);
  }

  free(device: MemoryDevice, bytes: number): void {
    this.#counts[device].live -= bytes;
  }

  live(device: MemoryDevice): number {
    return this.#counts[device].live;
  }

  peak(device: MemoryDevice): number {
    return this.#counts[device].peak;
  }
}
