/**
 * The one interface every model is written against. Two implementations: `WebGpuBackend`
 * (hand-written WGSL kernels) and `CpuBackend` (their TypeScript twins, same names, same arithmetic).
 *
 * A model is compiled once for a batch size: it creates its tensors and records its kernel calls as
 * `Dispatch`es. Running a step only replays recorded dispatches, so nothing is created in the loop.
 */
import type { MemoryLedger } from "./memory.ts";
import type { Kernel } from "./kernels.ts";

export type DType = "f32" | "u32";
export type BackendKind = "webgpu" | "cpu";

export interface Tensor {
  readonly label: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly length: number;
}

/**
 * A slice's offset must be a multiple of this many bytes: WebGPU's minStorageBufferOffsetAlignment is
 * at most 256 on every adapter.
 */
export const SLICE_ALIGNMENT_BYTES = 256;

/** The CPU path's largest tensor: one typed array of up to 2 GiB. The GPU path's limit is its adapter's. */
export const CPU_MAX_TENSOR_BYTES = 2 ** 31;

/** A tensor, or a contiguous slice of one (in elements), as a kernel binding. */
export interface TensorSlice {
  readonly tensor: Tensor;
  readonly offset: number;
  readonly length: number;
}
export type Binding = Tensor | TensorSlice;
export type Bindings = Record<string, Binding>;
/** Shape constants: WGSL `override` constants on the GPU, plain arguments to the twin on the CPU. */
export type Constants = Record<string, number>;

/** One recorded kernel call, ready to replay. Opaque outside its backend. */
export interface Dispatch {
  readonly kernel: Kernel;
  readonly constants: Constants;
}

export interface AdapterDescription {
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "cpu (TypeScript twins)". */
  readonly name: string;
  /** True for software rasterisers such as llvmpipe: their timings say nothing about a real GPU. */
  readonly isSoftware: boolean;
}

export interface KernelTimes {
  /** Milliseconds of each program timed, in order. */
  readonly msPerProgram: number[];
  readonly clock: string;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly adapter: AdapterDescription;
  readonly ledger: MemoryLedger;
  /** Largest tensor slice one binding may cover, in bytes. */
  readonly maxBindingBytes: number;
  /** Largest single tensor, in bytes. */
  readonly maxTensorBytes: number;

  tensor(label: string, dtype: DType, shape: readonly number[], init?: ArrayLike<number>): Tensor;
  write(tensor: Tensor, data: ArrayLike<number>, elementOffset?: number): void;
  /** Waits for all recorded work, then copies the tensor back. */
  read(tensor: Tensor): Promise<Float32Array | Uint32Array>;
  release(tensor: Tensor): void;

  /** Binds a kernel to tensors and shape constants. Checks bindings against the kernel's declaration. */
  dispatch(kernel: Kernel, bindings: Bindings, constants: Constants): Dispatch;
  /** Runs `program` `repeats` times in order. On the GPU this records and submits without waiting. */
  run(program: readonly Dispatch[], repeats?: number): void;
  /** Resolves when all submitted work has finished. */
  finish(): Promise<void>;
  /**
   * Runs the programs back to back and times each on its own: GPU timestamps around each where the
   * adapter has them, else wall clock. See `repeated` for one program timed many times.
   */
  timeKernels(programs: readonly (readonly Dispatch[])[]): Promise<KernelTimes>;
  /** How many submits `run` has made so far (the CPU makes none). */
  readonly submits: number;
  destroy(): void;
}

/** `program` `count` times, for `timeKernels`. */
export function repeated(program: readonly Dispatch[], count: number): (readonly Dispatch[])[] {
  return Array.from({ length: count }, () => program);
}

export function sliceOf(binding: Binding): TensorSlice {
  return "tensor" in binding ? binding : { tensor: binding, offset: 0, length: binding.length };
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
