/**
 * webgpu-lenet: a WebGPU deep-learning engine with hand-written WGSL kernels and TypeScript twins.
 *
 * ```ts
 * import { CompiledModel, createBackend, lenet5 } from "./mod.ts";
 * const backend = await createBackend("webgpu");
 * const model = new CompiledModel(backend, lenet5(), 4, 0);
 * ```
 */
export type { Backend, BackendKind, Binding, Constants, Dispatch, Tensor } from "./engine/backend.ts";
export { repeated } from "./engine/backend.ts";
export { CpuBackend } from "./engine/cpu/backend.ts";
export { WebGpuBackend } from "./engine/webgpu/backend.ts";
export { kernels } from "./engine/kernels.ts";
export { MemoryLedger } from "./engine/memory.ts";
export { Random } from "./engine/random.ts";
export { UserError } from "./engine/errors.ts";
export { decodeSafetensors, encodeSafetensors } from "./engine/safetensors.ts";
export { CompiledModel, type ModelSpec } from "./models/model.ts";
export { DeviceDataSet } from "./models/dataset.ts";
export { evaluate, trainEpoch } from "./models/training.ts";
export { mlp, modelByName } from "./models/zoo.ts";
export { decodeCheckpoint, encodeCheckpoint } from "./models/checkpoint.ts";
export { loadMnist, pixelMeanStd } from "./experiments/data.ts";
export { learningRateForEpoch, parseSchedule, PROTOCOL } from "./experiments/protocol.ts";
export { createBackend } from "./experiments/session.ts";
export { inferencePrograms, measureInference, memoryFigures } from "./experiments/measure.ts";
