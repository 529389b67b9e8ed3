/**
 * Pruning: masks chosen as PyTorch's l1_unstructured / global_unstructured / random_unstructured count
 * them; Zhu & Gupta's schedule; stored sizes of both sparse encodings, against sizes worked out by
 * hand and decoded back; masks intact after an epoch of retraining on both paths; one pruned SGD step
 * equal on both backends.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { Random } from "../../engine/random.ts";
import { deviceDataSets, loadStudyData, type StudyData } from "../../lab/session.ts";
import {
  chooseMasks,
  gradualSparsity,
  packMask,
  pruneAndRetrain,
  PruningMasks,
  unpackMask,
} from "../../models/compress/prune.ts";
import {
  fromBitmask,
  fromCsr,
  storedSize,
  tensorSize,
  toBitmask,
  toCsr,
} from "../../models/compress/sparse.ts";
import { trainEpoch } from "../../models/epoch.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { CompiledModel } from "../../models/model.ts";
import { mlp } from "../../models/zoo.ts";
import { assertClose, cpuBackend, gpuBackend } from "../helpers.ts";

const pruned = (mask: Uint8Array) => mask.reduce((n, k) => n + (k === 0 ? 1 : 0), 0);

Deno.test("magnitude pruning per layer removes the smallest |w|, round(s n) of them (half to even)", () => {
  const weights = new Map([
    ["a.weight", Float32Array.from([0.5, -0.1, 0.3, -0.7, 0.2, 0.05])],
    ["b.weight", Float32Array.from([1, -2, 3, -4])],
  ]);
  const masks = chooseMasks(weights, { sparsity: 0.5, method: "magnitude" });
  assert.deepEqual([...masks.get("a.weight")!], [1, 0, 1, 1, 0, 0]);
  assert.deepEqual([...masks.get("b.weight")!], [0, 0, 1, 1]);
  // 0.625 * 4 = 2.5 rounds to 2; 0.375 * 4 = 1.5 rounds to 2 (PyTorch's round).
  assert.equal(pruned(chooseMasks(weights, { sparsity: 0.625, method: "magnitude" }).get("b.weight")!), 2);
  assert.equal(pruned(chooseMasks(weights, { sparsity: 0.375, method: "magnitude" }).get("b.weight")!), 2);
});

Deno.test("global magnitude pruning ranks every layer's weights together", () => {
  const weights = new Map([
    ["a.weight", Float32Array.from([0.5, -0.1, 0.3])],
    ["b.weight", Float32Array.from([1, -2, 0.2, -4])],
  ]);
  const masks = chooseMasks(weights, { sparsity: 3 / 7, method: "magnitude", scope: "global" });
  assert.deepEqual([...masks.get("a.weight")!], [1, 0, 0]);
  assert.deepEqual([...masks.get("b.weight")!], [1, 1, 0, 1]);
});

Deno.test("random pruning prunes exactly round(s n) per layer, the same for a seed, and keeps earlier masks", () => {
  const random = new Random(3);
  const weights = new Map([["a.weight", Float32Array.from({ length: 1001 }, () => random.symmetric(1))]]);
  const first = chooseMasks(weights, { sparsity: 0.5, method: "random", seed: 7 }).get("a.weight")!;
  assert.equal(pruned(first), 500);
  assert.deepEqual(
    first,
    chooseMasks(weights, { sparsity: 0.5, method: "random", seed: 7 }).get("a.weight")!,
  );
  assert.notDeepEqual(
    first,
    chooseMasks(weights, { sparsity: 0.5, method: "random", seed: 8 }).get("a.weight")!,
  );
  for (const method of ["random", "magnitude"] as const) {
    const more = chooseMasks(weights, { sparsity: 0.8, method, seed: 9 }, new Map([["a.weight", first]]))
      .get("a.weight")!;
    assert.equal(pruned(more), 801);
    assert.ok(first.every((k, i) => k === 1 || more[i] === 0), `${method}: what was pruned stays pruned`);
  }
});

Deno.test("a sparsity of 100% or below 0 is refused in one line", () => {
  const weights = new Map([["a.weight", new Float32Array(4)]]);
  for (const sparsity of [1, -0.1, 1.5, NaN]) {
    assert.throws(() => chooseMasks(weights, { sparsity, method: "magnitude" }), UserError);
  }
});

Deno.test("gradual pruning follows Zhu & Gupta's cubic schedule from 0 to the final sparsity", () => {
  assert.equal(gradualSparsity(1, 5, 0.9), 0);
  assert.equal(gradualSparsity(5, 5, 0.9), 0.9);
  assert.ok(Math.abs(gradualSparsity(3, 5, 0.9) - 0.9 * (1 - 0.5 ** 3)) < 1e-12);
  assert.equal(gradualSparsity(1, 1, 0.8), 0.8);
});

Deno.test("masks pack 32 to a word and back", () => {
  const kept = Uint8Array.from({ length: 70 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
  assert.deepEqual(unpackMask(packMask(kept), 70), kept);
  assert.equal(packMask(kept).length, 3);
});

Deno.test("stored sizes: CSR and bitmask bytes as worked out by hand, and both decode to the weights", () => {
  // [2, 3] with 2 kept: dense 24 B; CSR 2 x 4 + 2 x 2 (u16 columns) + 3 x 4 (row starts) = 24 B;
  // bitmask 1 + 2 x 4 = 9 B.
  const small = Float32Array.from([0, 1.5, 0, 0, 0, -2]);
  const s = tensorSize("fc.weight", [2, 3], small, true);
  assert.deepEqual([s.denseBytes, s.csrBytes, s.bitmaskBytes, s.storedBytes, s.encoding], [
    24,
    24,
    9,
    9,
    "bitmask",
  ]);
  // [1, 1000] with 10 kept: CSR 40 + 20 + 8 = 68 B beats the bitmask's 125 + 40 = 165 B.
  const wide = new Float32Array(1000);
  for (let i = 0; i < 10; i++) wide[i * 97] = i + 1;
  const w = tensorSize("fc.weight", [1, 1000], wide, true);
  assert.deepEqual([w.csrBytes, w.bitmaskBytes, w.storedBytes, w.encoding], [68, 165, 68, "csr-u16"]);
  // Over 65,536 columns the column indices take u32.
  const huge = new Float32Array(70000);
  huge[69999] = 1;
  assert.equal(tensorSize("fc.weight", [1, 70000], huge, true).encoding, "csr-u32");
  assert.equal(tensorSize("fc.weight", [1, 70000], huge, true).csrBytes, 4 + 4 + 8);
  // A dense tensor stays dense; a bias always does.
  assert.equal(tensorSize("fc.weight", [2, 2], Float32Array.from([1, 2, 3, 4]), true).encoding, "dense");
  assert.equal(tensorSize("fc.bias", [6], small, false).storedBytes, 24);
  for (const [values, rows] of [[small, 2], [wide, 1], [huge, 1]] as const) {
    assert.deepEqual(fromCsr(toCsr(values, rows), rows, values.length / rows), values);
    assert.deepEqual(fromBitmask(toBitmask(values), values.length), values);
  }
  const model = storedSize([
    { name: "fc.weight", shape: [2, 3], values: small },
    { name: "fc.bias", shape: [2], values: Float32Array.from([1, 0]) },
    { name: "out.weight", shape: [1, 1000], values: wide },
  ]);
  assert.deepEqual(model.layers, [
    { name: "fc", denseBytes: 32, storedBytes: 17 },
    { name: "out", denseBytes: 4000, storedBytes: 68 },
  ]);
  assert.equal(model.storedBytes, 85);
  assert.equal(model.denseBytes, 4032);
  assert.equal(model.weightSparsity, (4 + 990) / 1006);
});

let data: Promise<StudyData> | undefined;
const subset = () => data ??= loadStudyData(undefined, 400, 200, 4);

/** Prunes a model 80% by magnitude and retrains it one epoch on 400 images. */
async function prunedEpoch(backend: Backend, spec = mlp([32]), epochs = 1, gradual = false) {
  const study = await subset();
  const model = new CompiledModel(backend, spec, 4, 5);
  const masks = new PruningMasks(model);
  const sets = deviceDataSets(backend, study);
  const plan = { epochs, schedule: [{ fromEpoch: 1, rate: 0.05 }], seed: 1, trainCount: study.trainCount };
  const run = await pruneAndRetrain(masks, sets, plan, { sparsity: 0.8, method: "magnitude" }, { gradual });
  return { run, masks, weights: await masks.weights() };
}

function assertMasksIntact(masks: PruningMasks, weights: Map<string, Float32Array>, what: string) {
  for (const [name, kept] of masks.kept) {
    const w = weights.get(name)!;
    assert.equal(pruned(kept), Math.round(0.8 * w.length), `${what} ${name} pruned count`);
    for (let i = 0; i < w.length; i++) {
      if (kept[i] === 0) assert.ok(Object.is(w[i], 0), `${what} ${name}[${i}] pruned but ${w[i]}`);
    }
    const moved = w.filter((v, i) => kept[i] === 1 && v !== 0).length;
    assert.ok(moved > 0.99 * (w.length - pruned(kept)), `${what} ${name}: kept weights are nonzero`);
  }
}

Deno.test("pruning masks stay intact through an epoch of retraining: CPU path", async () => {
  const { run, masks, weights } = await prunedEpoch(cpuBackend());
  assertMasksIntact(masks, weights, "cpu");
  assert.ok(
    run.testAccuracy > Math.max(0.5, run.accuracyBeforeRetraining),
    `${run.accuracyBeforeRetraining} -> ${run.testAccuracy}`,
  );
  const all = [...masks.kept.values()];
  const overall = all.reduce((n, m) => n + pruned(m), 0) / all.reduce((n, m) => n + m.length, 0);
  assert.equal(run.history[0].sparsity, 0.8);
  assert.ok(Math.abs(overall - 0.8) < 1e-4);
});

Deno.test("gradual pruning trains its first epoch unpruned and its last at the final sparsity", async () => {
  const { run, masks, weights } = await prunedEpoch(cpuBackend(), mlp([16]), 3, true);
  assert.deepEqual(run.history.map((e) => e.sparsity), [0, 0.8 * (1 - 0.5 ** 3), 0.8]);
  assert.ok(Number.isNaN(run.accuracyBeforeRetraining));
  assertMasksIntact(masks, weights, "gradual");
});

Deno.test("pruning masks stay intact through an epoch of retraining: WebGPU path, agreeing with the CPU", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  const ours = await prunedEpoch(gpu);
  const reference = await prunedEpoch(cpuBackend());
  assertMasksIntact(ours.masks, ours.weights, "webgpu");
  assert.deepEqual(ours.masks.kept, reference.masks.kept);
  assert.ok(Math.abs(ours.run.testAccuracy - reference.run.testAccuracy) <= 0.01);
});

Deno.test("one pruned SGD step of LeNet-5 is the same on both backends, pruned weights +0 on both", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void t.step({ name: "no WebGPU adapter: skipped", ignore: true, fn: () => {} });
  const study = await subset();
  const results = [];
  for (const backend of [cpuBackend(), gpu]) {
    const model = new CompiledModel(backend, lenet5(), 4, 11);
    const masks = new PruningMasks(model);
    await masks.prune({ sparsity: 0.6, method: "magnitude", scope: "global" });
    const { train } = deviceDataSets(backend, study);
    await trainEpoch(model, train, 0.05, new Random(2).permutation(study.trainCount), { maxSteps: 1 });
    results.push({ weights: await masks.weights(), kept: masks.kept });
  }
  const [cpu, webgpu] = results;
  assert.deepEqual(webgpu.kept, cpu.kept);
  for (const [name, w] of webgpu.weights) {
    assertClose(w, cpu.weights.get(name)!, `${name} after one step`);
    const kept = webgpu.kept.get(name)!;
    assert.ok(w.every((v, i) => kept[i] === 1 || Object.is(v, 0)), `${name}: pruned weights are +0`);
  }
});
