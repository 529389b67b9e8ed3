/**
 * The pruning kernel: after it, pruned weights are +0 exactly and kept ones unchanged, on the twin
 * against a naive loop and on the GPU against the twin bit for bit, at odd lengths (a mask word only
 * partly used) and a grid long enough to fold into y.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import { cpuBackend, f32, gpuBackend, type Random, randomArray, u32 } from "../helpers.ts";
import { type CaseBuilder, checkKernel, runKernel } from "./check.ts";

/** One bit per weight, 32 to a word, written out by hand. */
function packBits(kept: readonly boolean[]): Uint32Array {
  const words = new Uint32Array(Math.ceil(kept.length / 32));
  kept.forEach((k, i) => {
    if (k) words[Math.floor(i / 32)] |= 2 ** (i % 32);
  });
  return words;
}

const maskCase: CaseBuilder = (c: Constants, random: Random) => {
  const w = randomArray(random, c.N);
  const kept = Array.from({ length: c.N }, () => random.next() < 0.3);
  return {
    bindings: { w: f32(w), mask: u32(packBits(kept)) },
    expected: { w: Array.from(w, (v, i) => kept[i] ? v : 0) },
  };
};

for (const N of [1, 31, 33, 1000, 64 * 65535 + 77]) {
  Deno.test(`prune_apply_mask at N = ${N}`, async () => {
    await checkKernel(kernels.prune_apply_mask, { N }, maskCase, { exact: true });
  });
}

Deno.test("a pruned negative weight becomes +0, not -0, on both paths", async () => {
  const gpu = await gpuBackend();
  for (const backend of gpu ? [cpuBackend(), gpu] : [cpuBackend()]) {
    const out = await runKernel(backend, kernels.prune_apply_mask, {
      w: f32([-1.5, -2, 3]),
      mask: u32([0b100]),
    }, { N: 3 });
    assert.ok(Object.is(out.w[0], 0) && Object.is(out.w[1], 0), `${backend.kind}: ${out.w}`);
    assert.equal(out.w[2], 3);
  }
});
