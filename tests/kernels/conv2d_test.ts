/**
 * The convolution kernels (forward, pre-activation gradient, input gradient, the weight gradient's partial
 * sums and their total with the SGD step) and their variants: the twins against PyTorch; every kernel's
 * twin against a float64 loop and the GPU against the twin (checkKernel: one line per shape), at tiles of
 * 4 channels x 4 positions that the shapes do not fill; the twins' backward against finite differences.
 */
import assert from "node:assert/strict";
import type { Backend, Constants } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import { type Kernel, kernels, variantsOf } from "../../engine/kernels.ts";
import { assertClose, cpuBackend, f32, loadGolden, Random, randomArray } from "../helpers.ts";
import {
  type CaseBuilder,
  checkGradients,
  checkKernel,
  describe,
  poison,
  runProgram,
  same,
  type Step,
} from "./check.ts";

// ---------- the references: naive float64 loops ----------

const activate = (act: number, s: number) =>
  act === ACT.relu ? Math.max(s, 0) : act === ACT.tanh ? Math.tanh(s) : s;
const slope = (act: number, y: number) =>
  act === ACT.relu ? (y > 0 ? 1 : 0) : act === ACT.tanh ? 1 - y * y : 1;

/** Sizes and the constants' defaults (K 5, PAD 0, ROWS 1, no activation); g is dy with a border of PAD. */
function sizes(c: Constants) {
  const { B, IC, OC, H, W, K = 5, PAD = 0, ROWS = 1, ACT = 0 } = c;
  const OH = H - K + 1, OW = W - K + 1, GH = OH + 2 * PAD, GW = OW + 2 * PAD;
  const KK = IC * K * K, R = Math.ceil(B * OH / ROWS);
  return {
    ...{ B, IC, OC, H, W, K, PAD, ROWS, ACT, OH, OW, GH, GW, KK, R },
    x: B * IC * H * W,
    w: OC * KK,
    y: B * OC * OH * OW,
    g: B * OC * GH * GW,
    partial: R * (KK + 1) * OC,
  };
}

/** Indices into x [B, IC, H, W], w [OC, IC, K, K], y [B, OC, OH, OW] and g [B, OC, GH, GW]. */
function indexers(s: ReturnType<typeof sizes>) {
  return {
    x: (n: number, ic: number, i: number, j: number) => ((n * s.IC + ic) * s.H + i) * s.W + j,
    w: (oc: number, ic: number, u: number, v: number) => ((oc * s.IC + ic) * s.K + u) * s.K + v,
    y: (n: number, oc: number, i: number, j: number) => ((n * s.OC + oc) * s.OH + i) * s.OW + j,
    g: (n: number, oc: number, i: number, j: number) =>
      ((n * s.OC + oc) * s.GH + i + s.PAD) * s.GW + j + s.PAD,
  };
}

/** g as conv2d_preactivation_gradient leaves it: `interior` inside, zeros in the border. */
function bordered(s: ReturnType<typeof sizes>, interior: ArrayLike<number>) {
  const g = new Float32Array(s.g), at = indexers(s);
  for (let n = 0; n < s.B; n++) {
    for (let oc = 0; oc < s.OC; oc++) {
      for (let i = 0; i < s.OH; i++) {
        for (let j = 0; j < s.OW; j++) g[at.g(n, oc, i, j)] = interior[at.y(n, oc, i, j)];
      }
    }
  }
  return g;
}

/** y[n, oc, i, j] = act(b[oc] + sum x[n, ic, i + u, j + v] w[oc, ic, u, v]). */
const forwardCase: CaseBuilder = (c, r) => {
  const s = sizes(c), at = indexers(s);
  const x = randomArray(r, s.x), w = randomArray(r, s.w, 0.3), b = randomArray(r, s.OC);
  const y = new Float64Array(s.y);
  for (let n = 0; n < s.B; n++) {
    for (let oc = 0; oc < s.OC; oc++) {
      for (let i = 0; i < s.OH; i++) {
        for (let j = 0; j < s.OW; j++) {
          let sum = b[oc];
          for (let ic = 0; ic < s.IC; ic++) {
            for (let u = 0; u < s.K; u++) {
              for (let v = 0; v < s.K; v++) sum += x[at.x(n, ic, i + u, j + v)] * w[at.w(oc, ic, u, v)];
            }
          }
          y[at.y(n, oc, i, j)] = activate(s.ACT, sum);
        }
      }
    }
  }
  return { bindings: { x: f32(x), w: f32(w), b: f32(b), y: f32(poison(s.y)) }, expected: { y } };
};

/** g = dy * act'(y) inside a border of PAD zeros, every element written. */
const preactivationCase: CaseBuilder = (c, r) => {
  const s = sizes(c);
  const dy = randomArray(r, s.y), y = Float32Array.from(randomArray(r, s.y, 2), (v) => activate(s.ACT, v));
  const g = bordered(s, Float64Array.from(dy, (d, i) => d * slope(s.ACT, y[i])));
  return { bindings: { dy: f32(dy), y: f32(y), g: f32(poison(s.g)) }, expected: { g } };
};

/** dx[n, ic, i + u, j + v] = sum dy[n, oc, i, j] w[oc, ic, u, v], from g with its zero border. */
const inputCase: CaseBuilder = (c, r) => {
  const s = sizes(c), at = indexers(s);
  const dy = randomArray(r, s.y), w = randomArray(r, s.w, 0.3), dx = new Float64Array(s.x);
  for (let n = 0; n < s.B; n++) {
    for (let oc = 0; oc < s.OC; oc++) {
      for (let i = 0; i < s.OH; i++) {
        for (let j = 0; j < s.OW; j++) {
          for (let ic = 0; ic < s.IC; ic++) {
            for (let u = 0; u < s.K; u++) {
              for (let v = 0; v < s.K; v++) {
                dx[at.x(n, ic, i + u, j + v)] += dy[at.y(n, oc, i, j)] * w[at.w(oc, ic, u, v)];
              }
            }
          }
        }
      }
    }
  }
  return { bindings: { g: f32(bordered(s, dy)), w: f32(w), dx: f32(poison(s.x)) }, expected: { dx } };
};

/**
 * For each chunk of ROWS rows (n, i) of the batch's output rows: partial[chunk, (ic, u, v), oc] = sum of
 * g[n, oc, i, j] x[n, ic, i + u, j + v] over the chunk's rows and every j, and partial[chunk, KK, oc] the
 * sum of g (the bias's share).
 */
const partialsCase: CaseBuilder = (c, r) => {
  const s = sizes(c), at = indexers(s);
  const x = randomArray(r, s.x), dy = randomArray(r, s.y), partial = new Float64Array(s.partial);
  for (let row = 0; row < s.B * s.OH; row++) {
    const n = Math.floor(row / s.OH), i = row % s.OH, chunk = Math.floor(row / s.ROWS) * (s.KK + 1) * s.OC;
    for (let oc = 0; oc < s.OC; oc++) {
      for (let j = 0; j < s.OW; j++) {
        const d = dy[at.y(n, oc, i, j)];
        partial[chunk + s.KK * s.OC + oc] += d;
        for (let ic = 0; ic < s.IC; ic++) {
          for (let u = 0; u < s.K; u++) {
            for (let v = 0; v < s.K; v++) {
              partial[chunk + ((ic * s.K + u) * s.K + v) * s.OC + oc] += d * x[at.x(n, ic, i + u, j + v)];
            }
          }
        }
      }
    }
  }
  return {
    bindings: { x: f32(x), g: f32(bordered(s, dy)), partial: f32(poison(s.partial)) },
    expected: { partial },
  };
};

const LEARNING_RATE = 0.1;

/** grad_w[oc, k] = sum over chunks of partial[chunk, k, oc] (k = KK: the bias), then the SGD step. */
const weightCase: CaseBuilder = (c, r) => {
  const s = sizes(c);
  const partial = randomArray(r, s.partial), w = randomArray(r, s.w, 0.3), b = randomArray(r, s.OC);
  const gradW = new Float64Array(s.w), gradB = new Float64Array(s.OC);
  for (let chunk = 0; chunk < s.R; chunk++) {
    for (let k = 0; k <= s.KK; k++) {
      for (let oc = 0; oc < s.OC; oc++) {
        const value = partial[(chunk * (s.KK + 1) + k) * s.OC + oc];
        if (k < s.KK) gradW[oc * s.KK + k] += value;
        else gradB[oc] += value;
      }
    }
  }
  return {
    bindings: {
      partial: f32(partial),
      w_train: f32(w),
      b_train: f32(b),
      grad_w: f32(poison(s.w)),
      grad_b: f32(poison(s.OC)),
      learning_rate: f32([LEARNING_RATE]),
    },
    expected: {
      grad_w: gradW,
      grad_b: gradB,
      w_train: w.map((v, i) => v - LEARNING_RATE * gradW[i]),
      b_train: b.map((v, i) => v - LEARNING_RATE * gradB[i]),
    },
  };
};

const OPS: Record<string, CaseBuilder> = {
  conv2d_forward: forwardCase,
  conv2d_preactivation_gradient: preactivationCase,
  conv2d_backward_input: inputCase,
  conv2d_weight_partials: partialsCase,
  conv2d_backward_weight: weightCase,
};

// ---------- one line per shape ----------

/** A hidden layer's kernels (PAD = K - 1 for the input gradient); a first layer's (PAD 0, no input gradient). */
const LAYER = [
  kernels.conv2d_forward,
  kernels.conv2d_preactivation_gradient,
  kernels.conv2d_backward_input,
  kernels.conv2d_weight_partials,
  kernels.conv2d_backward_weight,
];
const FIRST_LAYER = [
  kernels.conv2d_preactivation_gradient,
  kernels.conv2d_weight_partials,
  kernels.conv2d_backward_weight,
];
const EVERY = "every variant";
const { identity, relu, tanh } = ACT;

/**
 * Tiles of 4 channels x 4 positions that the shapes do not fill: 5 output and 3 input channels, rows of 5
 * outputs and 9 inputs; then a 3x3 kernel with rows of 8 and 11 or 13. ROWS splits the 21 and 24 output
 * rows into chunks with a short last one; batch sizes 1 to 17.
 */
const SHAPES: [Kernel[] | typeof EVERY, Constants][] = [
  ...[1, 3, 4, 5, 17].flatMap((B): [typeof EVERY, Constants][] => [
    [EVERY, { B, IC: 3, OC: 5, H: 11, W: 9, K: 5, ACT: tanh, PAD: 4, ROWS: 1 }],
    [EVERY, { B, IC: 1, OC: 6, H: 10, W: 13, K: 3, ACT: relu, PAD: 2, ROWS: 1 }],
  ]),
  ...[identity, relu, tanh].flatMap((ACT): [Kernel[], Constants][] => [
    [LAYER, { B: 3, IC: 3, OC: 5, H: 11, W: 9, K: 5, ACT, PAD: 4, ROWS: 4 }],
    [FIRST_LAYER, { B: 3, IC: 3, OC: 5, H: 11, W: 9, K: 5, ACT, PAD: 0, ROWS: 4 }],
    [LAYER, { B: 2, IC: 2, OC: 4, H: 14, W: 13, K: 3, ACT, PAD: 2, ROWS: 5 }],
    [FIRST_LAYER, { B: 2, IC: 2, OC: 4, H: 14, W: 13, K: 3, ACT, PAD: 0, ROWS: 5 }],
  ]),
];

/** The ops with variants (the tuner's choice): a row of EVERY checks each of their variants. */
const TUNABLE = ["conv2d_forward", "conv2d_backward_input"];

/** The kernels a row names, or every registered variant of the tunable ops that supports its shape. */
function kernelsOf([which, c]: [Kernel[] | typeof EVERY, Constants]): Kernel[] {
  return which === EVERY ? TUNABLE.flatMap((op) => variantsOf(op, c)) : which;
}

Deno.test("conv2d kernels: every variant's twin vs float64, GPU vs twin, outputs written only where due", async (t) => {
  for (const row of SHAPES) {
    for (const kernel of kernelsOf(row)) {
      await t.step(describe(kernel, row[1]), () => checkKernel(kernel, row[1], OPS[kernel.op]));
    }
  }
});

Deno.test("conv2d kernels: every registered variant is checked above", () => {
  const checked = new Set(SHAPES.flatMap(kernelsOf));
  for (const [name, kernel] of Object.entries(kernels as Record<string, Kernel>)) {
    if (name.startsWith("conv2d_")) assert.ok(checked.has(kernel), `${name} is never checked`);
  }
});

// ---------- the layer's passes, as it dispatches them ----------

/** g, then the input gradient from it. */
const INPUT_PASS = (c: Constants): Step[] => [
  [kernels.conv2d_preactivation_gradient, same("dy", "y", "g"), c],
  [kernels.conv2d_backward_input, same("g", "w", "dx"), c],
];
/** g, the chunks' partial sums, then their total and the SGD step. */
const WEIGHT_PASS = (c: Constants): Step[] => [
  [kernels.conv2d_preactivation_gradient, same("dy", "y", "g"), c],
  [kernels.conv2d_weight_partials, same("x", "g", "partial"), c],
  [kernels.conv2d_backward_weight, {
    ...same("partial", "grad_w", "grad_b", "learning_rate"),
    w_train: "w",
    b_train: "b",
  }, c],
];

/** The forward, then both backward passes on its output, on shared tensors. */
function layer(backend: Backend, c: Constants, d: Record<string, ArrayLike<number>>, learningRate: number) {
  const s = sizes(c);
  return runProgram(backend, {
    ...Object.fromEntries(Object.entries(d).map(([name, data]) => [name, f32(data)])),
    y: f32(poison(s.y)),
    g: f32(poison(s.g)),
    dx: f32(poison(s.x)),
    partial: f32(poison(s.partial)),
    grad_w: f32(poison(s.w)),
    grad_b: f32(poison(s.OC)),
    learning_rate: f32([learningRate]),
  }, [[kernels.conv2d_forward, same("x", "w", "b", "y"), c], ...INPUT_PASS(c), ...WEIGHT_PASS(c)]);
}

Deno.test("conv2d twins match PyTorch's nn.Conv2d (golden)", async () => {
  const { inputs, outputs } = loadGolden("conv2d");
  const [B, IC, H, W] = inputs.x.shape;
  const [OC, , K] = inputs.W.shape;
  const c = { B, IC, OC, H, W, K, ACT: ACT.identity, PAD: K - 1, ROWS: 1 };
  const [x, w, b, dy] = [inputs.x.data, inputs.W.data, inputs.b.data, inputs.dy.data];
  const lr = 0.25;
  const out = await layer(cpuBackend(), c, { x, w, b, dy }, lr);
  assertClose(out.y, outputs.y.data, "y");
  assertClose(out.dx, outputs.dx.data, "dx");
  assertClose(out.grad_w, outputs.dW.data, "dW");
  assertClose(out.grad_b, outputs.db.data, "db");
  const stepped = (value: ArrayLike<number>, grad: ArrayLike<number>) =>
    Float32Array.from(value, (v, i) => v - lr * grad[i]);
  assertClose(out.w, stepped(w, outputs.dW.data), "W after the SGD step");
  assertClose(out.b, stepped(b, outputs.db.data), "b after the SGD step");
});

// ---------- gradients ----------

/**
 * Inputs (|x| < 1, |w| < 0.5, |b| < 1) whose every pre-activation is at least 0.02 from zero: a
 * finite-difference step of 1e-2 in one of them moves a pre-activation by at most 0.01, so it
 * never crosses ReLU's kink, where the difference quotient would not be the derivative.
 */
async function awayFromReluKink(c: Constants, random: Random) {
  const s = sizes(c);
  for (;;) {
    const x = randomArray(random, s.x), w = randomArray(random, s.w, 0.5), b = randomArray(random, s.OC);
    const { y } = await runProgram(cpuBackend(), { x: f32(x), w: f32(w), b: f32(b), y: f32(poison(s.y)) }, [
      [kernels.conv2d_forward, same("x", "w", "b", "y"), { ...c, ACT: ACT.identity }],
    ]);
    if (y.every((value) => Math.abs(value) >= 0.02)) return { x, w, b, dy: randomArray(random, s.y) };
  }
}

Deno.test("conv2d backward twins are the derivative of the forward twin (finite differences)", async () => {
  const shape = { B: 2, IC: 2, OC: 3, H: 7, W: 6, K: 3 };
  const d = await awayFromReluKink(shape, new Random(11));
  for (const act of Object.values(ACT)) {
    const c = { ...shape, ACT: act, PAD: shape.K - 1, ROWS: 3 };
    const analytic = await layer(cpuBackend(), c, d, 0);
    // Worst cases for the difference quotient: y is stored in float32, so it carries up to ~30
    // affected outputs' rounding (6e-8 of |y dy| <= 1 each) divided by 2 * step = 0.02, 1e-4; the
    // truncation error, step^2 / 6 times tanh's third derivative, about 2e-5. Observed below 3e-5;
    // a wrong index or slope errs by order 1.
    await checkGradients({
      forward: kernels.conv2d_forward,
      constants: c,
      inputs: { x: d.x, w: d.w, b: d.b },
      output: ["y", sizes(c).y],
      dy: d.dy,
      analytic: { x: analytic.dx, w: analytic.grad_w, b: analytic.grad_b },
      step: 1e-2,
      tolerance: { relative: 3e-4, absoluteOfMax: 3e-4 },
      what: `conv2d, ACT ${act}`,
    });
  }
});
