/**
 * The dense kernels (forward, input gradient, weight gradient with its fused SGD step) and their variants:
 * the twins against PyTorch; every variant's twin against a float64 loop and the GPU against the twin at
 * batch sizes and shapes off every tile (4, 16) and workgroup (16, 64) multiple, row slices included
 * (checkKernel: one line per shape); a layer run as row slices against the layer run whole; and the
 * twins' backward against finite differences of their forward.
 */
import assert from "node:assert/strict";
import type { Backend, Constants } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import { type Kernel, kernels, variantsOf } from "../../engine/kernels.ts";
import { denseKernels } from "../../kernels/dense/registry.ts";
import { assertClose, cpuBackend, f32, gpuBackend, loadGolden, Random, randomArray } from "../helpers.ts";
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

/** The constants the kernels default: the whole layer (OUT_TOTAL = OUT, O0 = 0), no activation, no accumulation. */
const full = (c: Constants): Constants => ({ OUT_TOTAL: c.OUT, O0: 0, ACT: 0, ACCUMULATE: 0, ...c });

/** Columns O0 .. O0 + OUT - 1 of a [B, OUT_TOTAL] array hold `values(n, o)`; the rest `outside`. */
function placed(c: Constants, outside: ArrayLike<number>, values: (n: number, o: number) => number) {
  const all = Float64Array.from(outside);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) all[n * c.OUT_TOTAL + c.O0 + o] = values(n, o);
  }
  return all;
}

/** y[n, O0 + o] = act(b[o] + sum_k x[n, k] w[o, k]); the other columns of y stay as they were. */
const forwardCase: CaseBuilder = (given, r) => {
  const c = full(given);
  const x = randomArray(r, c.B * c.IN), w = randomArray(r, c.OUT * c.IN, 1 / Math.sqrt(c.IN));
  const b = randomArray(r, c.OUT), y = poison(c.B * c.OUT_TOTAL);
  const expected = placed(c, y, (n, o) => {
    let s = b[o];
    for (let k = 0; k < c.IN; k++) s += x[n * c.IN + k] * w[o * c.IN + k];
    return activate(c.ACT, s);
  });
  return { bindings: { x: f32(x), w: f32(w), b: f32(b), y: f32(y) }, expected: { y: expected } };
};

/** dx[n, k] (+)= sum_o g[n, O0 + o] w[o, k]. */
const inputCase: CaseBuilder = (given, r) => {
  const c = full(given);
  const g = randomArray(r, c.B * c.OUT_TOTAL), w = randomArray(r, c.OUT * c.IN, 1 / Math.sqrt(c.IN));
  const before = c.ACCUMULATE ? randomArray(r, c.B * c.IN) : poison(c.B * c.IN);
  const dx = new Float64Array(c.B * c.IN);
  for (let n = 0; n < c.B; n++) {
    for (let k = 0; k < c.IN; k++) {
      let s = c.ACCUMULATE ? before[n * c.IN + k] : 0;
      for (let o = 0; o < c.OUT; o++) s += g[n * c.OUT_TOTAL + c.O0 + o] * w[o * c.IN + k];
      dx[n * c.IN + k] = s;
    }
  }
  return { bindings: { g: f32(g), w: f32(w), dx: f32(before) }, expected: { dx } };
};

const LEARNING_RATE = 0.25;

/** grad_w[o, k] = sum_n g[n, O0 + o] x[n, k], grad_b[o] = sum_n g[n, O0 + o], then the SGD step. */
const weightCase: CaseBuilder = (given, r) => {
  const c = full(given);
  const x = randomArray(r, c.B * c.IN), g = randomArray(r, c.B * c.OUT_TOTAL);
  const w = randomArray(r, c.OUT * c.IN), b = randomArray(r, c.OUT);
  const dw = new Float64Array(c.OUT * c.IN), db = new Float64Array(c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      const go = g[n * c.OUT_TOTAL + c.O0 + o];
      db[o] += go;
      for (let k = 0; k < c.IN; k++) dw[o * c.IN + k] += go * x[n * c.IN + k];
    }
  }
  return {
    bindings: {
      x: f32(x),
      g: f32(g),
      w_train: f32(w),
      b_train: f32(b),
      grad_w: f32(poison(dw.length)),
      grad_b: f32(poison(db.length)),
      learning_rate: f32([LEARNING_RATE]),
    },
    expected: {
      grad_w: dw,
      grad_b: db,
      w_train: w.map((v, i) => v - LEARNING_RATE * dw[i]),
      b_train: b.map((v, i) => v - LEARNING_RATE * db[i]),
    },
  };
};

const OPS = {
  dense_forward: forwardCase,
  dense_backward_input: inputCase,
  dense_backward_weight: weightCase,
};

// ---------- one line per shape ----------

/** dense.wgsl's 4x4 tiles; dense_vec4.wgsl's 16-wide tiles (IN a multiple of 4); every variant that takes the shape. */
const SCALAR = [kernels.dense_forward, kernels.dense_backward_input, kernels.dense_backward_weight];
const VEC4 = [
  kernels.dense_forward_vec4,
  kernels.dense_backward_input_vec4,
  kernels.dense_backward_weight_vec4,
];
const VEC4_AND_SCALAR = [...VEC4, ...SCALAR];
/** The 16 x 16 tiles (16 samples, or 16 rows of a weight gradient) and the scalar kernels beside them. */
const TILE16 = [
  kernels.dense_forward_vec4_batch16,
  kernels.dense_backward_input_vec4_batch16,
  kernels.dense_backward_weight_vec4_rows16,
  ...SCALAR,
];
const EVERY = "every variant";
const { identity, relu, tanh } = ACT;

/**
 * Sizes off the workgroup (64) and tile (4, 16) multiples and some on them; batch sizes 1, 3, 4, 5, 7, 17,
 * 64. Row slices (O0, OUT_TOTAL) write only their own columns; an input gradient may add to dx.
 */
const SHAPES: [Kernel[] | typeof EVERY, Constants][] = [
  // IN a multiple of 4 or not (37), OUT off every tile: every variant that takes the shape.
  ...[1, 3, 4, 5, 17].flatMap((B): [typeof EVERY, Constants][] => [
    [EVERY, { B, IN: 36, OUT: 19, ACT: tanh }],
    [EVERY, { B, IN: 132, OUT: 7, ACT: relu }],
    [EVERY, { B, IN: 37, OUT: 21, ACT: identity }],
  ]),
  [EVERY, { B: 5, IN: 20, OUT: 13, OUT_TOTAL: 29, O0: 5, ACT: tanh, ACCUMULATE: 1 }],
  // The scalar tiles at tiny, odd and whole-workgroup sizes.
  [SCALAR, { B: 1, IN: 1, OUT: 1, ACT: identity }],
  [SCALAR, { B: 3, IN: 5, OUT: 3, ACT: identity }],
  [SCALAR, { B: 4, IN: 37, OUT: 70, ACT: identity }],
  [SCALAR, { B: 7, IN: 130, OUT: 65, ACT: identity }],
  [SCALAR, { B: 64, IN: 64, OUT: 12, ACT: identity }],
  [SCALAR, { B: 1, IN: 5, OUT: 3, ACT: relu }],
  [SCALAR, { B: 3, IN: 37, OUT: 70, ACT: relu }],
  [SCALAR, { B: 4, IN: 130, OUT: 65, ACT: relu }],
  [SCALAR, { B: 7, IN: 64, OUT: 12, ACT: relu }],
  [SCALAR, { B: 64, IN: 1, OUT: 1, ACT: relu }],
  [SCALAR, { B: 1, IN: 37, OUT: 70, ACT: tanh }],
  [SCALAR, { B: 3, IN: 130, OUT: 65, ACT: tanh }],
  [SCALAR, { B: 4, IN: 64, OUT: 12, ACT: tanh }],
  [SCALAR, { B: 7, IN: 1, OUT: 1, ACT: tanh }],
  [SCALAR, { B: 64, IN: 5, OUT: 3, ACT: tanh }],
  ...[identity, relu, tanh].map((ACT): [Kernel[], Constants] => [
    SCALAR,
    { B: 7, IN: 37, OUT: 23, OUT_TOTAL: 70, O0: 41, ACT, ACCUMULATE: 1 },
  ]),
  // The vec4 tiles: IN a multiple of 4 but not of 16, and some that are; the scalar kernels at the same shapes.
  [VEC4_AND_SCALAR, { B: 1, IN: 4, OUT: 1, ACT: identity }],
  [VEC4_AND_SCALAR, { B: 3, IN: 36, OUT: 10, ACT: identity }],
  [VEC4_AND_SCALAR, { B: 4, IN: 68, OUT: 23, ACT: identity }],
  [VEC4_AND_SCALAR, { B: 7, IN: 784, OUT: 70, ACT: identity }],
  [VEC4_AND_SCALAR, { B: 64, IN: 400, OUT: 130, ACT: identity }],
  [VEC4_AND_SCALAR, { B: 1, IN: 68, OUT: 23, ACT: relu }],
  [VEC4_AND_SCALAR, { B: 3, IN: 784, OUT: 70, ACT: relu }],
  [VEC4_AND_SCALAR, { B: 4, IN: 400, OUT: 130, ACT: relu }],
  [VEC4_AND_SCALAR, { B: 7, IN: 16, OUT: 17, ACT: relu }],
  [VEC4_AND_SCALAR, { B: 64, IN: 4, OUT: 1, ACT: relu }],
  [VEC4_AND_SCALAR, { B: 1, IN: 400, OUT: 130, ACT: tanh }],
  [VEC4_AND_SCALAR, { B: 3, IN: 16, OUT: 17, ACT: tanh }],
  [VEC4_AND_SCALAR, { B: 4, IN: 4, OUT: 1, ACT: tanh }],
  [VEC4_AND_SCALAR, { B: 7, IN: 36, OUT: 10, ACT: tanh }],
  [VEC4_AND_SCALAR, { B: 64, IN: 68, OUT: 23, ACT: tanh }],
  [VEC4_AND_SCALAR, { B: 5, IN: 36, OUT: 23, OUT_TOTAL: 70, O0: 41, ACT: tanh, ACCUMULATE: 1 }],
  // Tiles of 16 samples or rows that the batch (or OUT) fills, leaves short, and spans several times.
  [TILE16, { B: 16, IN: 36, OUT: 10, ACT: relu }],
  [TILE16, { B: 21, IN: 68, OUT: 23, ACT: relu }],
  [TILE16, { B: 64, IN: 784, OUT: 70, ACT: relu }],
  [TILE16, { B: 33, IN: 16, OUT: 17, ACT: relu }],
  [TILE16, { B: 64, IN: 300, OUT: 100, ACT: relu }],
  [TILE16, { B: 20, IN: 36, OUT: 23, OUT_TOTAL: 70, O0: 41, ACT: tanh, ACCUMULATE: 1 }],
];

/** The kernels a row names, or every registered variant of the three ops that supports its shape. */
function kernelsOf([which, c]: [Kernel[] | typeof EVERY, Constants]): Kernel[] {
  return which === EVERY ? Object.keys(OPS).flatMap((op) => variantsOf(op, c)) : which;
}

const caseOf = (kernel: Kernel) => OPS[kernel.op as keyof typeof OPS];

Deno.test("dense kernels: every variant's twin vs float64, GPU vs twin, outputs written only where due", async (t) => {
  for (const row of SHAPES) {
    for (const kernel of kernelsOf(row)) {
      await t.step(describe(kernel, row[1]), () => checkKernel(kernel, row[1], caseOf(kernel)));
    }
  }
});

Deno.test("dense kernels: every registered variant is checked above", () => {
  const checked = new Set(SHAPES.flatMap(kernelsOf));
  // Every name in the dense family's registry starts dense_ (tests/kernels/check_test.ts reads the prefix).
  for (const [name, kernel] of Object.entries(denseKernels as Record<string, Kernel>)) {
    if (name.startsWith("dense_")) assert.ok(checked.has(kernel), `${name} is never checked`);
  }
});

// ---------- against PyTorch ----------

/** The layer's backward as it dispatches it (identity: g = dy), at a learning rate, with the kernels given. */
function backward(
  backend: Backend,
  d: Record<string, ArrayLike<number>>,
  c: Constants,
  learningRate: number,
  input: Kernel = kernels.dense_backward_input,
  weight: Kernel = kernels.dense_backward_weight,
) {
  return runProgram(backend, {
    x: f32(d.x),
    w: f32(d.w),
    b: f32(d.b),
    g: f32(d.dy),
    dx: f32(poison(d.x.length)),
    grad_w: f32(poison(d.w.length)),
    grad_b: f32(poison(d.b.length)),
    learning_rate: f32([learningRate]),
  }, [
    [input, same("g", "w", "dx"), c],
    [weight, {
      ...same("x", "g", "grad_w", "grad_b", "learning_rate"),
      w_train: "w",
      b_train: "b",
    }, c],
  ]);
}

Deno.test("dense twins match PyTorch: y, dx, dW, db, and the fused SGD step", async () => {
  const golden = loadGolden("dense");
  const { x, W, b, dy } = golden.inputs;
  const [B, IN] = x.shape, [OUT] = W.shape;
  const c = { B, IN, OUT, ACT: ACT.identity };
  const d = { x: x.data, w: W.data, b: b.data, dy: dy.data };
  const cpu = cpuBackend();
  const { y } = await runProgram(cpu, { x: f32(d.x), w: f32(d.w), b: f32(d.b), y: f32(poison(B * OUT)) }, [
    [kernels.dense_forward, same("x", "w", "b", "y"), c],
  ]);
  assertClose(y, golden.outputs.y.data, "y");

  const still = await backward(cpu, d, c, 0);
  assertClose(still.dx, golden.outputs.dx.data, "dx");
  assertClose(still.grad_w, golden.outputs.dW.data, "dW");
  assertClose(still.grad_b, golden.outputs.db.data, "db");
  assert.deepEqual(still.w, d.w, "learning rate 0 keeps the weights");
  assert.deepEqual(still.b, d.b, "learning rate 0 keeps the biases");

  const stepped = await backward(cpu, d, c, 0.5);
  const sgd = (value: ArrayLike<number>, grad: ArrayLike<number>) =>
    Float32Array.from(value, (v, i) => v - 0.5 * grad[i]);
  assertClose(stepped.w, sgd(d.w, golden.outputs.dW.data), "W - 0.5 dW");
  assertClose(stepped.b, sgd(d.b, golden.outputs.db.data), "b - 0.5 db");
});

/** Each row of a [rows, width] array, `extra` zeros appended to it. */
function padRows(values: ArrayLike<number>, width: number, extra: number): Float32Array {
  const rows = values.length / width, padded = new Float32Array(rows * (width + extra));
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) padded[r * (width + extra) + i] = values[r * width + i];
  }
  return padded;
}

/** The first `width` columns of each row of a [rows, width + extra] array. */
function unpadRows(values: ArrayLike<number>, width: number, extra: number): Float32Array {
  const rows = values.length / (width + extra), kept = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) kept[r * width + i] = values[r * (width + extra) + i];
  }
  return kept;
}

Deno.test("every dense variant matches PyTorch (inputs padded with a zero feature to a multiple of 4), twin and GPU", async (t) => {
  const golden = loadGolden("dense");
  const { x, W, b, dy } = golden.inputs;
  const [B, IN] = x.shape, [OUT] = W.shape;
  // A zero input feature (with its own weights zero) changes no output, and its gradients are not compared.
  const extra = (4 - (IN % 4)) % 4, WIDE = IN + extra;
  const c = { B, IN: WIDE, OUT, ACT: ACT.identity };
  const d = { x: padRows(x.data, IN, extra), w: padRows(W.data, IN, extra), b: b.data, dy: dy.data };
  const backends: Backend[] = [cpuBackend()];
  const gpu = await gpuBackend();
  if (gpu) backends.push(gpu);
  for (const backend of backends) {
    for (const forward of variantsOf("dense_forward", c)) {
      await t.step(`${backend.kind} ${forward.entry}`, async () => {
        const bindings = { x: f32(d.x), w: f32(d.w), b: f32(d.b), y: f32(poison(B * OUT)) };
        const { y } = await runProgram(backend, bindings, [[forward, same("x", "w", "b", "y"), c]]);
        assertClose(y, golden.outputs.y.data, "y");
      });
    }
    const inputs = variantsOf("dense_backward_input", c), weights = variantsOf("dense_backward_weight", c);
    for (let i = 0; i < Math.max(inputs.length, weights.length); i++) {
      const input = inputs[i % inputs.length], weight = weights[i % weights.length];
      await t.step(`${backend.kind} ${input.entry}, ${weight.entry}`, async () => {
        const stepped = await backward(backend, d, c, 0.5, input, weight);
        assertClose(unpadRows(stepped.dx, IN, extra), golden.outputs.dx.data, "dx");
        assertClose(unpadRows(stepped.grad_w, IN, extra), golden.outputs.dW.data, "dW");
        assertClose(stepped.grad_b, golden.outputs.db.data, "db");
        const sgd = (value: ArrayLike<number>, grad: ArrayLike<number>) =>
          Float32Array.from(value, (v, i) => v - 0.5 * grad[i]);
        assertClose(unpadRows(stepped.w, IN, extra), sgd(W.data, golden.outputs.dW.data), "W - 0.5 dW");
        assertClose(stepped.b, sgd(b.data, golden.outputs.db.data), "b - 0.5 db");
      });
    }
  }
});

// ---------- a layer too large for one binding ----------

/**
 * A whole layer's step as `Dense` records it: activation gradient, then forward, input gradient and
 * weight gradient, each as consecutive row slices of `rows` outputs bound as slices of shared tensors.
 */
function layerStep(backend: Backend, d: Record<string, Float32Array>, c: Constants, rows: number) {
  const { B, IN, OUT: OUT_TOTAL } = c;
  const forward: Step[] = [], input: Step[] = [], weight: Step[] = [];
  if (c.ACT !== ACT.identity) {
    input.push([kernels.activation_gradient, { g: "dy", y_saved: "y" }, { N: B * OUT_TOTAL, ACT: c.ACT }]);
  }
  for (let O0 = 0; O0 < OUT_TOTAL; O0 += rows) {
    const OUT = Math.min(rows, OUT_TOTAL - O0);
    const slice = { ...c, OUT, OUT_TOTAL, O0, ACCUMULATE: O0 > 0 ? 1 : 0 };
    const w = { array: "w", offset: O0 * IN, length: OUT * IN }, b = { array: "b", offset: O0, length: OUT };
    forward.push([kernels.dense_forward, { x: "x", w, b, y: "y" }, slice]);
    input.push([kernels.dense_backward_input, { g: "dy", w, dx: "dx" }, slice]);
    weight.push([kernels.dense_backward_weight, {
      x: "x",
      g: "dy",
      w_train: w,
      b_train: b,
      grad_w: { array: "grad_w", offset: O0 * IN, length: OUT * IN },
      grad_b: { array: "grad_b", offset: O0, length: OUT },
      learning_rate: "learning_rate",
    }, slice]);
  }
  return runProgram(backend, {
    ...Object.fromEntries(Object.entries(d).map(([name, data]) => [name, f32(data)])),
    y: f32(poison(B * OUT_TOTAL)),
    dx: f32(poison(B * IN)),
    grad_w: f32(poison(d.w.length)),
    grad_b: f32(poison(d.b.length)),
    learning_rate: f32([0.25]),
  }, [...forward, ...input, ...weight]);
}

Deno.test("dense kernels: a layer run as row slices equals the layer run whole", async (t) => {
  // 64 rows of 37 floats end on a 256-byte boundary, the GPU's binding offset alignment.
  const c = { B: 5, IN: 37, OUT: 100 };
  const backends: Backend[] = [cpuBackend()];
  const gpu = await gpuBackend();
  if (gpu) backends.push(gpu);
  else console.warn("GPU case skipped: no WebGPU adapter");
  const random = new Random(3);
  for (const backend of backends) {
    for (const act of Object.values(ACT)) {
      await t.step(`${backend.kind}, ACT ${act}`, async () => {
        const d = {
          x: randomArray(random, c.B * c.IN),
          w: randomArray(random, c.OUT * c.IN, 1 / Math.sqrt(c.IN)),
          b: randomArray(random, c.OUT, 1 / Math.sqrt(c.IN)),
          dy: randomArray(random, c.B * c.OUT),
        };
        const whole = await layerStep(backend, d, { ...c, ACT: act }, c.OUT);
        const sliced = await layerStep(backend, d, { ...c, ACT: act }, 64);
        for (const key of Object.keys(whole)) assertClose(sliced[key], whole[key], key);
      });
    }
  }
});

// ---------- gradients ----------

/**
 * Central differences (step 1e-2) of sum(y * dy) evaluated on float32 forward outputs: rounding
 * noise of about 1e-7 * |sum| / 0.02 and a truncation error of step^2/6 * |f'''| (below 1e-4 for
 * tanh) set this tolerance, far looser than parity but far tighter than any wrong gradient.
 */
const DIFFERENCE_TOLERANCE = { relative: 1e-3, absoluteOfMax: 2e-4 };
const STEP = 1e-2;

Deno.test("dense twins: backward is the derivative of sum(y * dy) for every activation", async () => {
  const cpu = cpuBackend();
  for (const act of Object.values(ACT)) {
    const c = { B: 3, IN: 4, OUT: 5, ACT: act };
    const forward = (d: Record<string, Float32Array>, ACT: number) =>
      runProgram(cpu, { x: f32(d.x), w: f32(d.w), b: f32(d.b), y: f32(poison(c.B * c.OUT)) }, [
        [kernels.dense_forward, same("x", "w", "b", "y"), { ...c, ACT }],
      ]);
    // Inputs whose pre-activations stay a margin away from ReLU's kink, so the differences see no kink.
    let d: Record<string, Float32Array>;
    for (let seed = 10;; seed++) {
      const random = new Random(seed);
      d = {
        x: randomArray(random, c.B * c.IN),
        w: randomArray(random, c.OUT * c.IN, 1 / Math.sqrt(c.IN)),
        b: randomArray(random, c.OUT, 1 / Math.sqrt(c.IN)),
        dy: randomArray(random, c.B * c.OUT),
      };
      if ((await forward(d, ACT.identity)).y.every((value) => Math.abs(value) > 5 * STEP)) break;
    }
    // The layer's backward: g = dy * act'(y), then both backward kernels at learning rate 0.
    const { y } = await forward(d, act);
    const { g } = await runProgram(cpu, { g: f32(d.dy), y_saved: f32(y) }, [
      [kernels.activation_gradient, same("g", "y_saved"), { N: y.length, ACT: act }],
    ]);
    const gradients = await backward(cpu, { ...d, dy: g }, c, 0);
    await checkGradients({
      forward: kernels.dense_forward,
      constants: c,
      inputs: { x: d.x, w: d.w, b: d.b },
      output: ["y", c.B * c.OUT],
      dy: d.dy,
      analytic: { x: gradients.dx, w: gradients.grad_w, b: gradients.grad_b },
      step: STEP,
      tolerance: DIFFERENCE_TOLERANCE,
      what: `dense, ACT ${act}`,
    });
  }
});
