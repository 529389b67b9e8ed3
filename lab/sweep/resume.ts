/**
 * What survives a sweep's process: the training state saved after each epoch (weights and the shuffling
 * stream, OUT.state/MODEL-seedS.safetensors), from which a killed sweep resumes at the next epoch, and the
 * checkpoints of --save-dir, from which a rerun measures without training. Both are the library's
 * checkpoints (models/checkpoint.ts), with the protocol they were trained with in their metadata.
 */
import { UserError } from "../../engine/errors.ts";
import { loadCheckpoint, loadSafetensors, saveCheckpoint } from "../../io/checkpoint_file.ts";
import type { CompiledModel } from "../../models/model.ts";
import type { TrainingProgress } from "../../models/trainer.ts";
import { formatSchedule, oneLine, type Sweep, type Task } from "./plan.ts";
import type { Trained } from "./rows.ts";

/** Where a task's training state waits between epochs: OUT.state/MODEL-seedS.safetensors. */
export function statePath(sweep: Sweep, task: Pick<Task, "model" | "seed">): string {
  return `${sweep.stateDir}/${task.model}-seed${task.seed}.safetensors`;
}

/** Removes a task's training state once it has served (or cannot serve). */
export async function removeState(sweep: Sweep, task: Task): Promise<void> {
  await Deno.remove(statePath(sweep, task)).catch(() => {});
}

/** Saves what resumes this task's training after `progress.epoch` epochs, atomically. */
export async function saveState(sweep: Sweep, task: Task, model: CompiledModel, progress: TrainingProgress) {
  await saveCheckpoint(model, statePath(sweep, task), {
    ...protocolMetadata(sweep, task),
    epochsDone: String(progress.epoch),
    shuffleState: progress.shuffleState.join(","),
    trainSeconds: String(progress.trainSeconds),
    submits: String(progress.submits),
  });
}

/** The saved state of an interrupted training of this task, loaded into `model`, if there is one. */
export async function loadState(
  sweep: Sweep,
  task: Task,
  model: CompiledModel,
  tag: string,
): Promise<TrainingProgress | undefined> {
  const path = statePath(sweep, task);
  let metadata: Record<string, string>;
  try {
    metadata = (await loadSafetensors(path)).metadata;
  } catch (error) {
    const missing = error instanceof UserError && /no such file/.test(error.message);
    if (!missing) console.log(`${tag}: not resuming from ${path} (${oneLine((error as Error).message)})`);
    return undefined;
  }
  const expected = protocolMetadata(sweep, task);
  const differs = Object.keys(expected).find((key) => metadata[key] !== expected[key]);
  const epoch = Number(metadata.epochsDone);
  if (differs || !(Number.isInteger(epoch) && epoch >= 1 && epoch < sweep.epochs)) {
    console.log(
      `${tag}: not resuming from ${path} (${differs ? `another ${differs}` : "no epoch to resume"})`,
    );
    return undefined;
  }
  await loadCheckpoint(model, path);
  return {
    epoch,
    shuffleState: metadata.shuffleState.split(",").map(Number),
    trainSeconds: Number(metadata.trainSeconds),
    submits: Number(metadata.submits),
  };
}

export function checkpointPath(saveDir: string, task: Pick<Task, "model" | "seed">): string {
  return `${saveDir}/${task.model}-seed${task.seed}.safetensors`;
}

/** What a checkpoint must have been trained with to stand in for training now. */
export function protocolMetadata(sweep: Sweep, task: Pick<Task, "model" | "seed">): Record<string, string> {
  return {
    model: task.model,
    epochs: String(sweep.epochs),
    seed: String(task.seed),
    batchSize: String(sweep.batchSize),
    learningRateSchedule: formatSchedule(sweep.schedule),
    trainImagesPerEpoch: String(sweep.data.trainCount),
    trainBackend: sweep.trainBackend,
    pixelMean: String(sweep.data.stats.mean),
    pixelStd: String(sweep.data.stats.std),
  };
}

/**
 * Why the checkpoint at `path` cannot stand for this task's training (missing, unreadable, trained with
 * another protocol), or undefined when it can.
 */
export async function checkpointTrainedAs(
  sweep: Sweep,
  task: Pick<Task, "model" | "seed">,
  path: string,
): Promise<string | undefined> {
  let metadata: Record<string, string>;
  try {
    metadata = (await loadSafetensors(path)).metadata;
  } catch (error) {
    const missing = error instanceof UserError && /no such file/.test(error.message);
    return missing ? `no checkpoint ${path}` : `${path}: ${oneLine((error as Error).message)}`;
  }
  const expected = protocolMetadata(sweep, task);
  const differs = Object.keys(expected).find((key) => metadata[key] !== expected[key]);
  return differs ? `${path} was trained with another ${differs}` : undefined;
}

/** The model as an earlier run saved it in --save-dir, if it was trained exactly as this run would. */
export async function fromCheckpoint(sweep: Sweep, task: Task, tag: string): Promise<Trained | undefined> {
  if (!sweep.saveDir) return undefined;
  const path = checkpointPath(sweep.saveDir, task);
  const problem = await checkpointTrainedAs(sweep, task, path);
  if (problem) {
    if (!problem.startsWith("no checkpoint")) {
      console.log(`${tag}: not using it (${problem}); training again`);
    }
    return undefined;
  }
  const { metadata } = await loadSafetensors(path);
  console.log(`${tag}: trained in an earlier run, measuring ${path}`);
  return {
    parameters: Number(metadata.parameters),
    trainSeconds: Number(metadata.trainSeconds),
    peakTrainBytes: Number(metadata.peakTrainBytes),
    load: (model) => loadCheckpoint(model, path),
  };
}
