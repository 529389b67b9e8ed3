/**
 * Kernels chosen by measurement. Where the registry holds variants of an op (engine/kernels.ts),
 * a model compiled with `kernels: "tuned"` binds every variant that supports the layer's shape;
 * `tune` then times them on the adapter at hand (GPU timestamps where it has them), in one pass
 * per candidate of a few dispatches back to back, round-robin so that a loaded machine slows them
 * alike, within a bounded time; keeps the fastest (each candidate's least disturbed round) and
 * caches the choice per adapter and shape.
 * The default (the registry's choice for the shape, engine/kernels.ts defaultFor) is replaced only
 * by a variant measured faster by MARGIN, so a tuned model is never slower than the fixed one by
 * more than the timing noise.
 *
 * The cache is an interface (get/set of JSON-able records): the engine touches no files; the CLIs
 * give it a file in the user's cache folder (io/tuning_cache.ts).
 */
import type { Backend, Bindings, Constants, Dispatch } from "./backend.ts";
import {
  type ConstantsOf,
  defaultFor,
  type KernelName,
  type Kernels,
  kernels,
  variantsOf,
} from "./kernels.ts";

/** "fixed": the registry's defaults, today's kernels; "tuned": variants chosen by measurement. */
export type KernelMode = "fixed" | "tuned";

/** What is cached for one adapter, op and shape. */
export interface TuningRecord {
  /** The entry point chosen. */
  readonly chosen: string;
  /** Milliseconds per dispatch of each variant timed (the fastest round). */
  readonly msByVariant: Readonly<Record<string, number>>;
  /** The clock the times were taken with. */
  readonly clock: string;
}

/** Where choices are kept between runs: JSON-able records by key (see `tuningKey`). */
export interface TuningCache {
  /** The record kept for `key`, if any. */
  get(key: string): TuningRecord | undefined;
  /** Keeps `record` for `key`. */
  set(key: string, record: TuningRecord): void;
}

/** A cache that lives as long as the process: the default, and the tests'. */
export class MemoryTuningCache implements TuningCache {
  /** The records, by key. */
  readonly records: Map<string, TuningRecord> = new Map();
  /** The record kept for `key`, if any. */
  get(key: string): TuningRecord | undefined {
    return this.records.get(key);
  }
  /** Keeps `record` for `key`. */
  set(key: string, record: TuningRecord): void {
    this.records.set(key, record);
  }
}

/** A variant must be this much faster than the default (a fraction of its time) to be chosen. */
export const MARGIN = 0.1;

/** How much time tuning may take. */
export interface TuningOptions {
  /** Dispatches back to back per timed pass. */
  readonly repeats?: number;
  /** Timed passes per candidate. */
  readonly rounds?: number;
  /** Wall-clock budget for timing the whole model, ms; slots left over keep their default. */
  readonly budgetMs?: number;
}

/** One layer kernel with variants: what was chosen and why. */
export interface KernelChoice {
  /** e.g. "fc1 forward". */
  readonly label: string;
  /** The op its variants compute. */
  readonly op: string;
  /** The registry's default (today's kernel) for this layer. */
  readonly defaultEntry: string;
  /** Undefined until tuned (or found in the cache). */
  record?: TuningRecord;
  /** Where the record came from. */
  source?: "cache" | "measured" | "over budget";
}

interface Slot {
  readonly choice: KernelChoice;
  readonly key: string;
  /** Every variant bound until `tune` settles the slot; then the chosen dispatch alone. */
  candidates: readonly Dispatch[];
  chosen: Dispatch;
}

/** The cache key: adapter, op and every shape constant but the row slice's offset. */
export function tuningKey(adapter: string, op: string, constants: Constants): string {
  const shape = Object.entries(constants).filter(([name]) => name !== "O0").sort(([a], [b]) =>
    a < b ? -1 : 1
  );
  return `${adapter}|${op}|${shape.map(([k, v]) => `${k}=${v}`).join(",")}`;
}

/**
 * Binds the kernels of one model: the default alone when fixed; when tuned, the cached choice
 * when there is one, else every variant, for `tune` to choose among.
 */
export class KernelChooser {
  readonly #slots: Slot[] = [];

  /** Binds on `backend`; `cache` holds earlier choices (a process-lifetime one by default). */
  constructor(
    readonly backend: Backend,
    readonly mode: KernelMode = "fixed",
    readonly cache: TuningCache = new MemoryTuningCache(),
  ) {}

  /**
   * Binds a kernel for `operation` (named as its plain kernel, e.g. "dense_forward"): the registry's
   * default for the shape (defaultFor) when fixed; when tuned, the cached choice if there is one,
   * else every variant, for `tune` to choose among. The model's step holds the returned dispatch.
   */
  dispatch<Op extends KernelName>(
    label: string,
    operation: Op,
    bindings: Bindings,
    given: ConstantsOf<Kernels[Op]>,
  ): Dispatch {
    const op = kernels[operation].op, constants = given as Constants;
    const kernel = defaultFor(op, constants);
    const variants = this.mode === "tuned" ? variantsOf(op, constants) : [];
    if (variants.length < 2) return this.backend.dispatch(kernel, bindings, constants);
    const key = tuningKey(this.backend.adapter.name, op, constants);
    const choice: KernelChoice = { label, op, defaultEntry: kernel.entry };
    const cached = this.cache.get(key);
    const cachedKernel = cached && variants.find((v) => v.entry === cached.chosen);
    if (cached && cachedKernel) {
      choice.record = cached;
      choice.source = "cache";
      const chosen = this.backend.dispatch(cachedKernel, bindings, constants);
      this.#slots.push({ choice, key, candidates: [chosen], chosen });
      return chosen;
    }
    const first = this.backend.dispatch(kernel, bindings, constants);
    const candidates = [
      first,
      ...variants.filter((v) => v !== kernel).map((v) => this.backend.dispatch(v, bindings, constants)),
    ];
    this.#slots.push({ choice, key, candidates, chosen: first });
    return first;
  }

  /** Every layer kernel that had variants, in build order. */
  get choices(): readonly KernelChoice[] {
    return this.#slots.map((slot) => slot.choice);
  }

  /** Dispatches the chooser holds: every candidate of a slot until `tune`, then the one it runs. */
  get heldDispatches(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.candidates.length, 0);
  }

  /**
   * Times the candidates of every slot not yet chosen and keeps the fastest, within `budgetMs` of
   * wall time (a slot started may overrun it by two runs of its candidates). Runs the kernels:
   * call it before training (the model zeroes its learning rate for it, so that the weight kernels'
   * SGD steps change nothing). Returns, per replaced dispatch, its replacement. Settles every slot:
   * each keeps only the dispatch it runs (a slot over budget, the default), so that a tuned model
   * holds no more than a fixed one (the losers' bind groups go with them) and is not tuned twice.
   */
  async tune(options: TuningOptions = {}): Promise<Map<Dispatch, Dispatch>> {
    const repeats = options.repeats ?? 5, rounds = options.rounds ?? 5, budget = options.budgetMs ?? 20_000;
    const start = performance.now();
    const replaced = new Map<Dispatch, Dispatch>();
    const measured = new Map<string, TuningRecord>();
    for (const slot of this.#slots) {
      if (slot.choice.record || slot.candidates.length < 2) continue;
      let record = measured.get(slot.key);
      if (!record) {
        if (performance.now() - start >= budget) {
          slot.choice.source = "over budget";
          continue;
        }
        // Each candidate once, untimed: a driver may build a pipeline at its first use (llvmpipe does).
        this.backend.run(slot.candidates);
        await this.backend.finish();
        record = await this.#measure(slot.candidates, repeats, rounds, budget - (performance.now() - start));
        if (!record) {
          slot.choice.source = "over budget";
          continue;
        }
        measured.set(slot.key, record);
        this.cache.set(slot.key, record);
      }
      slot.choice.record = record;
      slot.choice.source = "measured";
      const winner = slot.candidates.find((d) => d.kernel.entry === record.chosen)!;
      if (winner !== slot.chosen) replaced.set(slot.chosen, winner);
      slot.chosen = winner;
    }
    for (const slot of this.#slots) slot.candidates = [slot.chosen];
    return replaced;
  }

  /**
   * The fastest of each candidate's rounds, per dispatch (on a loaded machine the least disturbed
   * round is the best estimate of a kernel's own cost), or undefined if one pass each would exceed
   * `leftMs`. A variant that beats the default by MARGIN is timed against it once more and kept
   * only if it wins by MARGIN again.
   */
  async #measure(
    candidates: readonly Dispatch[],
    repeats: number,
    rounds: number,
    leftMs: number,
  ): Promise<TuningRecord | undefined> {
    // One dispatch each first: it tells how long a pass takes.
    const wallStart = performance.now();
    await this.backend.timeKernels(candidates.map((d) => [d]));
    const probeMs = performance.now() - wallStart;
    const fit = Math.floor((leftMs - probeMs) / Math.max(probeMs, 1e-3));
    if (fit < 1) return undefined;
    const count = Math.max(1, Math.min(repeats, Math.floor(fit / rounds)));
    const { ms, clock } = await this.#fastestRounds(candidates, count, rounds);
    const msByVariant: Record<string, number> = {};
    candidates.forEach((d, i) => msByVariant[d.kernel.entry] = ms[i]);
    let best = 0;
    ms.forEach((value, i) => {
      if (value < ms[0] * (1 - MARGIN) && value < ms[best]) best = i;
    });
    if (best > 0) {
      const again = await this.#fastestRounds([candidates[0], candidates[best]], count, rounds);
      msByVariant[candidates[0].kernel.entry] = Math.min(ms[0], again.ms[0]);
      msByVariant[candidates[best].kernel.entry] = Math.min(ms[best], again.ms[1]);
      if (!(again.ms[1] < again.ms[0] * (1 - MARGIN))) best = 0;
    }
    return { chosen: candidates[best].kernel.entry, msByVariant, clock };
  }

  /** `rounds` passes of `count` dispatches per candidate, round-robin in one submit: the fastest per dispatch. */
  async #fastestRounds(candidates: readonly Dispatch[], count: number, rounds: number) {
    const programs: Dispatch[][] = [];
    for (let r = 0; r < rounds; r++) {
      for (const d of candidates) programs.push(Array(count).fill(d));
    }
    const { msPerProgram, clock } = await this.backend.timeKernels(programs);
    const ms = candidates.map((_, i) =>
      Math.min(...Array.from({ length: rounds }, (_, r) => msPerProgram[r * candidates.length + i])) / count
    );
    return { ms, clock };
  }
}

/** One line per layer kernel: the variant it runs and how it compared with the others. */
export function describeChoices(choices: readonly KernelChoice[]): string[] {
  return choices.map((c) => {
    const record = c.record;
    if (!record) return `${c.label}: ${c.defaultEntry} (default; ${c.source ?? "not tuned"})`;
    const mine = record.msByVariant[record.chosen];
    const others = Object.entries(record.msByVariant).filter(([entry]) => entry !== record.chosen)
      .map(([entry, ms]) => `${entry} ${(ms / mine).toFixed(2)}x its time`);
    const what = record.chosen === c.defaultEntry ? "the default" : `over the default ${c.defaultEntry}`;
    return `${c.label}: ${record.chosen} (${what}; ${(mine * 1000).toFixed(1)} us; ${
      others.join(", ") || "no other variant"
    }; ${c.source})`;
  });
}
