/** Running a trained model on images of one's own: logits and the predicted class of each. */
import { UserError } from "../engine/errors.ts";
import { DeviceDataSet, type LabelledImages, type PixelStats } from "./dataset.ts";
import type { CompiledModel } from "./model.ts";

/** What `predict` gives back for `count` images. */
export interface Prediction {
  /** [count, classes], row after row. */
  readonly logits: Float32Array;
  /** The class with the largest logit, per image (the first of equal ones, as the loss kernel picks). */
  readonly classes: number[];
}

/**
 * Runs the model forward on `images` (any number of them: batch after batch), normalised with
 * `stats` and padded as the model's training data were, by the same gather kernel. The images'
 * shape must fit the model, as for training.
 */
export async function predict(
  model: CompiledModel,
  images: Omit<LabelledImages, "labels" | "classes">,
  stats: PixelStats,
): Promise<Prediction> {
  const { backend, batch, spec } = model;
  if (!Number.isSafeInteger(images.count) || images.count < 1) {
    throw new UserError(`predict: count is ${images.count}, expected at least one image`);
  }
  const set = new DeviceDataSet(backend, "predict", {
    ...images,
    labels: new Uint8Array(images.count),
    classes: spec.classes,
  }, stats);
  const step = backend.tensor("predict.step", "u32", [1]);
  try {
    const program = [set.gatherAt(model, step), ...model.forward];
    const logits = new Float32Array(images.count * spec.classes);
    for (let s = 0; s < set.steps(batch); s++) {
      backend.write(step, [s]);
      backend.run(program);
      const values = (await backend.read(model.logits.value)) as Float32Array;
      const samples = Math.min(batch, images.count - s * batch);
      logits.set(values.subarray(0, samples * spec.classes), s * batch * spec.classes);
    }
    const classes = Array.from({ length: images.count }, (_, n) => {
      let best = 0;
      for (let c = 1; c < spec.classes; c++) {
        if (logits[n * spec.classes + c] > logits[n * spec.classes + best]) best = c;
      }
      return best;
    });
    return { logits, classes };
  } finally {
    set.release();
    backend.release(step);
  }
}
