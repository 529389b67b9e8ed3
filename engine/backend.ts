/**
 * The one interface every model is written against. Two implementations: `WebGpuBackend`
 * (hand-written WGSL kernels) and `CpuBackend` (their TypeScript twins, same names, same arithmetic).
 *
 * A model is compiled once for a batch size: it creates its tensors and records its kernel calls as
 * `Dispatch`es. Running a step only replays recorded dispatches, so nothing is created in the loop.
 */
import type { MemoryLedger } from "./memory.ts";
import type { Kernel, KernelConstants } from "./kernel.ts";

/** The element types tensors hold: float32 values or u32 words (labels, packed bytes, counters). */
export type DType = "f32" | "u32";
/** "webgpu": the WGSL kernels on a WebGPU device; "cpu": their TypeScript twins. */
export type BackendKind = "webgpu" | "cpu";

/** The WGSL language feature of dot4I8Packed (kernels/quantize/dense_int8_dot4.wgsl); a path without it is kept. */
export const PACKED_INTEGER_DOT = "packed_4x8_integer_dot_product";

/** A tensor on a backend: a GPU buffer or a typed array, created once when a model is compiled. */
export interface Tensor {
  /** Its name, in errors and in the memory ledger. */
  readonly label: string;
  /** Element type. */
  readonly dtype: DType;
  /** Shape, outermost first. */
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
  /** The tensor bound. */
  readonly tensor: Tensor;
  /** First element. */
  readonly offset: number;
  /** Elements. */
  readonly length: number;
}
/** What a kernel binding takes: a whole tensor or a slice of one. */
export type Binding = Tensor | TensorSlice;
/** A kernel's bindings by their WGSL names. */
export type Bindings = Record<string, Binding>;
/** Shape constants: WGSL `override` constants on the GPU, plain arguments to the twin on the CPU. */
export type Constants = Record<string, number>;

/** One recorded kernel call, ready to replay. Opaque outside its backend. */
export interface Dispatch {
  /** The kernel called. */
  readonly kernel: Kernel;
  /** The shape constants it was recorded with. */
  readonly constants: Constants;
}

/** Which device a backend runs on, as its driver names it. */
export interface AdapterDescription {
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "cpu (TypeScript twins)". */
  readonly name: string;
  /** True for software rasterisers such as llvmpipe: their timings say nothing about a real GPU. */
  readonly isSoftware: boolean;
}

/** What `timeKernels` measured. */
export interface KernelTimes {
  /** Milliseconds of each program timed, in order. */
  readonly msPerProgram: number[];
  /** How the times were taken: "GPU timestamps" or a wall clock. */
  readonly clock: string;
}

/** What a model is written against: tensors, kernel dispatches recorded once and replayed, readbacks. */
export interface Backend {
  /** Which implementation this is. */
  readonly kind: BackendKind;
  /** The device it runs on. */
  readonly adapter: AdapterDescription;
  /** Every tensor it allocates, counted. */
  readonly ledger: MemoryLedger;
  /** Largest tensor slice one binding may cover, in bytes. */
  readonly maxBindingBytes: number;
  /** Largest single tensor, in bytes. */
  readonly maxTensorBytes: number;
  /**
   * The WGSL language features its kernels may use (e.g. packed_4x8_integer_dot_product for
   * dot4I8Packed): the adapter's, less any turned off; the CPU's twins compute every kernel.
   */
  readonly languageFeatures: ReadonlySet<string>;

  /** Creates a tensor (zeros, or `init`), entered in the ledger. */
  tensor(label: string, dtype: DType, shape: readonly number[], init?: ArrayLike<number>): Tensor;
  /** Writes values into a tensor, from `elementOffset` on. */
  write(tensor: Tensor, data: ArrayLike<number>, elementOffset?: number): void;
  /** Waits for all recorded work, then copies the tensor back. */
  read(tensor: Tensor): Promise<Float32Array | Uint32Array>;
  /** Frees a tensor and takes it off the ledger. */
  release(tensor: Tensor): void;

  /**
   * Binds a kernel to tensors and shape constants. Checks bindings against the kernel's declaration;
   * a constant its shader does not declare, or one left out that has no default, is refused.
   */
  dispatch<Name extends string, Optional extends Name>(
    kernel: Kernel<Name, Optional>,
    bindings: Bindings,
    constants: KernelConstants<NoInfer<Name>, NoInfer<Optional>>,
  ): Dispatch;
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
  /** Frees every resource the backend holds. */
  destroy(): void;
}

/** `program` `count` times, for `timeKernels`. */
export function repeated(program: readonly Dispatch[], count: number): (readonly Dispatch[])[] {
  return Array.from({ length: count }, () => program);
}

export function sliceOf(binding: Binding): TensorSlice {
  return "tensor" in binding ? binding : { tensor: binding, offset: 0, length: binding.length };
}

/** Number of elements of a shape (1 for a scalar's empty shape). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
