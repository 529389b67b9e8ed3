/** Deno's WebGPU environment, set before the first adapter request (the CLIs and tests do). */
import type { Backend, BackendKind } from "../engine/backend.ts";
import { createBackend } from "../engine/create.ts";

/**
 * Sets what Deno's WebGPU reads when it first looks for an adapter, unless the user has set it:
 * - on Linux, only the Vulkan backend. Left to itself Deno also starts its OpenGL backend, which loads
 *   Mesa's EGL and a second llvmpipe into every process (every test module too), for an adapter we never
 *   use; a core dump showed EGL's per-thread destructor, run as a finished test module's thread ended,
 *   racing the library destructors of the process's exit: a crash after the last test, now and then.
 * - XDG_RUNTIME_DIR, without which Mesa's window-system code complains on every adapter request.
 */
export function prepareWebGpuEnvironment(): void {
  if (Deno.build.os === "linux" && Deno.env.get("DENO_WEBGPU_BACKEND") === undefined) {
    Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  }
  Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
}

/** The engine's createBackend (engine/create.ts) after setting up Deno's WebGPU environment above. */
export function createDenoBackend(kind: BackendKind): Promise<Backend> {
  if (kind === "webgpu") prepareWebGpuEnvironment();
  return createBackend(kind);
}
