/**
 * A small seeded generator (xoshiro128**, Blackman and Vigna 2018; 32-bit arithmetic, so fast in
 * JavaScript) for initialisation and shuffling: the same seed gives the same model and the same
 * batches on every backend and every run.
 */
export class Random {
  readonly #s = new Uint32Array(4);

  /** A generator seeded with `seed`: the same seed gives the same numbers everywhere. */
  constructor(seed: number) {
    // splitmix32 spreads the seed over the four words of state.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** The generator's four words of state, to resume it later with `Random.fromState`. */
  state(): number[] {
    return [...this.#s];
  }

  /** A generator that continues exactly where the one whose `state()` this is stopped. */
  static fromState(words: readonly number[]): Random {
    if (words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RangeError(`a generator's state is four 32-bit words, not [${words.join(", ")}]`);
    }
    const random = new Random(0);
    random.#s.set(words);
    return random;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
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

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
