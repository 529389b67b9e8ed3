/**
 * The Deno side of the library: files (checkpoints and safetensors read and written atomically) and
 * Deno's WebGPU environment. The engine and models themselves touch no file and no `Deno.*`.
 *
 * ```ts
 * import { prepareWebGpuEnvironment, saveCheckpoint } from "./mod.ts";
 * prepareWebGpuEnvironment();
 * ```
 *
 * @module
 */
// The library's types, which these signatures use.
export type * from "../mod.ts";
export { loadCheckpoint, loadSafetensors, saveCheckpoint, saveSafetensors } from "./checkpoint_file.ts";
export { ensureWritableDir, readFileBytes, writeFileAtomic } from "./files.ts";
export { prepareWebGpuEnvironment } from "./webgpu.ts";
