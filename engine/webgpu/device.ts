/** Acquiring the WebGPU device: the high-performance adapter, its own limits, timestamps if offered. */
import type { AdapterDescription } from "../backend.ts";
import { UserError } from "../errors.ts";

export interface AcquiredDevice {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly hasTimestamps: boolean;
}

const NO_ADAPTER_HELP =
  "install a Vulkan driver (Debian: apt-get install -y mesa-vulkan-drivers libvulkan1), " +
  "try DENO_WEBGPU_BACKEND=gl (Vulkan is the default on Linux), or run with --backend cpu";

/** The limits we raise to the adapter's own: large layers need large bindings. */
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
] as const;

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

export async function acquireDevice(): Promise<AcquiredDevice> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new UserError(
      "WebGPU is not available in this Deno: run with --unstable-webgpu (the deno tasks do)",
    );
  }
  prepareWebGpuEnvironment();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new UserError(`no WebGPU adapter found: ${NO_ADAPTER_HELP}`);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const hasTimestamps = adapter.features.has("timestamp-query");
  const requiredFeatures: GPUFeatureName[] = hasTimestamps ? ["timestamp-query"] : [];
  // Deno invalidates the adapter once a device is requested: read what we need before.
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = device.adapterInfo;
  const name = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
  const isSoftware = fallback || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(name);
  return { device, adapter: { name, isSoftware }, hasTimestamps };
}

/** One line naming the adapter, and saying so when it is a software rasteriser. */
export function describeAdapter(adapter: AdapterDescription): string {
  return adapter.isSoftware
    ? `WebGPU adapter: ${adapter.name} (a software adapter running on the CPU: GPU timings are not a real GPU's)`
    : `WebGPU adapter: ${adapter.name}`;
}
