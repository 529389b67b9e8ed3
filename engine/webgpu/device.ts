/**
 * Acquiring the WebGPU device: the high-performance adapter, its own limits, timestamps if offered.
 * Only `navigator.gpu`: the same code runs in Deno and in a browser. Deno's environment set-up (which
 * of its backends to start) is the caller's: io/webgpu.ts.
 */
import type { AdapterDescription } from "../backend.ts";
import { UserError } from "../errors.ts";

export interface AcquiredDevice {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly hasTimestamps: boolean;
  /** The WGSL language features the shaders may use: navigator.gpu.wgslLanguageFeatures less those turned off. */
  readonly languageFeatures: ReadonlySet<string>;
  /** The device has `shader-f16`: shaders that `enable f16;` compile (kernels/half). */
  readonly hasShaderF16: boolean;
}

/** What a caller may turn off on an adapter that has it: to run and test the paths without it. */
export interface DeviceOptions {
  /** WGSL language features to act as if the adapter lacked (tests of the paths without them). */
  readonly withoutLanguageFeatures?: readonly string[];
  /** Request `shader-f16` where the adapter has it (default true). */
  readonly shaderF16?: boolean;
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

export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new UserError(
      "WebGPU is not available here: in Deno run with --unstable-webgpu (the deno tasks do); " +
        "in a browser use one with WebGPU (Chrome, Edge, Safari 26, Firefox 141 on Windows)",
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new UserError(`no WebGPU adapter found: ${NO_ADAPTER_HELP}`);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const hasTimestamps = adapter.features.has("timestamp-query");
  const hasShaderF16 = (options.shaderF16 ?? true) && adapter.features.has("shader-f16");
  const requiredFeatures: GPUFeatureName[] = [
    ...(hasTimestamps ? ["timestamp-query" as const] : []),
    ...(hasShaderF16 ? ["shader-f16" as const] : []),
  ];
  // Deno invalidates the adapter once a device is requested: read what we need before.
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = device.adapterInfo;
  const name = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
  const isSoftware = fallback || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(name);
  const offered = (navigator.gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  const turnedOff = new Set(options.withoutLanguageFeatures ?? []);
  const languageFeatures = new Set([...(offered ?? [])].filter((name) => !turnedOff.has(name)));
  return { device, adapter: { name, isSoftware }, hasTimestamps, languageFeatures, hasShaderF16 };
}

/** One line naming the adapter, and saying so when it is a software rasteriser. */
export function describeAdapter(adapter: AdapterDescription): string {
  return adapter.isSoftware
    ? `WebGPU adapter: ${adapter.name} (a software adapter running on the CPU: GPU timings are not a real GPU's)`
    : `WebGPU adapter: ${adapter.name}`;
}
