/**
 * A study checkpoint the compression study lacks, trained with the lab's protocol (its batch, schedule
 * and shuffling seed; the model's own initialisation seed), resumable: after each epoch the weights and
 * the shuffling state go to `<path>.state.safetensors`, from which a rerun goes on exactly where it left
 * off; at the end the checkpoint is written and the state removed.
 */
import type { Backend } from "../../engine/backend.ts";
import { decodeSafetensors } from "../../engine/safetensors.ts";
import { writeFileAtomic } from "../../io/files.ts";
import { encodeCheckpoint } from "../../models/checkpoint.ts";
import { evaluate } from "../../models/epoch.ts";
import { CompiledModel } from "../../models/model.ts";
import { type TrainingProgress, trainModel } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import { parseSchedule, PROTOCOL } from "../protocol.ts";
import { deviceDataSets, type StudyData } from "../session.ts";

/** Trains `name` from `seed` for `epochs` epochs and saves it at `path`; returns its test accuracy. */
export async function trainStudyCheckpoint(
  backend: Backend,
  name: string,
  seed: number,
  data: StudyData,
  path: string,
  epochs: number = PROTOCOL.epochs,
  /** Called after each epoch's state is saved (a test interrupts the run here). */
  onSaved?: (epoch: number) => void,
): Promise<number> {
  const statePath = `${path}.state.safetensors`;
  const model = new CompiledModel(backend, modelByName(name), PROTOCOL.batchSize, seed, { training: true });
  const sets = deviceDataSets(backend, data);
  const plan = {
    epochs,
    schedule: parseSchedule(PROTOCOL.learningRateSchedule),
    seed: PROTOCOL.seed,
    trainCount: data.trainCount,
  };
  const stamp = {
    model: name,
    seed: String(seed),
    trainCount: String(data.trainCount),
    epochs: String(epochs),
  };
  let resume: TrainingProgress | undefined;
  try {
    const state = decodeSafetensors(await Deno.readFile(statePath), statePath);
    if (Object.entries(stamp).every(([key, value]) => state.metadata[key] === value)) {
      model.loadParameters(new Map([...state.tensors].map(([key, tensor]) => [key, tensor.data])));
      resume = JSON.parse(state.metadata.progress);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    await trainModel(model, sets, plan, {
      resume,
      testEachEpoch: false,
      afterEpoch: async (progress) => {
        const bytes = await encodeCheckpoint(model, { ...stamp, progress: JSON.stringify(progress) });
        await writeFileAtomic(statePath, bytes);
        onSaved?.(progress.epoch);
      },
    });
    const { accuracy } = await evaluate(model, sets.test);
    const metadata = {
      seed: String(seed),
      epochs: String(epochs),
      testAccuracy: String(accuracy),
      pixelMean: String(data.stats.mean),
      pixelStd: String(data.stats.std),
    };
    await writeFileAtomic(path, await encodeCheckpoint(model, metadata));
    await Deno.remove(statePath).catch(() => {});
    return accuracy;
  } finally {
    sets.train.release();
    sets.test.release();
  }
}
