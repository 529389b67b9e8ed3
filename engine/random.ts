/**
 * A small seeded generator (PCG32, O'Neill 2014) for initialisation and shuffling: the same seed
 * gives the same model and the same batches on every backend and every run.
 */
export class Random {
  #state = 0n;
  static readonly #MULTIPLIER = 6364136223846793005n;
  static readonly #INCREMENT = 1442695040888963407n;
  static readonly #MASK = (1n << 64n) - 1n;

  constructor(seed: number) {
    this.#step();
    this.#state = (this.#state + BigInt(seed)) & Random.#MASK;
    this.#step();
  }

  #step(): void {
    this.#state = (this.#state * Random.#MULTIPLIER + Random.#INCREMENT) & Random.#MASK;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const old = this.#state;
    this.#step();
    const xorShifted = Number(((old >> 18n) ^ old) >> 27n & 0xffffffffn);
    const rotation = Number(old >> 59n);
    return ((xorShifted >>> rotation) | (xorShifted << ((32 - rotation) & 31))) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in (-bound, bound), as PyTorch's default initialisation draws. */
  symmetric(bound: number): number {
    return (2 * this.next() - 1) * bound;
  }

  /** Fisher-Yates shuffle of 0 .. n-1. */
  permutation(n: number): Uint32Array {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
    return order;
  }
}
