/**
 * The registry gathered from the families: each entry under its own entry point's name, its twin that
 * function, its constants its shader's overrides; a misspelled or missing constant is refused, by the
 * compiler where it sees the call and in one line at run time where it does not.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { tunedOnly } from "../../engine/kernel.ts";
import { defaultFor, type Kernel, kernels } from "../../engine/kernels.ts";
import { Conv2d } from "../../models/layers/conv2d.ts";
import { Dense } from "../../models/layers/dense.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
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

/**
 * The kernel choices as the layers made them before the registry did, written out again; since issue
 * 23 the backward ops take 16 x 16 tiles from a batch of 16 on where their grid has 32 invocations.
 */
function chosenByTheLayersBefore(op: string, B: number, IN: number, OUT: number): string {
  const wide = IN % 4 === 0, tiles = (n: number) => Math.ceil(n / 16);
  if (op === "dense_forward") {
    return !wide ? "dense_forward" : B >= 16 ? "dense_forward_vec4_batch16" : "dense_forward_vec4";
  }
  if (wide && B >= 16 && op === "dense_backward_input" && tiles(IN) * tiles(B) >= 32) {
    return "dense_backward_input_vec4_batch16";
  }
  if (wide && B >= 16 && op === "dense_backward_weight" && (tiles(IN) + 1) * tiles(OUT) >= 32) {
    return "dense_backward_weight_vec4_rows16";
  }
  return wide ? `${op}_vec4` : op;
}

Deno.test("defaultFor: the untuned kernel of each dense op is the one the layer chose before, at every shape", () => {
  for (const B of [1, 3, 4, 15, 16, 17, 64]) {
    for (const IN of [1, 30, 84, 100, 120, 400, 784, 4096]) {
      for (const OUT of [10, 100, 300]) {
        for (const op of ["dense_forward", "dense_backward_input", "dense_backward_weight"]) {
          const c = { B, IN, OUT };
          assert.equal(
            defaultFor(op, c).entry,
            chosenByTheLayersBefore(op, B, IN, OUT),
            `${op} at B ${B}, IN ${IN}, OUT ${OUT}`,
          );
        }
      }
    }
  }
  const conv = { B: 4, IC: 1, OC: 6, H: 32, W: 32 };
  assert.equal(defaultFor("conv2d_forward", conv).entry, "conv2d_forward");
  assert.equal(defaultFor("conv2d_backward_input", conv).entry, "conv2d_backward_input");
  // Every op has a default; the variants for other adapters are the tuner's alone.
  for (const kernel of Object.values(kernels as Record<string, Kernel>)) {
    if (kernel.preferred === tunedOnly) {
      assert.notEqual(kernel.entry, kernel.op, `${kernel.entry} is a variant, not its op's own kernel`);
    }
  }
});

Deno.test("a model compiled with fixed kernels runs the kernels the layers chose before", () => {
  for (
    const [spec, batch] of [[lenet5(), 4], [lenet5(), 64], [mlp([100, 30]), 4], [
      mlp([300, 100]),
      64,
    ]] as const
  ) {
    const model = new CompiledModel(cpuBackend(), spec, batch, 0);
    const ran = [...model.forward, ...model.backward].map((d) => d.kernel.entry)
      .filter((entry) => entry.startsWith("dense_") || entry.startsWith("conv2d_forward"));
    const expected: string[] = [];
    for (const layer of model.layers) {
      if (layer instanceof Dense) {
        expected.push(chosenByTheLayersBefore("dense_forward", batch, layer.inFeatures, layer.outFeatures));
      }
      if (layer instanceof Conv2d) expected.push("conv2d_forward");
    }
    const backward = [...model.layers].reverse().flatMap((layer, i, all) =>
      layer instanceof Dense
        ? [
          ...(i < all.length - 1
            ? [chosenByTheLayersBefore("dense_backward_input", batch, layer.inFeatures, layer.outFeatures)]
            : []),
          chosenByTheLayersBefore("dense_backward_weight", batch, layer.inFeatures, layer.outFeatures),
        ]
        : []
    );
    assert.deepEqual(ran, [...expected, ...backward], `${spec.name} at batch ${batch}`);
  }
});
