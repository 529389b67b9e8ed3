/**
 * The kernel contract and the tuner: every registry entry agrees with its shader and twin; the
 * constants the shaders repeat agree with engine/constants.ts; the tuner keeps the default unless a
 * variant is measured faster by its margin, caches per adapter and shape, stays within its budget;
 * the Deno-side cache file round-trips and is written atomically.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Constants, Dispatch, KernelTimes } from "../../engine/backend.ts";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { CONV_TILE, MAX_K, REDUCE_THREADS } from "../../engine/constants.ts";
import { type Kernel, kernels, variantsOf } from "../../engine/kernels.ts";
import { describeChoices, KernelChooser, MARGIN, MemoryTuningCache, tuningKey } from "../../engine/tuner.ts";
import { entryFacts } from "../../engine/webgpu/shaders.ts";
import { WGSL } from "../../engine/webgpu/wgsl.generated.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
import { FileTuningCache, kernelMode } from "../../io/tuning_cache.ts";

const ALL = Object.values(kernels as Record<string, Kernel>);

Deno.test("kernel registry: each entry's workgroup, twin and bindings agree with its shader", () => {
  for (const kernel of ALL) {
    const reflection = entryFacts(kernel.shader, kernel.entry);
    assert.deepEqual(reflection.workgroupSize, kernel.workgroup, `${kernel.entry} workgroup`);
    assert.equal(kernel.twin.name, kernel.entry, `${kernel.entry}'s twin has its name`);
  }
  // Variants of one op bind the same names, so any of them can take a layer's bindings.
  for (const op of new Set(ALL.map((k) => k.op))) {
    const [first, ...others] = ALL.filter((k) => k.op === op);
    const names = (k: Kernel) => Object.keys(entryFacts(k.shader, k.entry).bindings).sort();
    for (const other of others) {
      assert.deepEqual(names(other), names(first), `${other.entry} binds as ${first.entry}`);
    }
  }
});

Deno.test("shared constants: the shaders' copies agree with engine/constants.ts", () => {
  const source = (file: string) => WGSL[file];
  const value = (file: string, name: string) =>
    Number(new RegExp(`const ${name} = (\\d+)u;`).exec(source(file))?.[1]);
  assert.equal(value("conv2d.wgsl", "TILE"), CONV_TILE);
  assert.equal(value("conv2d.wgsl", "MAX_K"), MAX_K);
  assert.equal(value("dense_reduce.wgsl", "THREADS"), REDUCE_THREADS);
});

Deno.test("variantsOf: vec4 kernels only where the inputs are a multiple of 4", () => {
  const entries = (c: Constants) => variantsOf("dense_forward", c).map((k) => k.entry);
  assert.ok(entries({ B: 4, IN: 12, OUT: 5 }).includes("dense_forward_vec4"));
  assert.ok(!entries({ B: 4, IN: 13, OUT: 5 }).includes("dense_forward_vec4"));
  assert.ok(entries({ B: 4, IN: 13, OUT: 5 }).includes("dense_forward_reduce"));
});

/** The CPU backend with made-up kernel times per entry point, counting what it was asked to time. */
class ScriptedBackend extends CpuBackend {
  timed = 0;
  constructor(readonly msByEntry: Record<string, number>) {
    super();
  }
  override timeKernels(programs: readonly (readonly Dispatch[])[]): Promise<KernelTimes> {
    this.timed += programs.length;
    const msPerProgram = programs.map((p) =>
      p.reduce((sum, d) => sum + (this.msByEntry[d.kernel.entry] ?? 1), 0)
    );
    return Promise.resolve({ msPerProgram, clock: "scripted" });
  }
}

function layerBindings(backend: CpuBackend, c: Constants) {
  return {
    x: backend.tensor("x", "f32", [c.B * c.IN]),
    w: backend.tensor("w", "f32", [c.OUT * c.IN]),
    b: backend.tensor("b", "f32", [c.OUT]),
    y: backend.tensor("y", "f32", [c.B * c.OUT]),
  };
}

Deno.test("tuner: a variant replaces the default only when faster by the margin; choices are cached", async () => {
  const c = { B: 4, IN: 8, OUT: 6, OUT_TOTAL: 6 };
  for (
    const [reduceMs, expected] of [
      [0.5, "dense_forward_reduce"], // twice as fast: chosen
      [1 - MARGIN / 2, "dense_forward_vec4"], // within the margin: the default stays
      [3, "dense_forward_vec4"],
    ] as const
  ) {
    const backend = new ScriptedBackend({ dense_forward_vec4: 1, dense_forward_reduce: reduceMs });
    const cache = new MemoryTuningCache();
    const chooser = new KernelChooser(backend, "tuned", cache);
    const first = chooser.dispatch("fc forward", "dense_forward", layerBindings(backend, c), c);
    assert.equal(first.kernel.entry, "dense_forward_vec4", "the default until tuned");
    const replaced = await chooser.tune();
    assert.equal((replaced.get(first) ?? first).kernel.entry, expected, `reduce at ${reduceMs} ms`);
    assert.equal(chooser.choices[0].record?.chosen, expected);
    assert.equal(cache.get(tuningKey(backend.adapter.name, "dense_forward", c))?.chosen, expected);
    // A second model of the same shape takes the cached choice, timing nothing.
    const timedBefore = backend.timed;
    const again = new KernelChooser(backend, "tuned", cache);
    const d = again.dispatch("fc forward", "dense_forward", layerBindings(backend, c), c);
    assert.equal(d.kernel.entry, expected);
    await again.tune();
    assert.equal(backend.timed, timedBefore, "a cached choice is not timed again");
    assert.match(describeChoices(again.choices)[0], new RegExp(`${expected}.*cache`));
  }
});

Deno.test("tuner: fixed binds the default alone; a spent budget keeps the default, uncached", async () => {
  const c = { B: 4, IN: 8, OUT: 6, OUT_TOTAL: 6 };
  const backend = new ScriptedBackend({ dense_forward_vec4: 1, dense_forward_reduce: 0.1 });
  const fixed = new KernelChooser(backend, "fixed");
  assert.equal(
    fixed.dispatch("fc", "dense_forward", layerBindings(backend, c), c).kernel.entry,
    "dense_forward_vec4",
  );
  assert.equal(fixed.choices.length, 0);
  const cache = new MemoryTuningCache();
  const tuned = new KernelChooser(backend, "tuned", cache);
  tuned.dispatch("fc", "dense_forward", layerBindings(backend, c), c);
  await tuned.tune({ budgetMs: 0 });
  assert.equal(tuned.choices[0].source, "over budget");
  assert.equal(cache.records.size, 0);
});

Deno.test("tuner: once tuned, each slot holds only the dispatch it runs (the losers are dropped)", async () => {
  const c = { B: 4, IN: 8, OUT: 6, OUT_TOTAL: 6 };
  const candidates = variantsOf("dense_forward", c).length;
  assert.ok(candidates > 1, "dense_forward has variants at this shape");
  for (const [what, options] of [["measured", {}], ["over budget", { budgetMs: 0 }]] as const) {
    const backend = new ScriptedBackend({ dense_forward_vec4: 1, dense_forward_reduce: 0.5 });
    const chooser = new KernelChooser(backend, "tuned", new MemoryTuningCache());
    chooser.dispatch("fc1 forward", "dense_forward_vec4", layerBindings(backend, c), c);
    chooser.dispatch("fc2 forward", "dense_forward_vec4", layerBindings(backend, c), c);
    assert.equal(chooser.heldDispatches, 2 * candidates, `${what}: every variant bound until tuned`);
    await chooser.tune(options);
    assert.equal(chooser.heldDispatches, 2, `${what}: one dispatch per slot after tune`);
    assert.deepEqual(chooser.choices.map((choice) => choice.source), [what, what]);
    // Settled: a second tune times nothing and changes nothing.
    const timed = backend.timed;
    assert.equal((await chooser.tune()).size, 0);
    assert.equal(backend.timed, timed, `${what}: a settled slot is not timed again`);
  }
});

Deno.test("CompiledModel.tune swaps in the chosen variants; the tuned step computes the same", async () => {
  const backend = new ScriptedBackend({ dense_forward_reduce: 0.01, dense_backward_weight_flat: 0.01 });
  const model = new CompiledModel(backend, mlp([12]), 3, 0, { kernels: "tuned" });
  await model.tune();
  const entries = [...model.forward, ...model.backward].map((d) => d.kernel.entry);
  assert.deepEqual(entries.filter((e) => e.startsWith("dense_forward")), [
    "dense_forward_reduce",
    "dense_forward_reduce",
  ]);
  assert.ok(entries.includes("dense_backward_weight_flat"));
  const fixed = new CompiledModel(new CpuBackend(), mlp([12]), 3, 0);
  assert.ok(
    fixed.kernelChoices.length === 0 && fixed.forward.every((d) => d.kernel.entry === "dense_forward_vec4"),
  );
  // Same seed, same input: the tuned and the fixed forward give the same logits (summed in another order).
  for (const m of [model, fixed]) {
    m.backend.write(
      m.input.value,
      Array.from({ length: 3 * 784 }, (_, i) => Math.sin(i)),
    );
  }
  model.backend.run(model.forward);
  fixed.backend.run(fixed.forward);
  const [a, b] = [await model.backend.read(model.logits.value), await fixed.backend.read(fixed.logits.value)];
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])), `logit ${i}`);
  }
});

Deno.test("FileTuningCache: round trip, atomic writes, an unreadable file is an empty cache", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "webgpu-lenet", "tuning.json");
    const record = {
      chosen: "dense_forward_reduce",
      msByVariant: { dense_forward_vec4: 1, dense_forward_reduce: 0.5 },
      clock: "c",
    };
    new FileTuningCache(path).set("k", record);
    assert.deepEqual(new FileTuningCache(path).get("k"), record);
    assert.deepEqual(Deno.readDirSync(join(dir, "webgpu-lenet")).toArray().map((e) => e.name), [
      "tuning.json",
    ]);
    Deno.writeTextFileSync(path, "{ not json");
    assert.equal(new FileTuningCache(path).get("k"), undefined);
    assert.equal(kernelMode(undefined, "webgpu"), "tuned");
    assert.equal(kernelMode(undefined, "cpu"), "fixed");
    assert.throws(() => kernelMode("fast", "webgpu"), /--kernels fast: use fixed/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
