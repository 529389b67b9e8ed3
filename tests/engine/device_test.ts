/** Acquiring the device: which of Deno's WebGPU backends the engine starts. */
import assert from "node:assert/strict";
import { adapterOffered } from "../helpers.ts";

const DEVICE_MODULE = new URL("../../engine/webgpu/device.ts", import.meta.url).href;
const ENVIRONMENT_MODULE = new URL("../../io/webgpu.ts", import.meta.url).href;

// Acquires the engine's device in a fresh process, then says which graphics libraries that process loaded.
const PROBE = `
import { acquireDevice } from "${DEVICE_MODULE}";
import { prepareWebGpuEnvironment } from "${ENVIRONMENT_MODULE}";
prepareWebGpuEnvironment();
const { device } = await acquireDevice();
const maps = Deno.readTextFileSync("/proc/self/maps");
console.log(JSON.stringify({
  backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
  egl: /libEGL/.test(maps),
  vulkan: /libvulkan/.test(maps),
}));
device.destroy();
`;

async function probe(backend: string | undefined) {
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (backend !== undefined) env.DENO_WEBGPU_BACKEND = backend;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-webgpu", PROBE],
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test({
  name: "on Linux the engine starts Deno's Vulkan backend alone, unless DENO_WEBGPU_BACKEND says otherwise",
  ignore: Deno.build.os !== "linux" || !(await adapterOffered()),
  fn: async () => {
    // Deno's OpenGL backend would load Mesa's EGL, whose per-thread destructors raced the process's exit.
    assert.deepEqual(await probe(undefined), { backend: "vulkan", egl: false, vulkan: true });
    assert.equal((await probe("vulkan,gl")).backend, "vulkan,gl");
  },
});
