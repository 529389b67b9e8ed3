/**
 * The trained models the page offers, as the server describes them (io/page_server.ts builds the
 * manifest from the study's results and checkpoints), and what the page says about them. No DOM types:
 * the server and the tests import this too.
 */
import { learningRateAt, type ScheduleEntry } from "../models/trainer.ts";

/** A checkpoint the page can load, with what the study measured of it. */
export interface PageModel {
  /** The zoo's name: "lenet5", "mlp-200-70". */
  readonly model: string;
  /** What a person calls it. */
  readonly label: string;
  /** Where the page fetches the safetensors bytes (relative to the page). */
  readonly url: string;
  /** The file in the repository. */
  readonly checkpoint: string;
  readonly bytes: number;
  readonly parameters: number;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly schedule: string;
  /** Test accuracy after its training, on `testImages` MNIST test images (null: not recorded). */
  readonly testAccuracy: number;
  readonly testImages: number | null;
  /** The path and adapter it was trained on: "the webgpu path (llvmpipe ...)". */
  readonly trainedOn: string;
  /** Where the figures above come from: the study's results row, or the checkpoint's own metadata. */
  readonly source: string;
  /** The normalisation it was trained with. */
  readonly stats: { readonly mean: number; readonly std: number };
}

/** An offered model whose checkpoint is not there (or not a finished one), and how to make it. */
export interface MissingModel {
  readonly model: string;
  readonly label: string;
  readonly checkpoint: string;
  readonly reason: string;
  /** The documented command that trains it. */
  readonly command: string;
}

/** What `/models/manifest.json` holds: the loadable models in the page's order of preference. */
export interface PageManifest {
  readonly models: readonly PageModel[];
  readonly missing: readonly MissingModel[];
}

/** The one line a missing checkpoint gets on the page. */
export function missingLine(missing: MissingModel): string {
  return `${missing.label}: ${missing.checkpoint} ${missing.reason}; train it with ${missing.command}`;
}

/** Which model, its test accuracy and where it came from, in one sentence. */
export function provenanceLine(model: PageModel): string {
  const images = model.testImages === null
    ? "the MNIST test set"
    : `${model.testImages.toLocaleString("en-US")} MNIST test images`;
  const accuracy = `test accuracy ${model.testAccuracy.toFixed(4)} on ${images}`;
  return `${model.label} (${model.parameters.toLocaleString("en-US")} parameters, ` +
    `${(model.bytes / 1000).toFixed(0)} kB): ${accuracy}; trained by the study for ${model.epochs} epochs ` +
    `from seed ${model.seed}, batch ${model.batchSize}, learning rates ${model.schedule}, on ${model.trainedOn}. ` +
    `Source: ${model.source}.`;
}

/**
 * The learning rates of `epochs` more epochs after `epochsDone`, as a schedule from epoch 1: fine-tuning
 * a model trained by the lab's protocol continues where its schedule ended, not at its first rate.
 */
export function continuedSchedule(
  schedule: readonly ScheduleEntry[],
  epochsDone: number,
  epochs: number,
): ScheduleEntry[] {
  const entries: ScheduleEntry[] = [];
  for (let epoch = 1; epoch <= Math.max(1, epochs); epoch++) {
    const rate = learningRateAt(epochsDone + epoch, schedule);
    if (entries.at(-1)?.rate !== rate) entries.push({ fromEpoch: epoch, rate });
  }
  return entries;
}

/** A schedule as the form and the lab's flags write it: "1:0.0005,3:0.0002". */
export function formatSchedule(schedule: readonly ScheduleEntry[]): string {
  return schedule.map((entry) => `${entry.fromEpoch}:${entry.rate}`).join(",");
}
