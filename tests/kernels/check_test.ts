/**
 * The kernel-check helper can fail: an element a kernel leaves unwritten, an element written outside its
 * slice, an input a kernel changes and a wrong gradient each fail it. And every registered kernel is
 * checked by some family's test.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import { f32, Random, randomArray } from "../helpers.ts";
import { type CaseBuilder, checkGradients, checkKernel, fails, poison } from "./check.ts";

/** dense_forward into columns `claimedO0` .. of a poisoned [B, OUT_TOTAL] y, as the reference claims. */
function denseForwardCase(claimedO0: number, claimedTotal?: number): CaseBuilder {
  return (c, r) => {
    const x = randomArray(r, c.B * c.IN), w = randomArray(r, c.OUT * c.IN), b = randomArray(r, c.OUT);
    const y = poison(c.B * c.OUT_TOTAL), expected = Float64Array.from(y);
    for (let n = 0; n < c.B; n++) {
      for (let o = 0; o < c.OUT; o++) {
        let s = b[o];
        for (let k = 0; k < c.IN; k++) s += x[n * c.IN + k] * w[o * c.IN + k];
        expected[n * c.OUT_TOTAL + claimedO0 + o] = s;
      }
      // Claim that the kernel also writes the columns after its slice.
      for (let o = claimedO0 + c.OUT; o < (claimedTotal ?? claimedO0 + c.OUT); o++) {
        expected[n * c.OUT_TOTAL + o] = 0;
      }
    }
    return { bindings: { x: f32(x), w: f32(w), b: f32(b), y: f32(y) }, expected: { y: expected } };
  };
}

const SLICE: Constants = { B: 3, IN: 8, OUT: 5, OUT_TOTAL: 7, O0: 1, ACT: 0 };

Deno.test("checkKernel passes a kernel that writes its slice and nothing else", async () => {
  await checkKernel(kernels.dense_forward, SLICE, denseForwardCase(1));
});

Deno.test("checkKernel fails an element left unwritten (the reference expects a value, the kernel leaves NaN)", async () => {
  assert.ok(
    await fails(() => checkKernel(kernels.dense_forward, SLICE, denseForwardCase(1, 7), { twinOnly: true })),
  );
});

Deno.test("checkKernel fails an element written where the kernel must not write", async () => {
  // The reference places the slice one column to the left: the kernel writes where NaN must stay.
  assert.ok(
    await fails(() => checkKernel(kernels.dense_forward, SLICE, denseForwardCase(0), { twinOnly: true })),
  );
});

Deno.test("checkKernel fails a kernel that changes a binding the reference says it leaves alone", async () => {
  // dense_backward_weight applies the SGD step to w_train: a reference that omits it must fail.
  const c = { B: 2, IN: 3, OUT: 2 };
  const build: CaseBuilder = (_, r) => {
    const x = randomArray(r, 6), g = randomArray(r, 4), w = randomArray(r, 6), b = randomArray(r, 2);
    const dw = Float64Array.from({ length: 6 }, (_, i) => {
      const o = Math.floor(i / 3), k = i % 3;
      return g[o] * x[k] + g[2 + o] * x[3 + k];
    });
    return {
      bindings: {
        x: f32(x),
        g: f32(g),
        w_train: f32(w),
        b_train: f32(b),
        grad_w: f32(poison(6)),
        grad_b: f32(poison(2)),
        learning_rate: f32([0.5]),
      },
      expected: {
        grad_w: dw,
        grad_b: [g[0] + g[2], g[1] + g[3]],
        b_train: b.map((v, o) => v - 0.5 * (g[o] + g[2 + o])),
      },
    };
  };
  assert.ok(await fails(() => checkKernel(kernels.dense_backward_weight, c, build, { twinOnly: true })));
  // With the step on w_train expected, the same case passes: the failure above was the omission.
  const full: CaseBuilder = (constants, r) => {
    const { bindings, expected } = build(constants, r);
    const w = bindings.w_train.data, dw = expected.grad_w;
    return { bindings, expected: { ...expected, w_train: Float64Array.from(w, (v, i) => v - 0.5 * dw[i]) } };
  };
  await checkKernel(kernels.dense_backward_weight, c, full, { twinOnly: true });
});

Deno.test("checkGradients fails a gradient off by 1%, and passes the true one", async () => {
  const c = { N: 7 };
  const random = new Random(2);
  const x = randomArray(random, 7, 2), dy = randomArray(random, 7);
  const check = (scale: number) =>
    checkGradients({
      forward: kernels.tanh_forward,
      constants: c,
      inputs: { x },
      output: ["y", 7],
      dy,
      analytic: { x: Float64Array.from(x, (v, i) => scale * dy[i] * (1 - Math.tanh(v) ** 2)) },
      step: 1e-2,
      tolerance: { relative: 1e-3, absoluteOfMax: 2e-4 },
      what: "tanh",
    });
  await check(1);
  assert.ok(await fails(() => check(1.01)));
});

Deno.test("every registered kernel is checked by a family's test in tests/kernels/", () => {
  // A family's tests sit in tests/kernels/ or in a folder of their own there (tests/kernels/quantize/).
  const testsIn = (folder: URL): string[] =>
    [...Deno.readDirSync(folder)].flatMap((entry) =>
      entry.isDirectory
        ? testsIn(new URL(`${entry.name}/`, folder))
        : entry.name.endsWith("_test.ts") && entry.name !== "check_test.ts"
        ? [Deno.readTextFileSync(new URL(entry.name, folder))]
        : []
    );
  const sources = testsIn(new URL("./", import.meta.url)).join("\n");
  // A family that checks its variants through the registry proves in its own test that it checks every
  // kernel whose name has its prefix (`name.startsWith("dense_")`); any other kernel is named.
  const prefixes = [...sources.matchAll(/name\.startsWith\("(\w+)"\)/g)].map((match) => match[1]);
  for (const name of Object.keys(kernels)) {
    const covered = sources.includes(`kernels.${name}`) || prefixes.some((prefix) => name.startsWith(prefix));
    assert.ok(covered, `kernels.${name} is checked by no tests/kernels/*_test.ts`);
  }
});
