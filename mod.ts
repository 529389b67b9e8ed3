/**
 * webgpu-lenet: a WebGPU deep-learning engine with hand-written WGSL kernels and TypeScript twins of
 * every kernel (the CPU path). Define a model from layers, compile it for a backend and a batch size,
 * train it on your own images, evaluate it, run it, and save its parameters as safetensors bytes.
 * The same modules run in Deno (`--unstable-webgpu`), from a URL and in a browser; the Deno side's
 * files and WebGPU set-up are in `./io`, the lab's study (MNIST, its protocol, measurement) in `./study`.
 *
 * ```ts
 * import {
 *   channelMeanStd,
 *   CompiledModel,
 *   createBackend,
 *   DeviceDataSet,
 *   encodeCheckpoint,
 *   evaluate,
 *   lenet5,
 *   predict,
 *   trainEpoch,
 * } from "./mod.ts";
 *
 * // 64 random 28x28 "digits" of 10 classes, as bytes; any C x H x W, bytes or float32, will do.
 * const count = 64;
 * const images = Uint8Array.from({ length: count * 28 * 28 }, (_, i) => (i * 37) % 256);
 * const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
 * const set = { images, labels, count, channels: 1, rows: 28, cols: 28, classes: 10 };
 *
 * const backend = await createBackend("cpu"); // or "webgpu"
 * const model = new CompiledModel(backend, lenet5(), 4, 0); // batch 4, seed 0
 * const stats = channelMeanStd(set);
 * const data = new DeviceDataSet(backend, "mine", set, stats);
 * const trained = await trainEpoch(model, data, 0.0005, Uint32Array.from({ length: count }, (_, i) => i));
 * const { accuracy } = await evaluate(model, data);
 * const { classes } = await predict(model, { ...set, count: 1, images: images.subarray(0, 784) }, stats);
 * const checkpoint: Uint8Array = await encodeCheckpoint(model, { note: "one epoch" });
 * console.log(JSON.stringify({ loss: trained.loss, accuracy, classes, bytes: checkpoint.length }));
 * backend.destroy();
 * ```
 *
 * @module
 */
export type {
  AdapterDescription,
  Backend,
  BackendKind,
  Binding,
  Bindings,
  Constants,
  Dispatch,
  DType,
  KernelTimes,
  Tensor,
  TensorSlice,
} from "./engine/backend.ts";
export { elementCount, repeated } from "./engine/backend.ts";
export { createBackend } from "./engine/create.ts";
export { CpuBackend } from "./engine/cpu/backend.ts";
export { WebGpuBackend } from "./engine/webgpu/backend.ts";
export {
  type ConstantsOf,
  defaultFor,
  type KernelName,
  type Kernels,
  kernels,
  variantsOf,
} from "./engine/kernels.ts";
export type { ConstantDefault, ConstantValues, Kernel, KernelConstants } from "./engine/kernel.ts";
export type {
  ActivationKernel,
  ActivationKernelName,
  ActivationKernels,
} from "./kernels/activation/registry.ts";
export type { Conv2dKernel, Conv2dKernelName, Conv2dKernels } from "./kernels/conv2d/registry.ts";
export type { DenseKernel, DenseKernelName, DenseKernels } from "./kernels/dense/registry.ts";
export type { GatherKernel, GatherKernelName, GatherKernels } from "./kernels/gather/registry.ts";
export type { LossKernel, LossKernelName, LossKernels } from "./kernels/loss/registry.ts";
export type { PoolKernel, PoolKernelName, PoolKernels } from "./kernels/pool/registry.ts";
export type { ShaderEntries, ShaderOverrides } from "./engine/webgpu/wgsl.generated.ts";
export type { Twin, TwinBindings } from "./engine/cpu/twin.ts";
export {
  type KernelChoice,
  KernelChooser,
  type KernelMode,
  MemoryTuningCache,
  type TuningCache,
  type TuningOptions,
  type TuningRecord,
} from "./engine/tuner.ts";
export { type MemoryCount, type MemoryDevice, MemoryLedger } from "./engine/memory.ts";
export { Random } from "./engine/random.ts";
export { UserError } from "./engine/errors.ts";
export {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "./engine/safetensors.ts";
export type { Activation, BuildContext, BuiltLayer, Layer, Parameter } from "./models/layers/layer.ts";
export { ACT, type ActivationName } from "./engine/constants.ts";
export { ActivationLayer, relu, tanh } from "./models/layers/activation.ts";
export { Conv2d } from "./models/layers/conv2d.ts";
export { Dense } from "./models/layers/dense.ts";
// The pooling layers' module whole: MaxPool2d, and any pooling layer added beside it.
export * from "./models/layers/pool.ts";
export { CompiledModel, fuseActivations, type ModelSpec } from "./models/model.ts";
export { lenet5 } from "./models/lenet5.ts";
export { mlp, modelByName } from "./models/zoo.ts";
export {
  type ByteImageSet,
  channelMeanStd,
  type ChannelStats,
  DeviceDataSet,
  type LabelledImages,
  type PixelStats,
} from "./models/dataset.ts";
export {
  evaluate,
  type PassResult,
  type PassTotals,
  type Progress,
  trainEpoch,
  type TrainEpochOptions,
} from "./models/epoch.ts";
export { predict, type Prediction } from "./models/predict.ts";
export {
  DivergedError,
  type EpochResult,
  learningRateAt,
  type ScheduleEntry,
  secondsPerTrainingStep,
  SHUFFLE_STREAM,
  type TrainingOptions,
  type TrainingPlan,
  type TrainingProgress,
  type TrainingRun,
  trainModel,
} from "./models/trainer.ts";
export { decodeCheckpoint, encodeCheckpoint } from "./models/checkpoint.ts";
// Integer kernels and post-training quantization (issue 19, INT8): docs/compression.md.
export { PACKED_INTEGER_DOT } from "./engine/backend.ts";
export type { DeviceOptions } from "./engine/webgpu/device.ts";
export {
  int8Gemm,
  type Int8GemmKernel,
  type QuantizeKernelName,
  type QuantizeKernels,
} from "./kernels/quantize/registry.ts";
export { packInt8Rows, unpackInt8Rows } from "./kernels/quantize/int8.ts";
export {
  calibrate,
  type Calibration,
  compileQuantized,
  convertDynamic,
  type ConvertOptions,
  convertStatic,
  convertWeightOnly,
  type FloatWeights,
  type QuantizedModel,
  quantizeRows,
  requantization,
  TANH_QPARAMS,
} from "./models/quantized/convert.ts";
export {
  DequantizeOutput,
  DynamicDense,
  Int8Conv2d,
  Int8Dense,
  type Int8GemmParams,
  Int8Lookup,
  Int8MaxPool,
  type PackedWeights,
  type QParams,
  QuantizeInput,
  WeightOnly,
} from "./models/quantized/layers.ts";
export {
  makeObserver,
  MinMaxObserver,
  type Observer,
  type ObserverKind,
  PercentileObserver,
} from "./models/quantized/observers.ts";
export type {
  FakeQuantElementKernel,
  FakeQuantKernel,
  FakeQuantKernelName,
  FakeQuantKernels,
} from "./kernels/fake_quant/registry.ts";
// The fake-quantization options name their formats (engine/quantization.ts).
export type { IntegerFormat } from "./engine/quantization.ts";
export type { PruneKernelName, PruneKernels } from "./kernels/prune/registry.ts";
// Compression: pruning with its stored sizes, and quantization-aware training.
export * from "./models/compress/prune.ts";
export * from "./models/compress/sparse.ts";
export * from "./models/compress/qat.ts";
export { qatCalibration } from "./models/compress/qat_convert.ts";
export { type EpochHooks, type EpochTrainingOptions, trainEachEpoch } from "./models/compress/epochs.ts";
// Fixed point Qm.n and half precision kernels, quantized checkpoints (issue 19, docs/compression.md).
export type { FixedPointKernelName, FixedPointKernels } from "./kernels/fixed_point/registry.ts";
export { fixedTanhTable } from "./kernels/fixed_point/fixed_point.ts";
export {
  type HalfConv2dKernel,
  halfConv2dKernel,
  type HalfDenseKernel,
  halfDenseKernel,
  type HalfKernelName,
  type HalfKernels,
} from "./kernels/half/registry.ts";
export { packHalves, unpackHalves } from "./kernels/half/half.ts";
export type { StoredArrays, StoredDType, StoredTensor } from "./engine/safetensors.ts";
export * from "./engine/quantization.ts";
export {
  type CheckpointQuantizationOptions,
  dequantizeCheckpoint,
  QUANTIZATION_KEY,
  quantizeCheckpoint,
  type TensorQuantization,
} from "./models/checkpoint.ts";
