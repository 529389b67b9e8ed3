/**
 * The stand-alone activation kernels: twins against PyTorch (ReLU's exact zeros, tanh up to |100|); each
 * kernel's twin against a float64 loop and the GPU against the twin (checkKernel), including a grid long
 * enough to fold into y.
 */
import { ACT } from "../../engine/constants.ts";
import type { Constants } from "../../engine/backend.ts";
import { type Kernel, kernels } from "../../engine/kernels.ts";
import { assertClose, cpuBackend, f32, loadGolden, type Random, randomArray } from "../helpers.ts";
import { type CaseBuilder, checkKernel, map64, poison, runProgram, same } from "./check.ts";

const relu = (s: number) => s > 0 ? s : 0;
const FUNCTIONS = { [ACT.relu]: relu, [ACT.tanh]: Math.tanh } as Record<number, (s: number) => number>;
/** d act / d s in terms of y = act(s), as the layers pass the saved output. */
const SLOPES = { [ACT.relu]: (y: number) => y > 0 ? 1 : 0, [ACT.tanh]: (y: number) => 1 - y * y } as Record<
  number,
  (y: number) => number
>;
const FAMILIES = [
  { act: ACT.relu, forward: kernels.relu_forward, backward: kernels.relu_backward, golden: "relu" },
  { act: ACT.tanh, forward: kernels.tanh_forward, backward: kernels.tanh_backward, golden: "tanh" },
];

for (const { forward, backward, golden: name } of FAMILIES) {
  Deno.test(`${name} twins match PyTorch (backward on the forward's output)`, async () => {
    const golden = loadGolden(name);
    const { x, dy } = golden.inputs;
    const out = await runProgram(cpuBackend(), {
      x: f32(x.data),
      y: f32(poison(x.data.length)),
      dy: f32(dy.data),
      dx: f32(poison(x.data.length)),
    }, [[forward, same("x", "y"), { N: x.data.length }], [backward, { y_saved: "y", dy: "dy", dx: "dx" }, {
      N: x.data.length,
    }]]);
    assertClose(out.y, golden.outputs.y.data, `${name} y`);
    assertClose(out.dx, golden.outputs.dx.data, `${name} dx`);
  });
}

/** Random values with exact zeros and tanh's saturated range (the GPU clamps to +-20) mixed in. */
function testInputs(random: Random, N: number): Float32Array {
  const x = randomArray(random, N, 4);
  const special = [0, -0, 100, -100, 20, -20, 30, -88.8];
  for (let i = 0; i < N; i += 5) x[i] = special[(i / 5) % special.length];
  return x;
}

const hashed = new Map<number, { x: Float32Array; dy: Float32Array }>();

/** A cheap hash instead of Random, for millions of elements (made once per N): x in [-5, 5], dy in [-1, 1]. */
function hashedInputs(N: number) {
  if (!hashed.has(N)) {
    const x = new Float32Array(N), dy = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      x[i] = ((Math.imul(i, 2654435761) >>> 0) % 20001 - 10000) / 2000;
      dy[i] = ((Math.imul(i, 40503) >>> 0) % 2001 - 1000) / 1000;
    }
    hashed.set(N, { x, dy });
  }
  return hashed.get(N)!;
}

type Inputs = (N: number, random: Random) => { x: Float32Array; dy: Float32Array };
const randomInputs: Inputs = (N, random) => ({ x: testInputs(random, N), dy: randomArray(random, N) });

/** y = act(x) into a poisoned y. */
const forwardCase = (act: number, inputs = randomInputs): CaseBuilder => (c, random) => {
  const { x } = inputs(c.N, random);
  return {
    bindings: { x: f32(x), y: f32(poison(c.N)) },
    expected: { y: map64(x, FUNCTIONS[act]) },
  };
};

/** The forward's float32 output, as the layer saves it (ReLU's exact zeros, tanh's exact +-1). */
const savedOutput = (act: number, x: Float32Array) => new Float32Array(map64(x, FUNCTIONS[act]));

/** dx = dy * act'(y) into a poisoned dx. */
const backwardCase = (act: number, inputs = randomInputs): CaseBuilder => (c, random) => {
  const { x, dy } = inputs(c.N, random);
  const y = savedOutput(act, x);
  return {
    bindings: { y_saved: f32(y), dy: f32(dy), dx: f32(poison(c.N)) },
    expected: { dx: map64(dy, (d, i) => d * SLOPES[act](y[i])) },
  };
};

/** g = g * act'(y) in place, y random in (-1, 1) with the forward's exact outputs (0, +-1) mixed in. */
const gradientCase: CaseBuilder = (c, random) => {
  const { x, dy } = randomInputs(c.N, random);
  const y = randomArray(random, c.N), saved = savedOutput(c.ACT, x);
  for (let i = 0; i < c.N; i += 5) y[i] = saved[i];
  return {
    bindings: { g: f32(dy), y_saved: f32(y) },
    expected: { g: map64(dy, (d, i) => d * SLOPES[c.ACT](y[i])) },
  };
};

const check = (kernel: Kernel, c: Constants, build: CaseBuilder) => checkKernel(kernel, c, build);

Deno.test("activation kernels: twin vs float64, GPU vs twin, N not a multiple of 64", async (t) => {
  for (const { act, forward, backward, golden: name } of FAMILIES) {
    for (const N of [1, 63, 65, 1027]) {
      await t.step(`${name}, N ${N}`, async () => {
        await check(forward, { N }, forwardCase(act));
        await check(backward, { N }, backwardCase(act));
      });
    }
  }
});

Deno.test("activation kernels: a grid over 65535 workgroups folds into y and covers every element", async () => {
  // 4.3M elements need 67,188 workgroups of 64: two rows of the folded grid, the second partly idle.
  const N = 4_300_000;
  for (const { act, forward, backward } of FAMILIES) {
    await check(forward, { N }, forwardCase(act, hashedInputs));
    await check(backward, { N }, backwardCase(act, hashedInputs));
  }
});

Deno.test("activation_gradient turns dy into dy * act'(y) in place: twin vs float64, GPU vs twin", async (t) => {
  for (const ACT_ of [ACT.relu, ACT.tanh]) {
    for (const N of [1, 65, 1027]) {
      await t.step(
        `ACT ${ACT_}, N ${N}`,
        () => check(kernels.activation_gradient, { N, ACT: ACT_ }, gradientCase),
      );
    }
  }
});
