/** The CPU path: tensors are typed arrays, and each dispatch calls the kernel's TypeScript twin (its registry entry names it). */
import {
  type Backend,
  type Bindings,
  CPU_MAX_TENSOR_BYTES,
  type Dispatch,
  type DType,
  elementCount,
  type KernelTimes,
  PACKED_INTEGER_DOT,
  sliceOf,
  type Tensor,
} from "../backend.ts";
import { type Kernel, type KernelConstants, withDefaults } from "../kernel.ts";
import { MemoryLedger } from "../memory.ts";
import { UserError } from "../errors.ts";
import { type ScratchPool, type TwinBindings, useScratchPool } from "./twin.ts";

interface CpuTensor extends Tensor {
  readonly data: Float32Array | Uint32Array;
}

interface CpuDispatch extends Dispatch {
  readonly run: () => void;
}

/** The CPU path: tensors are typed arrays and each dispatch calls its kernel's TypeScript twin. */
export class CpuBackend implements Backend {
  /** Always "cpu". */
  readonly kind = "cpu";
  /** The twins, on one thread. */
  readonly adapter = { name: "cpu (TypeScript twins, one thread)", isSoftware: true };
  /** Typed arrays allocated, counted. */
  readonly ledger: MemoryLedger = new MemoryLedger();
  readonly maxBindingBytes = 2 ** 31;
  /** The largest tensor in bytes: one typed array of up to 2 GiB. */
  readonly maxTensorBytes: number = CPU_MAX_TENSOR_BYTES;
  /** The twins of the dot4I8Packed kernels compute the same integers as those without it. */
  readonly languageFeatures: ReadonlySet<string> = new Set([PACKED_INTEGER_DOT]);
  readonly submits = 0;
  /** The tensors this backend made: any other is refused in one line. */
  readonly #tensors = new WeakSet<Tensor>();
  /** The twins' scratch arrays, this backend's own, so that its ledger counts them. */
  readonly #scratch: ScratchPool = {
    arrays: new Map(),
    grew: (allocated, freed) => {
      this.ledger.allocate("cpu", allocated);
      this.ledger.free("cpu", freed);
    },
  };

  /** Creates a typed array (zeros, or `init`), entered in the ledger. */
  tensor(label: string, dtype: DType, shape: readonly number[], init?: ArrayLike<number>): Tensor {
    const length = elementCount(shape);
    if (length * 4 > this.maxTensorBytes) {
      throw new UserError(
        `${label} needs ${(length * 4 / 2 ** 20).toFixed(0)} MiB, over the CPU path's limit of ` +
          `${this.maxTensorBytes / 2 ** 20} MiB for one typed array: choose a smaller model`,
      );
    }
    const data = dtype === "f32" ? new Float32Array(length) : new Uint32Array(length);
    if (init) data.set(init);
    this.ledger.allocate("cpu", data.byteLength);
    const tensor: CpuTensor = { label, dtype, shape: [...shape], length, data };
    this.#tensors.add(tensor);
    return tensor;
  }

  /** Writes values into a tensor, from `elementOffset` on. */
  write(tensor: Tensor, values: ArrayLike<number>, elementOffset = 0): void {
    this.#own(tensor).data.set(values, elementOffset);
  }

  read(tensor: Tensor): Promise<Float32Array | Uint32Array> {
    // A throw in the executor rejects: a foreign tensor is refused as the GPU's read refuses it.
    return new Promise((resolve) => resolve(this.#own(tensor).data.slice()));
  }

  /** Forgets a tensor and takes it off the ledger. */
  release(tensor: Tensor): void {
    this.ledger.free("cpu", this.#own(tensor).data.byteLength);
  }

  dispatch<Name extends string, Optional extends Name>(
    kernel: Kernel<Name, Optional>,
    bindings: Bindings,
    given: KernelConstants<NoInfer<Name>, NoInfer<Optional>>,
  ): Dispatch {
    const constants = withDefaults(kernel, given);
    const views: TwinBindings = { f32: {}, u32: {} };
    for (const [name, binding] of Object.entries(bindings)) {
      const { tensor, offset, length } = sliceOf(binding);
      const data = this.#own(tensor).data.subarray(offset, offset + length);
      if (data instanceof Float32Array) views.f32[name] = data;
      else views.u32[name] = data;
    }
    return { kernel, constants, run: () => kernel.twin(views, constants) } as CpuDispatch;
  }

  run(program: readonly Dispatch[], repeats = 1): void {
    useScratchPool(this.#scratch);
    try {
      for (let r = 0; r < repeats; r++) {
        for (const dispatch of program) (dispatch as CpuDispatch).run();
      }
    } finally {
      useScratchPool(undefined);
    }
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }

  timeKernels(programs: readonly (readonly Dispatch[])[]): Promise<KernelTimes> {
    const msPerProgram = programs.map((program) => {
      const start = performance.now();
      this.run(program);
      return performance.now() - start;
    });
    return Promise.resolve({ msPerProgram, clock: "wall clock of the TypeScript twins (performance.now)" });
  }

  /** `tensor` as this backend's own; a tensor of another backend is refused in one line. */
  #own(tensor: Tensor): CpuTensor {
    if (!this.#tensors.has(tensor)) {
      throw new UserError(
        `${tensor.label} is not a tensor of this CPU backend: create it with this backend's tensor()`,
      );
    }
    return tensor as CpuTensor;
  }

  /** Nothing to free: the typed arrays go with the garbage collector. */
  destroy(): void {}
}
