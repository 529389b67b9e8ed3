/** A backend by name: "webgpu" (the WGSL kernels on navigator.gpu) or "cpu" (their TypeScript twins). */
import type { Backend, BackendKind } from "./backend.ts";
import { CpuBackend } from "./cpu/backend.ts";
import { WebGpuBackend } from "./webgpu/backend.ts";

/**
 * Creates a backend. "webgpu" asks `navigator.gpu` for the high-performance adapter and fails with a
 * one-line UserError when there is none; in Deno, call io's `prepareWebGpuEnvironment` first.
 */
export async function createBackend(kind: BackendKind): Promise<Backend> {
  return kind === "cpu" ? new CpuBackend() : await WebGpuBackend.create();
}
