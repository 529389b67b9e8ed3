/**
 * The registry gathered from the families: each entry under its own entry point's name, its twin that
 * function, its constants its shader's overrides; a misspelled or missing constant is refused, by the
 * compiler where it sees the call and in one line at run time where it does not.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { type Kernel, kernels } from "../../engine/kernels.ts";
import { shaderFacts } from "../../engine/webgpu/shaders.ts";
import { cpuBackend, gpuBackend } from "../helpers.ts";

Deno.test("registry: every entry is filed under its entry point, and its twin bears that name", () => {
  for (const [name, kernel] of Object.entries(kernels as Record<string, Kernel>)) {
    assert.equal(kernel.entry, name, `${name} is filed under ${kernel.entry}`);
    assert.equal(kernel.twin.name, name, `${name}'s twin is ${kernel.twin.name}`);
    assert.deepEqual(kernel.constants, shaderFacts(kernel.shader).overrides, `${name}'s constants`);
    for (const [constant, value] of Object.entries(kernel.defaults)) {
      assert.ok(kernel.constants.includes(constant), `${name}'s default ${constant} is one of its constants`);
      if (typeof value === "string") {
        assert.ok(kernel.constants.includes(value), `${name}: ${constant} = ${value}`);
      }
    }
  }
});

Deno.test("no module the library loads imports wgsl_reflect: the reflection facts are generated with the WGSL", () => {
  const offenders: string[] = [];
  const walk = (url: URL) => {
    for (const entry of Deno.readDirSync(url)) {
      const child = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, url);
      if (entry.isDirectory) walk(child);
      else if (
        entry.name.endsWith(".ts") && /["'](npm:)?wgsl_reflect[@/"']/.test(Deno.readTextFileSync(child))
      ) {
        offenders.push(child.pathname);
      }
    }
  };
  for (const folder of ["engine", "kernels", "models"]) walk(new URL(`../../${folder}/`, import.meta.url));
  assert.deepEqual(offenders, []);
});

/** Dispatches maxpool2d_forward on 1x1x2x2 tensors, constants as given. */
function pool(backend: Backend, constants: Record<string, number>) {
  const x = backend.tensor("x", "f32", [4]), y = backend.tensor("y", "f32", [1]);
  // A JavaScript caller, or a caller that built its constants as a plain record: the compiler cannot check them.
  const kernel: Kernel = kernels.maxpool2d_forward;
  return backend.dispatch(kernel, { x, y }, constants);
}

for (const kind of ["cpu", "webgpu"] as const) {
  Deno.test(`${kind}: a misspelled or missing constant is refused in one line naming the kernel and the constant`, async () => {
    const backend = kind === "cpu" ? cpuBackend() : await gpuBackend();
    if (!backend) return;
    const refused = (pattern: RegExp) => (error: unknown) =>
      error instanceof UserError && !error.message.includes("\n") && pattern.test(error.message);
    assert.throws(
      () => pool(backend, { B: 1, C: 1, H: 2, Wd: 2 }),
      refused(/^maxpool2d_forward has no constant Wd: its constants are B, C, H, W$/),
    );
    assert.throws(
      () => pool(backend, { B: 1, C: 1, H: 2 }),
      refused(/^maxpool2d_forward: constant W is missing$/),
    );
    assert.equal(pool(backend, { B: 1, C: 1, H: 2, W: 2 }).kernel.entry, "maxpool2d_forward");
    // Where the compiler sees the call, the same mistakes do not compile.
    const x = backend.tensor("x", "f32", [4]), y = backend.tensor("y", "f32", [1]);
    assert.throws(
      // @ts-expect-error: maxpool2d_forward has no constant Wd (and W is missing)
      () => backend.dispatch(kernels.maxpool2d_forward, { x, y }, { B: 1, C: 1, H: 2, Wd: 2 }),
      refused(/Wd/),
    );
    assert.throws(
      // @ts-expect-error: W is missing
      () => backend.dispatch(kernels.maxpool2d_forward, { x, y }, { B: 1, C: 1, H: 2 }),
      refused(/W/),
    );
    // A default fills what is left out: OUT_TOTAL takes OUT, as the shader's own `OUT_TOTAL = OUT`.
    const d = backend.dispatch(kernels.dense_forward, {
      x: backend.tensor("x4", "f32", [4]),
      w: backend.tensor("w", "f32", [4]),
      b: backend.tensor("b", "f32", [1]),
      y: backend.tensor("y1", "f32", [1]),
    }, { B: 1, IN: 4, OUT: 1 });
    assert.deepEqual(d.constants, { B: 1, IN: 4, OUT: 1, OUT_TOTAL: 1, O0: 0, ACT: 0, ACCUMULATE: 0 });
  });
}
