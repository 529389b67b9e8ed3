/**
 * Every variant of every tunable kernel (engine/kernels.ts: dense forward, both dense backward
 * passes, convolution forward and input gradient) against a plain float64 reference written for
 * this test alone, on its twin (CPU) and on the GPU, at batch sizes 1, 3, 4, 5 and 17 and shapes
 * off every tile and workgroup multiple. Outputs start as NaN and the comparison is NaN-aware, so
 * an element that a kernel forgets to write (or writes outside its slice) fails. One helper,
 * `checkKernel`, checks any kernel at any shape; each case is one line.
 */
import { AssertionError } from "node:assert/strict";
import type { Backend, Constants } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import { type Kernel, kernels, variantsOf, withDefaults } from "../../engine/kernels.ts";
import {
  adapterOffered,
  cpuBackend,
  f32,
  gpuBackend,
  type HostArray,
  Random,
  randomArray,
  runKernel,
  TOLERANCE,
} from "../helpers.ts";

// ---------- the references: naive float64 loops ----------

const activate = (act: number, s: number) =>
  act === ACT.relu ? Math.max(s, 0) : act === ACT.tanh ? Math.tanh(s) : s;

function denseForward(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, c: Constants) {
  const y = new Float64Array(c.B * c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      let s = b[o];
      for (let k = 0; k < c.IN; k++) s += x[n * c.IN + k] * w[o * c.IN + k];
      y[n * c.OUT + o] = activate(c.ACT, s);
    }
  }
  return y;
}

/** g is [B, OUT] (the slice's own columns). */
function denseInput(g: ArrayLike<number>, w: ArrayLike<number>, c: Constants) {
  const dx = new Float64Array(c.B * c.IN);
  for (let n = 0; n < c.B; n++) {
    for (let k = 0; k < c.IN; k++) {
      for (let o = 0; o < c.OUT; o++) dx[n * c.IN + k] += g[n * c.OUT + o] * w[o * c.IN + k];
    }
  }
  return dx;
}

function denseWeight(x: ArrayLike<number>, g: ArrayLike<number>, c: Constants) {
  const dw = new Float64Array(c.OUT * c.IN), db = new Float64Array(c.OUT);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) {
      db[o] += g[n * c.OUT + o];
      for (let k = 0; k < c.IN; k++) dw[o * c.IN + k] += g[n * c.OUT + o] * x[n * c.IN + k];
    }
  }
  return { dw, db };
}

function convForward(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, c: Constants) {
  const OH = c.H - c.K + 1, OW = c.W - c.K + 1, y = new Float64Array(c.B * c.OC * OH * OW);
  for (let n = 0; n < c.B; n++) {
    for (let oc = 0; oc < c.OC; oc++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          let s = b[oc];
          for (let ic = 0; ic < c.IC; ic++) {
            for (let u = 0; u < c.K; u++) {
              for (let v = 0; v < c.K; v++) {
                s += x[((n * c.IC + ic) * c.H + i + u) * c.W + j + v] *
                  w[((oc * c.IC + ic) * c.K + u) * c.K + v];
              }
            }
          }
          y[((n * c.OC + oc) * OH + i) * OW + j] = activate(c.ACT, s);
        }
      }
    }
  }
  return y;
}

/** dy is [B, OC, OH, OW], without border: dx[n, ic, i + u, j + v] += dy[n, oc, i, j] w[oc, ic, u, v]. */
function convInput(dy: ArrayLike<number>, w: ArrayLike<number>, c: Constants) {
  const OH = c.H - c.K + 1, OW = c.W - c.K + 1, dx = new Float64Array(c.B * c.IC * c.H * c.W);
  for (let n = 0; n < c.B; n++) {
    for (let oc = 0; oc < c.OC; oc++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          for (let ic = 0; ic < c.IC; ic++) {
            for (let u = 0; u < c.K; u++) {
              for (let v = 0; v < c.K; v++) {
                dx[((n * c.IC + ic) * c.H + i + u) * c.W + j + v] += dy[((n * c.OC + oc) * OH + i) * OW + j] *
                  w[((oc * c.IC + ic) * c.K + u) * c.K + v];
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

// ---------- one case per op: inputs, NaN-filled outputs, expected values ----------

interface Case {
  readonly bindings: Record<string, HostArray>;
  /** Expected contents of the bindings the kernel writes; NaN where it must not write. */
  readonly expected: Record<string, ArrayLike<number>>;
}

const nan = (length: number) => new Float32Array(length).fill(NaN);
const LR = 0.25;

/** Columns O0 .. O0 + OUT - 1 of a [B, OUT_TOTAL] array hold `values` [B, OUT]; the rest `outside`. */
function placed(values: ArrayLike<number>, c: Constants, outside: ArrayLike<number>) {
  const full = Float64Array.from(outside);
  for (let n = 0; n < c.B; n++) {
    for (let o = 0; o < c.OUT; o++) full[n * c.OUT_TOTAL + c.O0 + o] = values[n * c.OUT + o];
  }
  return full;
}
function columns(full: ArrayLike<number>, c: Constants) {
  return Float64Array.from(
    { length: c.B * c.OUT },
    (_, i) => full[Math.floor(i / c.OUT) * c.OUT_TOTAL + c.O0 + i % c.OUT],
  );
}

const CASES: Record<string, (c: Constants, r: Random) => Case> = {
  dense_forward(c, r) {
    const x = randomArray(r, c.B * c.IN), w = randomArray(r, c.OUT * c.IN, 1 / Math.sqrt(c.IN));
    const b = randomArray(r, c.OUT), y = nan(c.B * c.OUT_TOTAL);
    return {
      bindings: { x: f32(x), w: f32(w), b: f32(b), y: f32(y) },
      expected: { y: placed(denseForward(x, w, b, c), c, y) },
    };
  },
  dense_backward_input(c, r) {
    const g = randomArray(r, c.B * c.OUT_TOTAL), w = randomArray(r, c.OUT * c.IN, 1 / Math.sqrt(c.IN));
    const before = c.ACCUMULATE ? randomArray(r, c.B * c.IN) : nan(c.B * c.IN);
    const dx = denseInput(columns(g, c), w, c).map((v, i) => v + (c.ACCUMULATE ? before[i] : 0));
    return { bindings: { g: f32(g), w: f32(w), dx: f32(before) }, expected: { dx } };
  },
  dense_backward_weight(c, r) {
    const x = randomArray(r, c.B * c.IN), g = randomArray(r, c.B * c.OUT_TOTAL);
    const w = randomArray(r, c.OUT * c.IN), b = randomArray(r, c.OUT);
    const { dw, db } = denseWeight(x, columns(g, c), c);
    return {
      bindings: {
        x: f32(x),
        g: f32(g),
        w_train: f32(w),
        b_train: f32(b),
        grad_w: f32(nan(dw.length)),
        grad_b: f32(nan(db.length)),
        learning_rate: f32([LR]),
      },
      expected: {
        grad_w: dw,
        grad_b: db,
        w_train: w.map((v, i) => v - LR * dw[i]),
        b_train: b.map((v, i) => v - LR * db[i]),
      },
    };
  },
  conv2d_forward(c, r) {
    const OH = c.H - c.K + 1, OW = c.W - c.K + 1;
    const x = randomArray(r, c.B * c.IC * c.H * c.W), w = randomArray(r, c.OC * c.IC * c.K * c.K, 0.3);
    const b = randomArray(r, c.OC);
    return {
      bindings: { x: f32(x), w: f32(w), b: f32(b), y: f32(nan(c.B * c.OC * OH * OW)) },
      expected: { y: convForward(x, w, b, c) },
    };
  },
  conv2d_backward_input(c, r) {
    const OH = c.H - c.K + 1, OW = c.W - c.K + 1, P = c.PAD, GH = OH + 2 * P, GW = OW + 2 * P;
    const dy = randomArray(r, c.B * c.OC * OH * OW), w = randomArray(r, c.OC * c.IC * c.K * c.K, 0.3);
    const g = new Float32Array(c.B * c.OC * GH * GW); // zero border, as conv2d_preactivation_gradient leaves it
    for (let m = 0; m < c.B * c.OC; m++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) g[(m * GH + i + P) * GW + j + P] = dy[(m * OH + i) * OW + j];
      }
    }
    return {
      bindings: { g: f32(g), w: f32(w), dx: f32(nan(c.B * c.IC * c.H * c.W)) },
      expected: { dx: convInput(dy, w, c) },
    };
  },
};

/** NaN where NaN is expected, else within TOLERANCE of the float64 reference. */
function assertMatches(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  let largest = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isNaN(expected[i])) largest = Math.max(largest, Math.abs(expected[i]));
  }
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i], got = actual[i];
    const allowed = TOLERANCE.absoluteOfMax * largest + TOLERANCE.relative * Math.abs(want);
    const ok = Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= allowed;
    if (!ok) {
      throw new AssertionError({
        message: `${what}[${i}]: ${got}, expected ${want} (allowed ${allowed.toExponential(2)})`,
      });
    }
  }
}

/** Runs `kernel` on `backend` at shape `c` and checks every binding it writes against the reference. */
export async function checkKernel(
  backend: Backend,
  kernel: Kernel,
  shape: Constants,
  seed = 1,
): Promise<void> {
  const c = withDefaults(kernel, { OUT_TOTAL: shape.OUT, ...shape });
  const { bindings, expected } = CASES[kernel.op](c, new Random(seed));
  const out = await runKernel(backend, kernel, bindings, c);
  for (const [name, want] of Object.entries(expected)) {
    assertMatches(out[name], want, `${kernel.entry} on ${backend.kind} ${JSON.stringify(shape)} ${name}`);
  }
}

// ---------- the cases ----------

const BATCHES = [1, 3, 4, 5, 17];
/** Off every tile (4, 16) and workgroup (16, 64) multiple; IN a multiple of 4 so the vec4 kernels run too. */
const DENSE: Constants[] = [
  { IN: 36, OUT: 19, ACT: ACT.tanh },
  { IN: 132, OUT: 7, ACT: ACT.relu },
  { IN: 37, OUT: 21, ACT: ACT.identity },
];
/** A row slice of a wider layer: columns 5 .. 5 + OUT - 1 of 29; the input gradient adds to dx. */
const SLICE = { IN: 20, OUT: 13, OUT_TOTAL: 29, O0: 5, ACT: ACT.tanh };
const CONV: Constants[] = [
  { IC: 3, OC: 5, H: 11, W: 9, K: 5, ACT: ACT.tanh },
  { IC: 1, OC: 6, H: 10, W: 13, K: 3, ACT: ACT.relu },
];

interface Check {
  readonly kernel: Kernel;
  readonly shape: Constants;
}

function checks(): Check[] {
  const list: Check[] = [];
  for (const B of BATCHES) {
    for (const shape of DENSE) {
      for (const op of ["dense_forward", "dense_backward_input", "dense_backward_weight"]) {
        for (const kernel of variantsOf(op, { B, ...shape })) list.push({ kernel, shape: { B, ...shape } });
      }
    }
    for (const shape of CONV) {
      const c = { B, ...shape, PAD: shape.K - 1 };
      for (const op of ["conv2d_forward", "conv2d_backward_input"]) {
        for (const kernel of variantsOf(op, c)) list.push({ kernel, shape: c });
      }
    }
  }
  for (const op of ["dense_forward", "dense_backward_input", "dense_backward_weight"]) {
    for (const kernel of variantsOf(op, { B: 5, ...SLICE })) {
      list.push({ kernel, shape: { B: 5, ...SLICE, ACCUMULATE: op === "dense_backward_input" ? 1 : 0 } });
    }
  }
  return list;
}

async function checkAll(t: Deno.TestContext, backend: Backend) {
  const all = checks();
  for (const kernel of new Set(all.map((c) => c.kernel))) {
    await t.step(kernel.entry, async () => {
      for (const { shape } of all.filter((c) => c.kernel === kernel)) {
        await checkKernel(backend, kernel, shape);
      }
    });
  }
}

Deno.test("oracle: every kernel variant's twin matches a float64 reference", (t) =>
  checkAll(t, cpuBackend()));

Deno.test({
  name: "oracle: every kernel variant on the GPU matches a float64 reference",
  ignore: !(await adapterOffered()),
  fn: async (t) => await checkAll(t, (await gpuBackend())!),
});

Deno.test("oracle: an element a kernel leaves unwritten fails the check", async () => {
  // dense_forward at OUT_TOTAL > OUT: the reference says the other columns stay NaN. Claiming the
  // kernel wrote all of them (OUT_TOTAL = OUT in the reference) must fail.
  const kernel = kernels.dense_forward;
  const c = withDefaults(kernel, { B: 3, IN: 8, OUT: 5, OUT_TOTAL: 7, O0: 1, ACT: 0 });
  const { bindings, expected } = CASES.dense_forward(c, new Random(3));
  const out = await runKernel(cpuBackend(), kernel, bindings, c);
  assertMatches(out.y, expected.y, "the slice");
  const wrong = Float64Array.from(expected.y, (v) => Number.isNaN(v) ? 0 : v);
  let failed = false;
  try {
    assertMatches(out.y, wrong, "unwritten");
  } catch {
    failed = true;
  }
  if (!failed) throw new AssertionError({ message: "a NaN left where a value was expected passed" });
});

Deno.test("oracle: the registry's variants are the ones this test checks", () => {
  const checked = new Set(checks().map((c) => c.kernel.entry));
  const tunable = Object.values(kernels as Record<string, Kernel>).filter((k) => k.op in CASES);
  for (const kernel of tunable) {
    if (!checked.has(kernel.entry)) throw new AssertionError({ message: `${kernel.entry} is never checked` });
  }
});
