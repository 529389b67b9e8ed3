/**
 * The library's training loop (models/trainer.ts) with the terminal's progress line, as
 * `deno task train` and the sweep use it.
 */
import type { DeviceDataSet } from "../models/dataset.ts";
import type { CompiledModel } from "../models/model.ts";
import {
  type TrainingOptions,
  type TrainingPlan,
  type TrainingRun,
  trainModel as trainWithCallbacks,
} from "../models/trainer.ts";
import { ProgressLine } from "../io/progress.ts";

export {
  DivergedError,
  type EpochResult,
  secondsPerTrainingStep,
  SHUFFLE_STREAM,
  type TrainingPlan,
  type TrainingProgress,
  type TrainingRun,
} from "../models/trainer.ts";

/** The library's options, and a label for the progress line. */
export interface StudyTrainingOptions extends TrainingOptions {
  /** Put before the progress line's "epoch 1/20", e.g. the model's name. */
  readonly progressLabel?: string;
}

/** `trainModel` of the library, drawing a progress line on a terminal (images per second). */
export async function trainModel(
  model: CompiledModel,
  sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet },
  plan: TrainingPlan,
  options: StudyTrainingOptions = {},
): Promise<TrainingRun> {
  const label = options.progressLabel ? `${options.progressLabel} ` : "";
  const progress = new ProgressLine();
  try {
    return await trainWithCallbacks(model, sets, plan, {
      ...options,
      onProgress: (epoch, done, all, seconds) => {
        progress.update(
          `${label}epoch ${epoch}/${plan.epochs}`,
          done,
          all,
          `${((done * model.batch) / Math.max(seconds, 1e-9)).toFixed(0)} img/s`,
        );
        options.onProgress?.(epoch, done, all, seconds);
      },
      onEpoch: (result, trained) => {
        progress.clear();
        options.onEpoch?.(result, trained);
      },
    });
  } finally {
    progress.clear();
  }
}
