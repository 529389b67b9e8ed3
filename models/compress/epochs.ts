/**
 * Retraining one epoch at a time, for the compression methods that act between epochs (gradual
 * pruning prunes before each; quantization-aware training stops its observers for each test): each
 * epoch is a trainModel call resumed exactly where the last ended, so the shuffle is the
 * uninterrupted run's.
 */
import type { DeviceDataSet } from "../dataset.ts";
import { evaluate } from "../epoch.ts";
import type { CompiledModel } from "../model.ts";
import {
  type EpochResult,
  type TrainingOptions,
  type TrainingPlan,
  type TrainingProgress,
  trainModel,
} from "../trainer.ts";

/** trainModel's options, less those this loop sets itself. */
export type EpochTrainingOptions = Omit<TrainingOptions, "resume" | "afterEpoch" | "testEachEpoch">;

/** What happens around each epoch. */
export interface EpochHooks {
  /** Before the epoch trains (1-based). */
  readonly beforeEpoch?: (epoch: number) => Promise<void> | void;
  /** Before each test. */
  readonly beforeTest?: () => void;
  /** After each test. */
  readonly afterTest?: () => void;
  /** Passed to each epoch's trainModel. */
  readonly training?: EpochTrainingOptions;
}

/**
 * Trains `plan.epochs` epochs, testing after each; a cut-short epoch (maxSteps, shouldStop) ends the
 * run, since it cannot be resumed exactly. A diverging loss throws DivergedError, as trainModel does.
 */
export async function trainEachEpoch(
  model: CompiledModel,
  sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet },
  plan: TrainingPlan,
  hooks: EpochHooks = {},
): Promise<EpochResult[]> {
  const history: EpochResult[] = [];
  let progress: TrainingProgress | undefined;
  for (let epoch = 1; epoch <= plan.epochs; epoch++) {
    await hooks.beforeEpoch?.(epoch);
    const run = await trainModel(model, sets, { ...plan, epochs: epoch }, {
      ...hooks.training,
      resume: progress,
      testEachEpoch: false,
      afterEpoch: (p) => void (progress = p),
    });
    hooks.beforeTest?.();
    const { accuracy } = await evaluate(model, sets.test);
    hooks.afterTest?.();
    history.push({ ...run.history[0], testAccuracy: accuracy });
    if (progress?.epoch !== epoch) break;
  }
  return history;
}
