/**
 * Training over epochs as one function (the lab's protocol is one use of it): a reshuffle per epoch
 * from the seed's shuffling stream, the learning rate of each epoch from a schedule, a test after each
 * epoch, callbacks for progress and for saving what a resume needs, and a stop with a clear message
 * when the loss stops being a number. The train command, the sweep and the web page all
 * train with it; a terminal draws its progress line with io/progress.ts.
 */
import { UserError } from "../engine/errors.ts";
import { Random } from "../engine/random.ts";
import type { DeviceDataSet } from "./dataset.ts";
import type { CompiledModel } from "./model.ts";
import { evaluate, type PassResult, type PassTotals, trainEpoch } from "./epoch.ts";

/** From epoch `fromEpoch` on (until the next entry), the learning rate is `rate`. */
export interface ScheduleEntry {
  /** First epoch, from 1. */
  readonly fromEpoch: number;
  /** The rate. */
  readonly rate: number;
}

/** The learning rate of a 1-based epoch under a schedule: the last entry that has begun. */
export function learningRateAt(epoch: number, schedule: readonly ScheduleEntry[]): number {
  let rate = schedule[0].rate;
  for (const entry of schedule) if (epoch >= entry.fromEpoch) rate = entry.rate;
  return rate;
}

/** A seed's shuffling stream, apart from its initialisation stream. */
export const SHUFFLE_STREAM = 0x5eed;

/** The loss became NaN or infinite: the run is over, and a lower learning rate is the fix. */
export class DivergedError extends UserError {}

/** What to train: how long, at which rates, from which seed, on how many images. */
export interface TrainingPlan {
  /** Epochs in all (a resumed run counts the finished ones too). */
  readonly epochs: number;
  /** Learning rates by epoch, the first entry from epoch 1. */
  readonly schedule: readonly ScheduleEntry[];
  /** The shuffling stream's seed (the model's initialisation has its own). */
  readonly seed: number;
  /** Training images in use (the first ones of the set). */
  readonly trainCount: number;
}

/** One epoch's figures. */
export interface EpochResult {
  /** 1-based. */
  readonly epoch: number;
  /** The rate it trained at. */
  readonly learningRate: number;
  /** Mean per-sample training loss over the epoch. */
  readonly trainLoss: number;
  /** NaN when the run does not test after each epoch. */
  readonly testAccuracy: number;
  /** Wall time of its training pass. */
  readonly seconds: number;
}

/** What `trainModel` gives back. */
export interface TrainingRun {
  /** One entry per epoch trained. */
  readonly history: EpochResult[];
  /** Seconds spent in training passes, without the test passes. */
  readonly trainSeconds: number;
  /** Command-buffer submits in all (0 on the CPU). */
  readonly submits: number;
  /** After the last epoch (or of the untrained model when there are no epochs); NaN if not tested. */
  readonly testAccuracy: number;
}

/** Where an interrupted run stands after its last finished epoch: enough to continue it exactly. */
export interface TrainingProgress {
  /** Epochs finished (1-based number of the last one). */
  readonly epoch: number;
  /** The shuffling generator's state after that epoch's permutation. */
  readonly shuffleState: readonly number[];
  /** Training seconds so far. */
  readonly trainSeconds: number;
  /** Submits so far. */
  readonly submits: number;
}

/** How `trainModel` reports and resumes. */
export interface TrainingOptions {
  /**
   * Continue a run whose model already holds the weights after `resume.epoch` epochs: training
   * starts at the next epoch with the shuffling stream where it was, so the result equals an
   * uninterrupted run's. The history then holds the new epochs only.
   */
  readonly resume?: TrainingProgress;
  /** Called after each epoch, awaited before the next: e.g. to save the state a resume needs. */
  readonly afterEpoch?: (progress: TrainingProgress) => Promise<void> | void;
  /** Test after each epoch (default true); the sweep measures accuracy on each path instead. */
  readonly testEachEpoch?: boolean;
  /** Called a few times a second within an epoch: steps done of all, seconds so far, the totals so far. */
  readonly onProgress?: (
    epoch: number,
    stepsDone: number,
    steps: number,
    seconds: number,
    totals: PassTotals,
  ) => void;
  /** Train at most this many steps in all (a short run); the epoch it ends in is tested as usual. */
  readonly maxSteps?: number;
  /** At most this many steps per submit, so that onProgress comes at least that often (a live curve). */
  readonly maxChunkSteps?: number;
  /** Read the loss sum at each progress readback too (PassTotals.lossSum), for a live loss curve. */
  readonly readLoss?: boolean;
  /**
   * Asked after each chunk of steps: true ends the run there; the epoch cut short is tested (when the
   * run tests) and reported by onEpoch, but not to afterEpoch, since it cannot be resumed exactly.
   */
  readonly shouldStop?: () => boolean;
  /** Called after each epoch, e.g. to print its line. */
  readonly onEpoch?: (result: EpochResult, trained: PassResult) => void;
  /**
   * Called before each epoch trains with the exact order its batches visit the samples in (the
   * array the gather reads; do not change it): how a crosscheck hands another framework the same order.
   */
  readonly onOrder?: (epoch: number, order: Uint32Array) => void;
}

/**
 * Trains `model` on `sets.train` for `plan.epochs` epochs with plain SGD, reshuffling each epoch, and
 * tests it on `sets.test` after each (unless told not to). A NaN or infinite loss ends the run with a
 * DivergedError.
 */
export async function trainModel(
  model: CompiledModel,
  sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet },
  plan: TrainingPlan,
  options: TrainingOptions = {},
): Promise<TrainingRun> {
  const testEachEpoch = options.testEachEpoch ?? true;
  const { epochs } = plan;
  const { resume } = options;
  const shuffle = resume ? Random.fromState(resume.shuffleState) : new Random(plan.seed + SHUFFLE_STREAM);
  const history: EpochResult[] = [];
  let trainSeconds = resume?.trainSeconds ?? 0, testAccuracy = NaN, submits = resume?.submits ?? 0;
  const { onProgress, maxSteps = Infinity, shouldStop } = options;
  let stepsRun = 0, cutShort = false;
  for (let epoch = (resume?.epoch ?? 0) + 1; epoch <= epochs && !cutShort; epoch++) {
    const rate = learningRateAt(epoch, plan.schedule);
    const fullSteps = sets.train.steps(model.batch);
    const order = shuffle.permutation(plan.trainCount);
    options.onOrder?.(epoch, order);
    const trained = await trainEpoch(model, sets.train, rate, order, {
      onProgress: onProgress && ((done, all, s, totals) => onProgress(epoch, done, all, s, totals)),
      maxSteps: maxSteps - stepsRun,
      maxChunkSteps: options.maxChunkSteps,
      readLoss: options.readLoss,
      shouldStop,
    });
    stepsRun += trained.steps;
    cutShort = trained.steps < fullSteps || stepsRun >= maxSteps;
    if (!Number.isFinite(trained.loss)) {
      throw new DivergedError(
        `loss became ${trained.loss} in epoch ${epoch}: lower the learning rate (--lr-schedule)`,
      );
    }
    if (testEachEpoch) testAccuracy = (await evaluate(model, sets.test)).accuracy;
    trainSeconds += trained.seconds;
    submits += trained.submits;
    const result = {
      epoch,
      learningRate: rate,
      trainLoss: trained.loss,
      testAccuracy,
      seconds: trained.seconds,
    };
    history.push(result);
    options.onEpoch?.(result, trained);
    if (trained.steps === fullSteps) {
      await options.afterEpoch?.({ epoch, shuffleState: shuffle.state(), trainSeconds, submits });
    }
  }
  if (epochs === 0 && testEachEpoch) testAccuracy = (await evaluate(model, sets.test)).accuracy;
  return { history, trainSeconds, submits, testAccuracy };
}

/**
 * Seconds one training step of `model` takes here, for estimating a run before paying for it: after a
 * warm-up step (pipelines, first submit), chunks of steps in one submit, growing until a chunk takes
 * about `seconds`, as an epoch's chunks do; the chunk's wait for the GPU is part of the cost.
 */
export async function secondsPerTrainingStep(
  model: CompiledModel,
  train: DeviceDataSet,
  learningRate: number,
  seconds = 0.5,
): Promise<number> {
  const { backend } = model;
  const step = model.trainStep(train.gatherFor(model));
  const limit = train.steps(model.batch);
  model.setLearningRate(learningRate);
  let count = 1, perStep = NaN;
  for (let warm = true;; warm = false) {
    // Each chunk starts its step counter (the gather's batch number) at 0, so it stays inside the set.
    model.resetTotals();
    const start = performance.now();
    backend.run(step, count);
    await backend.read(model.stats);
    const took = (performance.now() - start) / 1000;
    perStep = took / count;
    if (!warm && (took >= seconds / 2 || count >= limit)) return perStep;
    count = Math.min(limit, Math.max(2 * count, Math.ceil(seconds / Math.max(perStep, 1e-6))));
  }
}
