/**
 * Pruning, as the course's lab does it with torch.nn.utils.prune: unstructured, on every layer's
 * weight (biases stay), to a target sparsity, by magnitude (per layer, or one threshold over all
 * layers) or at random; then retraining with the masks kept, all at once or gradually over epochs
 * (the cubic schedule of Zhu & Gupta 2017). The stored size of a pruned model, dense and compressed.
 *
 * The masks stay on the device: one bit per weight, and a `prune_apply_mask` dispatch after each
 * training step puts the pruned weights back to +0 after the fused SGD step moved them. For plain
 * SGD that equals PyTorch's reparametrisation (weight = weight_orig * mask): the forward and the
 * backward see zeros there, and the kept weights get the same updates.
 */
import type { Backend, Dispatch, Tensor } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
import { roundHalfEven } from "../../engine/quantization.ts";
import { Random } from "../../engine/random.ts";
import { isKept } from "../../kernels/prune/prune.ts";
import type { DeviceDataSet } from "../dataset.ts";
import { evaluate } from "../epoch.ts";
import type { Parameter } from "../layers/layer.ts";
import type { CompiledModel } from "../model.ts";
import type { EpochResult, TrainingPlan } from "../trainer.ts";
import { type EpochTrainingOptions, trainEachEpoch } from "./epochs.ts";

/** How weights are chosen: the smallest |w| (PyTorch's l1_unstructured), or uniformly at random (random_unstructured). */
export type PruneMethod = "magnitude" | "random";
/** Magnitude pruning's threshold: one per layer, or one over every layer's weights together (global_unstructured). */
export type PruneScope = "layer" | "global";

/** What to prune. */
export interface PruneOptions {
  /** Fraction of each layer's weights (or of all weights, globally) set to zero: 0 <= sparsity < 1. */
  readonly sparsity: number;
  /** Which weights go: the smallest, or random ones. */
  readonly method: PruneMethod;
  /** Magnitude only; "layer" unless given. Random pruning is always per layer. */
  readonly scope?: PruneScope;
  /** The random method's seed (0 unless given). */
  readonly seed?: number;
}

/** Refuses a sparsity that is not in [0, 1) in one line: pruning every weight leaves no model. */
export function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw new UserError(`pruning takes a sparsity from 0 to below 1 (e.g. 0.9 for 90%), not ${sparsity}`);
  }
}

/** The weights a pruning acts on: every parameter named *.weight, as the lab prunes each layer's weight. */
export function prunableParameters(model: CompiledModel): Parameter[] {
  return model.parameters.filter((p) => p.name.endsWith(".weight"));
}

/** How many of `count` weights a sparsity prunes: round half to even, as PyTorch's _compute_nparams_toprune. */
export function prunedCount(sparsity: number, count: number): number {
  return roundHalfEven(sparsity * count);
}

/**
 * Kept (1) or pruned (0) for each weight. Weights already pruned (`previous` 0) go first, so a higher
 * sparsity only adds to a mask; then the lowest scores. Ties go to the lower index.
 */
function pruneLowest(
  scores: ArrayLike<number>,
  previous: Uint8Array | undefined,
  pruned: number,
): Uint8Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const key = (i: number) => previous && previous[i] === 0 ? -1 : scores[i];
  order.sort((a, b) => key(a) - key(b) || a - b);
  const kept = new Uint8Array(scores.length).fill(1);
  for (let r = 0; r < pruned; r++) kept[order[r]] = 0;
  return kept;
}

/**
 * Masks for `weights` (by parameter name) at `options`; `previous` masks, where given, stay pruned.
 * Pure: the weights are host copies, so this is what a test checks against.
 */
export function chooseMasks(
  weights: ReadonlyMap<string, Float32Array>,
  options: PruneOptions,
  previous?: ReadonlyMap<string, Uint8Array>,
): Map<string, Uint8Array> {
  checkSparsity(options.sparsity);
  const masks = new Map<string, Uint8Array>();
  if (options.method === "random") {
    const random = new Random(options.seed ?? 0);
    for (const [name, w] of weights) {
      const scores = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) scores[i] = random.next();
      masks.set(name, pruneLowest(scores, previous?.get(name), prunedCount(options.sparsity, w.length)));
    }
    return masks;
  }
  const magnitudes = (w: Float32Array) => Float32Array.from(w, Math.abs);
  if ((options.scope ?? "layer") === "layer") {
    for (const [name, w] of weights) {
      masks.set(
        name,
        pruneLowest(magnitudes(w), previous?.get(name), prunedCount(options.sparsity, w.length)),
      );
    }
    return masks;
  }
  // Global: one ranking over every weight, then cut back into layers.
  const total = [...weights.values()].reduce((sum, w) => sum + w.length, 0);
  const all = new Float32Array(total), before = new Uint8Array(total).fill(1);
  let at = 0;
  for (const [name, w] of weights) {
    all.set(magnitudes(w), at);
    if (previous?.get(name)) before.set(previous.get(name)!, at);
    at += w.length;
  }
  const kept = pruneLowest(all, before, prunedCount(options.sparsity, total));
  at = 0;
  for (const [name, w] of weights) {
    masks.set(name, kept.slice(at, at + w.length));
    at += w.length;
  }
  return masks;
}

/** One bit per weight, 32 to a u32 word (bit i % 32 of word i / 32), as prune_apply_mask reads it. */
export function packMask(kept: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(kept.length / 32));
  for (let i = 0; i < kept.length; i++) if (kept[i]) words[i >>> 5] |= 1 << (i & 31);
  return words;
}

/** A packed mask back to one byte per weight. */
export function unpackMask(words: ArrayLike<number>, count: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, i) => isKept(words, i) ? 1 : 0);
}

/** A weight's sparsity: pruned over all. */
export function sparsityOf(kept: Uint8Array): number {
  let pruned = 0;
  for (const k of kept) pruned += k === 0 ? 1 : 0;
  return kept.length === 0 ? 0 : pruned / kept.length;
}

/**
 * A model's pruning masks on its backend. Made once per model: every weight gets an all-ones mask and,
 * for a training model, a `prune_apply_mask` after each step (so a model with nothing pruned trains as
 * before). `prune` chooses masks from the weights as they are now and zeroes the pruned ones.
 */
export class PruningMasks {
  /** Each weight's mask on the device, by parameter name. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** Host copies of the masks, one byte per weight (1 kept). */
  readonly kept: Map<string, Uint8Array>;
  readonly #apply: readonly Dispatch[];
  readonly #backend: Backend;

  /** Masks for every weight of `model`, all kept. */
  constructor(readonly model: CompiledModel) {
    const { backend } = model;
    this.#backend = backend;
    const tensors = new Map<string, Tensor>(), apply: Dispatch[] = [];
    this.kept = new Map();
    for (const p of prunableParameters(model)) {
      if (p.value.length * 4 > backend.maxBindingBytes) {
        throw new UserError(
          `${p.name} is larger than one binding holds: it cannot be pruned on this adapter`,
        );
      }
      const ones = new Uint8Array(p.value.length).fill(1);
      const mask = backend.tensor(`${p.name}.mask`, "u32", [Math.ceil(p.value.length / 32)], packMask(ones));
      tensors.set(p.name, mask);
      this.kept.set(p.name, ones);
      apply.push(backend.dispatch(kernels.prune_apply_mask, { w: p.value, mask }, { N: p.value.length }));
    }
    this.tensors = tensors;
    this.#apply = apply;
    if (model.training) model.addAfterStep(apply);
  }

  /** The weights as the model holds them now, by parameter name. */
  async weights(): Promise<Map<string, Float32Array>> {
    const values = new Map<string, Float32Array>();
    for (const p of prunableParameters(this.model)) {
      values.set(p.name, (await this.#backend.read(p.value)) as Float32Array);
    }
    return values;
  }

  /**
   * Prunes to `options.sparsity`, keeping what is already pruned, and zeroes the pruned weights now.
   * Returns each weight's sparsity.
   */
  async prune(options: PruneOptions): Promise<Map<string, number>> {
    const masks = chooseMasks(await this.weights(), options, this.kept);
    this.setMasks(masks);
    return new Map([...masks].map(([name, kept]) => [name, sparsityOf(kept)]));
  }

  /** Writes masks (by parameter name, one byte per weight) and zeroes the pruned weights now. */
  setMasks(masks: ReadonlyMap<string, Uint8Array>): void {
    for (const [name, kept] of masks) {
      const tensor = this.tensors.get(name);
      if (!tensor) throw new UserError(`${this.model.spec.name} has no weight ${name} to prune`);
      if (kept.length !== this.kept.get(name)!.length) {
        throw new UserError(
          `a mask for ${name} needs ${this.kept.get(name)!.length} values, not ${kept.length}`,
        );
      }
      this.#backend.write(tensor, packMask(kept));
      this.kept.set(name, kept);
    }
    this.#backend.run(this.#apply);
  }
}

/**
 * Zhu & Gupta's gradual pruning (2017): the sparsity epoch `epoch` (1-based) of `epochs` trains at,
 * s = final + (initial - final) (1 - (epoch - 1) / (epochs - 1))^3, from `initial` in the first epoch
 * to `final` in the last: pruning is fast at first, while many weights are redundant, and slows down.
 */
export function gradualSparsity(epoch: number, epochs: number, final: number, initial = 0): number {
  if (epochs <= 1) return final;
  const progress = Math.min(1, Math.max(0, (epoch - 1) / (epochs - 1)));
  return final + (initial - final) * (1 - progress) ** 3;
}

/** How a pruned model retrains. */
export interface RetrainOptions {
  /** Prune step by step over the epochs (gradualSparsity) instead of all at once before them. */
  readonly gradual?: boolean;
  /** Passed to each epoch's trainModel (resume and afterEpoch are this function's own). */
  readonly training?: EpochTrainingOptions;
}

/** One retraining epoch: the training figures, the sparsity it trained at, and the test after it. */
export interface PrunedEpoch extends EpochResult {
  /** The target sparsity the epoch trained at. */
  readonly sparsity: number;
}

/** What a pruning and its retraining give back. */
export interface PruneRun {
  /** The test accuracy right after pruning to the final sparsity, before any retraining (one-shot only). */
  readonly accuracyBeforeRetraining: number;
  /** One entry per retraining epoch. */
  readonly history: PrunedEpoch[];
  /** Test accuracy at the end. */
  readonly testAccuracy: number;
  /** Each weight's sparsity at the end. */
  readonly sparsity: Map<string, number>;
}

/**
 * Prunes `model` (through `masks`, made for it) to `pruning.sparsity` and retrains it for
 * `plan.epochs` epochs with the lab's SGD, the masks kept; `plan.epochs` 0 prunes and tests only.
 * Gradual: each epoch first prunes to its share of the schedule. A diverging loss throws
 * DivergedError, as trainModel does.
 */
export async function pruneAndRetrain(
  masks: PruningMasks,
  sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet },
  plan: TrainingPlan,
  pruning: PruneOptions,
  options: RetrainOptions = {},
): Promise<PruneRun> {
  checkSparsity(pruning.sparsity);
  const { model } = masks;
  const gradual = options.gradual === true && plan.epochs > 0;
  let accuracyBeforeRetraining = NaN;
  if (!gradual) {
    await masks.prune(pruning);
    accuracyBeforeRetraining = (await evaluate(model, sets.test)).accuracy;
  }
  const history: PrunedEpoch[] = [];
  const epochs = await trainEachEpoch(model, sets, plan, {
    training: options.training,
    beforeEpoch: async (epoch) => {
      if (gradual) {
        await masks.prune({ ...pruning, sparsity: gradualSparsity(epoch, plan.epochs, pruning.sparsity) });
      }
    },
  });
  // The sparsity each epoch trained at: the schedule's (gradual), or the final one throughout.
  for (const result of epochs) {
    const sparsity = gradual
      ? gradualSparsity(result.epoch, plan.epochs, pruning.sparsity)
      : pruning.sparsity;
    history.push({ ...result, sparsity });
  }
  const testAccuracy = epochs.at(-1)?.testAccuracy ?? accuracyBeforeRetraining;
  const sparsity = new Map([...masks.kept].map(([name, kept]) => [name, sparsityOf(kept)]));
  return { accuracyBeforeRetraining, history, testAccuracy, sparsity };
}
