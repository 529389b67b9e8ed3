/**
 * The WebGPU path. Tensors are GPU buffers; `dispatch` builds the pipeline (cached per shader,
 * entry point and constants) and the bind group once; `run` only records and submits.
 */
import {
  type AdapterDescription,
  type Backend,
  type Bindings,
  type Constants,
  CPU_MAX_TENSOR_BYTES,
  type Dispatch,
  type DType,
  elementCount,
  type KernelTimes,
  sliceOf,
  type Tensor,
} from "../backend.ts";
import { UserError } from "../errors.ts";
import { type Kernel, type KernelConstants, withDefaults } from "../kernel.ts";
import { MemoryLedger } from "../memory.ts";
import { acquireDevice, type DeviceOptions } from "./device.ts";
import { entryFacts, shaderFeatures, shaderSource } from "./shaders.ts";

interface GpuTensor extends Tensor {
  readonly buffer: GPUBuffer;
}

interface GpuDispatch extends Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** Timestamp query sets hold at most 4096 queries: two per timed pass. */
const MAX_TIMED_PASSES = 2048;
const MiB = 2 ** 20;

/** The WebGPU path: tensors are GPU buffers, kernels the WGSL shaders, steps recorded and submitted in batches. */
export class WebGpuBackend implements Backend {
  /** Always "webgpu". */
  readonly kind = "webgpu";
  /** GPU buffers allocated, counted. */
  readonly ledger: MemoryLedger = new MemoryLedger();
  readonly maxBindingBytes: number;
  readonly maxTensorBytes: number;
  /** The adapter's maxComputeWorkgroupsPerDimension. */
  readonly maxWorkgroups: number;
  #submits = 0;
  /** The tensors this backend made: any other is refused rather than failing deep inside WebGPU. */
  readonly #tensors = new WeakSet<Tensor>();
  #firstError: string | undefined;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #staging = new Map<number, GPUBuffer[]>();

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly hasTimestamps: boolean,
    readonly languageFeatures: ReadonlySet<string>,
    /** Shaders that `enable f16;` compile here (the adapter has `shader-f16` and it was requested). */
    readonly hasShaderF16: boolean = false,
  ) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.maxTensorBytes = device.limits.maxBufferSize;
    this.maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
    device.addEventListener("uncapturederror", (event) => {
      this.#firstError ??= (event as GPUUncapturedErrorEvent).error.message;
    });
    device.lost.then((info) => {
      this.#firstError ??= `GPU device lost: ${info.message || info.reason}`;
    });
  }

  /**
   * Acquires the high-performance adapter's device (`navigator.gpu`); a one-line UserError if there is
   * none. `options` may turn WGSL language features off, to run the paths without them.
   */
  static async create(options: DeviceOptions = {}): Promise<WebGpuBackend> {
    const { device, adapter, hasTimestamps, languageFeatures, hasShaderF16 } = await acquireDevice(options);
    return new WebGpuBackend(device, adapter, hasTimestamps, languageFeatures, hasShaderF16);
  }

  get submits(): number {
    return this.#submits;
  }

  /** Creates a GPU buffer (zeros, or `init`), entered in the ledger. */
  tensor(label: string, dtype: DType, shape: readonly number[], init?: ArrayLike<number>): Tensor {
    const length = elementCount(shape);
    const bytes = Math.max(4, length * 4);
    if (bytes > this.maxTensorBytes) {
      // The CPU path is a way out only where its own limit is higher.
      const cpuFits = bytes <= CPU_MAX_TENSOR_BYTES ? " or --backend cpu" : "";
      throw new UserError(
        `${label} needs ${(bytes / MiB).toFixed(0)} MiB, over the adapter's maxBufferSize of ` +
          `${(this.maxTensorBytes / MiB).toFixed(0)} MiB: choose a smaller model${cpuFits}`,
      );
    }
    const buffer = this.device.createBuffer({
      label,
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.ledger.allocate("gpu", bytes);
    const tensor: GpuTensor = { label, dtype, shape: [...shape], length, buffer };
    this.#tensors.add(tensor);
    if (init) this.write(tensor, init);
    return tensor;
  }

  /** Queues a write of values into a tensor, from `elementOffset` on. */
  write(tensor: Tensor, values: ArrayLike<number>, elementOffset = 0): void {
    const typed = tensor.dtype === "f32"
      ? (values instanceof Float32Array ? values : Float32Array.from(values))
      : (values instanceof Uint32Array ? values : Uint32Array.from(values));
    this.device.queue.writeBuffer(this.#own(tensor).buffer, elementOffset * 4, typed as BufferSource);
  }

  async read(tensor: Tensor): Promise<Float32Array | Uint32Array> {
    const { buffer, length, dtype } = this.#own(tensor);
    const staging = this.#takeStaging(buffer.size);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (error) {
      throw new Error(this.#firstError ?? `reading ${tensor.label} back failed: ${error}`);
    }
    const bytes = staging.getMappedRange().slice(0, length * 4);
    staging.unmap();
    this.#staging.get(staging.size)!.push(staging);
    this.#throwIfFailed();
    return dtype === "f32" ? new Float32Array(bytes) : new Uint32Array(bytes);
  }

  /** Destroys a tensor's buffer and takes it off the ledger. */
  release(tensor: Tensor): void {
    const { buffer } = this.#own(tensor);
    this.ledger.free("gpu", buffer.size);
    buffer.destroy();
  }

  dispatch<Name extends string, Optional extends Name>(
    kernel: Kernel<Name, Optional>,
    bindings: Bindings,
    given: KernelConstants<NoInfer<Name>, NoInfer<Optional>>,
  ): Dispatch {
    const constants = withDefaults(kernel, given);
    const reflection = entryFacts(kernel.shader, kernel.entry);
    const entries: GPUBindGroupEntry[] = [];
    for (const [name, declared] of Object.entries(reflection.bindings)) {
      const binding = bindings[name];
      if (!binding) throw new Error(`${kernel.entry}: binding ${name} is missing`);
      const { tensor, offset, length } = sliceOf(binding);
      if (tensor.dtype !== declared.element) {
        throw new Error(
          `${kernel.entry}: ${name} is ${declared.element} in the shader, ${tensor.dtype} here`,
        );
      }
      if (length * 4 > this.maxBindingBytes) {
        throw new UserError(
          `${tensor.label}: a binding of ${(length * 4 / MiB).toFixed(0)} MiB is over the adapter's ` +
            `maxStorageBufferBindingSize of ${(this.maxBindingBytes / MiB).toFixed(0)} MiB`,
        );
      }
      entries.push({
        binding: declared.binding,
        resource: { buffer: this.#own(tensor).buffer, offset: offset * 4, size: Math.max(4, length * 4) },
      });
    }
    for (const name of Object.keys(bindings)) {
      if (!(name in reflection.bindings)) throw new Error(`${kernel.entry} has no binding named ${name}`);
    }
    const pipeline = this.#pipeline(kernel, constants);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return {
      kernel,
      constants,
      pipeline,
      bindGroup,
      workgroups: this.#workgroups(kernel, constants),
    } as GpuDispatch;
  }

  run(program: readonly Dispatch[], repeats = 1): void {
    const encoder = this.device.createCommandEncoder();
    this.#encode(encoder.beginComputePass(), program, repeats);
    this.device.queue.submit([encoder.finish()]);
    this.#submits++;
  }

  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.#throwIfFailed();
  }

  async timeKernels(programs: readonly (readonly Dispatch[])[]): Promise<KernelTimes> {
    const msPerProgram: number[] = [];
    if (!this.hasTimestamps) {
      for (const program of programs) {
        await this.finish();
        const start = performance.now();
        this.run(program);
        await this.finish();
        msPerProgram.push(performance.now() - start);
      }
      return { msPerProgram, clock: "wall clock with a wait per run (no timestamp-query)" };
    }
    for (let done = 0; done < programs.length; done += MAX_TIMED_PASSES) {
      msPerProgram.push(...await this.#timePasses(programs.slice(done, done + MAX_TIMED_PASSES)));
    }
    return { msPerProgram, clock: "GPU timestamps (timestamp-query) around each run's compute pass" };
  }

  /** One compute pass per program, all in one submit, each between two timestamps. */
  async #timePasses(programs: readonly (readonly Dispatch[])[]): Promise<number[]> {
    const passes = programs.length, count = 2 * passes, bytes = 8 * count;
    const querySet = this.device.createQuerySet({ type: "timestamp", count });
    // The query set (8 bytes a query), its resolve buffer and its readback: three times `bytes`.
    this.ledger.allocate("gpu", 3 * bytes);
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    for (let p = 0; p < passes; p++) {
      const pass = encoder.beginComputePass({
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * p, endOfPassWriteIndex: 2 * p + 1 },
      });
      this.#encode(pass, programs[p], 1);
    }
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.#submits++;
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    for (const object of [querySet, resolved, staging]) object.destroy();
    this.ledger.free("gpu", 3 * bytes);
    this.#throwIfFailed();
    return Array.from({ length: passes }, (_, p) => Number(stamps[2 * p + 1] - stamps[2 * p]) / 1e6);
  }

  /** Destroys the device and every buffer. */
  destroy(): void {
    this.device.destroy();
  }

  #encode(pass: GPUComputePassEncoder, program: readonly Dispatch[], repeats: number): void {
    let current: GPUComputePipeline | undefined;
    for (let r = 0; r < repeats; r++) {
      for (const dispatch of program as readonly GpuDispatch[]) {
        if (dispatch.pipeline !== current) pass.setPipeline(current = dispatch.pipeline);
        pass.setBindGroup(0, dispatch.bindGroup);
        pass.dispatchWorkgroups(...dispatch.workgroups);
      }
    }
    pass.end();
  }

  #pipeline(kernel: Kernel, constants: Constants): GPUComputePipeline {
    // withDefaults has refused any name the shader does not declare: every constant is an override.
    const overrides = constants;
    const key = `${kernel.shader}:${kernel.entry}:${JSON.stringify(overrides)}`;
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      let module = this.#modules.get(kernel.shader);
      if (!module) {
        // A shader that enables f16 is never compiled on a device without it.
        if (shaderFeatures(kernel.shader).includes("shader-f16") && !this.hasShaderF16) {
          throw new UserError(
            `${kernel.entry} needs the adapter feature shader-f16, which this device lacks: use its f32 path`,
          );
        }
        module = this.device.createShaderModule({ label: kernel.shader, code: shaderSource(kernel.shader) });
        this.#modules.set(kernel.shader, module);
      }
      const { bindings } = entryFacts(kernel.shader, kernel.entry);
      const entries: GPUBindGroupLayoutEntry[] = Object.values(bindings).map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === "read" ? "read-only-storage" : "storage" },
      }));
      const layout = this.device.createPipelineLayout({
        bindGroupLayouts: [this.device.createBindGroupLayout({ entries })],
      });
      pipeline = this.device.createComputePipeline({
        label: kernel.entry,
        layout,
        compute: { module, entryPoint: kernel.entry, constants: overrides },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  #workgroups(kernel: Kernel, constants: Constants): [number, number, number] {
    const size = kernel.workgroup;
    const grid = kernel.grid(constants);
    const groups = grid.map((n, i) => Math.max(1, Math.ceil(n / size[i]))) as [number, number, number];
    const most = this.maxWorkgroups;
    if (kernel.folds && groups[0] > most) {
      groups[1] = Math.ceil(groups[0] / most);
      groups[0] = most;
    }
    if (groups.some((g) => g > most)) {
      throw new UserError(
        `${kernel.entry}: a grid of ${grid.join("x")} is over the adapter's workgroup limits`,
      );
    }
    return groups;
  }

  /** `tensor` as this backend's own; a tensor of another backend is refused in one line. */
  #own(tensor: Tensor): GpuTensor {
    if (!this.#tensors.has(tensor)) {
      throw new UserError(
        `${tensor.label} is not a tensor of this WebGPU backend: create it with this backend's tensor()`,
      );
    }
    return tensor as GpuTensor;
  }

  #takeStaging(size: number): GPUBuffer {
    const free = this.#staging.get(size) ?? [];
    this.#staging.set(size, free);
    const staging = free.pop();
    if (staging) return staging;
    this.ledger.allocate("gpu", size);
    return this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  #throwIfFailed(): void {
    if (this.#firstError) throw new Error(`WebGPU: ${this.#firstError}`);
  }
}
