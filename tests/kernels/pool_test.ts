/**
 * The 2x2 max-pooling kernels: the twins against PyTorch (ties included); each kernel's twin against a
 * plain loop and the GPU against the twin bit for bit (checkKernel: one line per shape); the backward
 * twin against finite differences of the forward.
 */
import assert from "node:assert/strict";
import type { Constants } from "../../engine/backend.ts";
import { type Kernel, kernels } from "../../engine/kernels.ts";
import { poolKernels } from "../../kernels/pool/registry.ts";
import { assertClose, cpuBackend, f32, loadGolden, Random, randomArray } from "../helpers.ts";
import {
  type CaseBuilder,
  checkGradients,
  checkKernel,
  describe,
  poison,
  runProgram,
  same,
} from "./check.ts";

const sizes = ({ B, C, H, W }: Constants) => {
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  return { OH, OW, x: B * C * H * W, y: B * C * OH * OW };
};

/** Row-major offset (0 .. 3) of the window's first largest element, as PyTorch breaks ties. */
function argmax(x: ArrayLike<number>, c: Constants, plane: number, oh: number, ow: number): number {
  let best = 0;
  for (let i = 1; i < 4; i++) {
    const at = (i: number) => plane + (2 * oh + (i >> 1)) * c.W + 2 * ow + (i & 1);
    if (x[at(i)] > x[at(best)]) best = i;
  }
  return best;
}

/** Values from five levels, so that most windows hold ties. */
const tiedValues = (random: Random, length: number) =>
  Float32Array.from(randomArray(random, length, 2), Math.round);

/** y[n, ch, oh, ow] = the largest of its 2x2 window; a last odd row or column is in no window. */
const forwardCase: CaseBuilder = (c, r) => {
  const s = sizes(c), x = tiedValues(r, s.x), y = new Float64Array(s.y);
  for (let p = 0; p < c.B * c.C; p++) {
    for (let oh = 0; oh < s.OH; oh++) {
      for (let ow = 0; ow < s.OW; ow++) {
        const i = argmax(x, c, p * c.H * c.W, oh, ow);
        y[(p * s.OH + oh) * s.OW + ow] = x[p * c.H * c.W + (2 * oh + (i >> 1)) * c.W + 2 * ow + (i & 1)];
      }
    }
  }
  return { bindings: { x: f32(x), y: f32(poison(s.y)) }, expected: { y } };
};

/** dx = dy at each window's first largest element, zero elsewhere (every element written). */
const backwardCase: CaseBuilder = (c, r) => {
  const s = sizes(c), x = tiedValues(r, s.x), dy = randomArray(r, s.y), dx = new Float64Array(s.x);
  for (let p = 0; p < c.B * c.C; p++) {
    for (let oh = 0; oh < s.OH; oh++) {
      for (let ow = 0; ow < s.OW; ow++) {
        const i = argmax(x, c, p * c.H * c.W, oh, ow);
        dx[p * c.H * c.W + (2 * oh + (i >> 1)) * c.W + 2 * ow + (i & 1)] = dy[(p * s.OH + oh) * s.OW + ow];
      }
    }
  }
  return { bindings: { x: f32(x), dy: f32(dy), dx: f32(poison(s.x)) }, expected: { dx } };
};

/**
 * Odd heights and widths (a row or column in no window), plane sizes that are not multiples of the
 * workgroup size of 64, a single row of windows. Choosing a maximum only compares and copies, so the
 * GPU and the twin agree bit for bit.
 */
const SHAPES: Constants[] = [
  { B: 3, C: 5, H: 9, W: 7 },
  { B: 2, C: 4, H: 12, W: 16 },
  { B: 1, C: 2, H: 33, W: 31 },
  { B: 5, C: 1, H: 3, W: 2 },
];
const CASES = new Map<Kernel, CaseBuilder>([
  [kernels.maxpool2d_forward, forwardCase],
  [kernels.maxpool2d_backward, backwardCase],
]);

Deno.test("maxpool2d kernels: twin vs a plain loop, GPU vs twin bit for bit, ties included", async (t) => {
  for (const c of SHAPES) {
    for (const [kernel, build] of CASES) {
      await t.step(describe(kernel, c), () => checkKernel(kernel, c, build, { exact: true }));
    }
  }
});

Deno.test("maxpool2d kernels: every registered one is checked above", () => {
  for (const [name, kernel] of Object.entries(poolKernels as Record<string, Kernel>)) {
    if (name.startsWith("maxpool2d_")) assert.ok(CASES.has(kernel), `${name} is never checked`);
  }
});

Deno.test("maxpool2d twins match PyTorch's max_pool2d, ties included (golden)", async () => {
  const { inputs, outputs } = loadGolden("maxpool2d");
  const [B, C, H, W] = inputs.x.shape;
  const c = { B, C, H, W }, s = sizes(c);
  const out = await runProgram(cpuBackend(), {
    x: f32(inputs.x.data),
    y: f32(poison(s.y)),
    dy: f32(inputs.dy.data),
    dx: f32(poison(s.x)),
  }, [[kernels.maxpool2d_forward, same("x", "y"), c], [
    kernels.maxpool2d_backward,
    same("x", "dy", "dx"),
    c,
  ]]);
  assertClose(out.y, outputs.y.data, "y");
  assertClose(out.dx, outputs.dx.data, "dx");
});

Deno.test("maxpool2d backward twin is the derivative of the forward twin (finite differences)", async () => {
  const c = { B: 2, C: 2, H: 5, W: 7 }, s = sizes(c);
  const random = new Random(3);
  // Distinct values 0.05 apart: a step of 1e-2 never changes which element of a window is largest,
  // where max is not differentiable.
  const x = Float32Array.from(random.permutation(s.x), (rank) => (rank - s.x / 2) * 0.05);
  const dy = randomArray(random, s.y);
  const { dx } = await runProgram(cpuBackend(), { x: f32(x), dy: f32(dy), dx: f32(poison(s.x)) }, [
    [kernels.maxpool2d_backward, same("x", "dy", "dx"), c],
  ]);
  // The pooled sum is linear in x near these inputs, so the quotient is exact but for rounding
  // x +- step to float32: 6e-8 * |x| <= 2e-7 over 2 * step, about 1e-5.
  await checkGradients({
    forward: kernels.maxpool2d_forward,
    constants: c,
    inputs: { x },
    output: ["y", s.y],
    dy,
    analytic: { x: dx },
    step: 1e-2,
    tolerance: { relative: 1e-4, absoluteOfMax: 1e-4 },
    what: "maxpool2d",
  });
});
