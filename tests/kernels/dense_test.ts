/**
 * The dense kernels (forward, input gradient, weight gradient with its fused SGD step): the twins
 * against PyTorch, the GPU against the twins, row slices against the whole layer, and the twins'
 * backward against finite differences of their forward.
 */
import assert from "node:assert/strict";
import type { Backend, Constants, Dispatch, Tensor } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import { dense_forward } from "../../kernels/dense/dense.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  assertClose,
  cpuBackend,
  f32,
  finiteDifferences,
  gpuBackend,
  loadGolden,
  Random,
  randomArray,
  runKernel,
} from "../helpers.ts";

/** A dense layer's inputs: x [B, IN], w [OUT, IN], b [OUT], dy [B, OUT_TOTAL]. */
interface DenseInputs {
  readonly x: Float32Array;
  readonly w: Float32Array;
  readonly b: Float32Array;
  readonly dy: Float32Array;
}

/** Written to outputs beforehand: a kernel that skips an element leaves it for the test to see. */
const UNWRITTEN = 7;

/** Inputs at the scale of a real layer: weights and biases as PyTorch initialises them. */
function randomInputs(random: Random, c: Constants): DenseInputs {
  return {
    x: randomArray(random, c.B * c.IN),
    w: randomArray(random, c.OUT * c.IN, 1 / Math.sqrt(c.IN)),
    b: randomArray(random, c.OUT, 1 / Math.sqrt(c.IN)),
    dy: randomArray(random, c.B * (c.OUT_TOTAL ?? c.OUT)),
  };
}

function filled(length: number, value = UNWRITTEN): Float32Array {
  return new Float32Array(length).fill(value);
}

/** dense.wgsl's kernels (4x4 scalar tiles), or dense_vec4.wgsl's (IN a multiple of 4). */
const FAMILIES = {
  scalar: {
    forward: kernels.dense_forward,
    input: kernels.dense_backward_input,
    weight: kernels.dense_backward_weight,
  },
  vec4: {
    forward: kernels.dense_forward_vec4,
    input: kernels.dense_backward_input_vec4,
    weight: kernels.dense_backward_weight_vec4,
  },
  vec4_batch16: {
    forward: kernels.dense_forward_vec4_batch16,
    input: kernels.dense_backward_input_vec4,
    weight: kernels.dense_backward_weight_vec4,
  },
} as const;
type Family = keyof typeof FAMILIES;

async function forward(
  backend: Backend,
  d: DenseInputs,
  c: Constants,
  yBefore?: Float32Array,
  family: Family = "scalar",
) {
  const y = yBefore ?? filled(c.B * (c.OUT_TOTAL ?? c.OUT));
  const out = await runKernel(backend, FAMILIES[family].forward, {
    x: f32(d.x),
    w: f32(d.w),
    b: f32(d.b),
    y: f32(y),
  }, c);
  return out.y as Float32Array;
}

/**
 * The layer's backward pass: activation_gradient turns dy into g = dy * act'(y) (`y` is the
 * activated forward output, as the layer passes it), then both backward kernels take g.
 */
async function backward(
  backend: Backend,
  d: DenseInputs,
  y: Float32Array,
  c: Constants,
  learningRate: number,
  dxBefore = filled(c.B * c.IN),
  family: Family = "scalar",
) {
  const g = c.ACT === ACT.identity ? d.dy : (await runKernel(
    backend,
    kernels.activation_gradient,
    { g: f32(d.dy), y_saved: f32(y) },
    { N: d.dy.length, ACT: c.ACT },
  )).g;
  const input = await runKernel(backend, FAMILIES[family].input, {
    g: f32(g),
    w: f32(d.w),
    dx: f32(dxBefore),
  }, c);
  const weight = await runKernel(backend, FAMILIES[family].weight, {
    x: f32(d.x),
    g: f32(g),
    w_train: f32(d.w),
    b_train: f32(d.b),
    grad_w: f32(filled(d.w.length)),
    grad_b: f32(filled(d.b.length)),
    learning_rate: f32([learningRate]),
  }, c);
  return {
    dx: input.dx as Float32Array,
    gradW: weight.grad_w as Float32Array,
    gradB: weight.grad_b as Float32Array,
    wTrain: weight.w_train as Float32Array,
    bTrain: weight.b_train as Float32Array,
  };
}

Deno.test("dense twins match PyTorch: y, dx, dW, db, and the fused SGD step", async () => {
  const golden = loadGolden("dense");
  const { x, W, b, dy } = golden.inputs;
  const [B, IN] = x.shape, [OUT] = W.shape;
  const c = { B, IN, OUT, ACT: ACT.identity };
  const d = { x: x.data, w: W.data, b: b.data, dy: dy.data } as DenseInputs;
  const cpu = cpuBackend();
  const y = await forward(cpu, d, c);
  assertClose(y, golden.outputs.y.data, "y");

  const still = await backward(cpu, d, y, c, 0);
  assertClose(still.dx, golden.outputs.dx.data, "dx");
  assertClose(still.gradW, golden.outputs.dW.data, "dW");
  assertClose(still.gradB, golden.outputs.db.data, "db");
  assert.deepEqual(still.wTrain, d.w, "learning rate 0 keeps the weights");
  assert.deepEqual(still.bTrain, d.b, "learning rate 0 keeps the biases");

  const stepped = await backward(cpu, d, y, c, 0.5);
  const sgd = (value: Float32Array, grad: ArrayLike<number>) => value.map((v, i) => v - 0.5 * grad[i]);
  assertClose(stepped.wTrain, sgd(d.w, golden.outputs.dW.data), "W - 0.5 dW");
  assertClose(stepped.bTrain, sgd(d.b, golden.outputs.db.data), "b - 0.5 db");
});

/** Sizes that are not multiples of the workgroup (64) or of NB (4), and some that are. */
const SHAPES = [[1, 1], [5, 3], [37, 70], [130, 65], [64, 12]] as const;
const BATCHES = [1, 3, 4, 7, 64] as const;

Deno.test("dense kernels: GPU matches the twins for every batch size and activation", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void console.warn("skipped: no WebGPU adapter");
  const cpu = cpuBackend();
  const random = new Random(1);
  for (const act of Object.values(ACT)) {
    for (const [i, B] of BATCHES.entries()) {
      const [IN, OUT] = SHAPES[(i + act) % SHAPES.length];
      const c = { B, IN, OUT, ACT: act };
      await t.step(`B ${B}, IN ${IN}, OUT ${OUT}, ACT ${act}`, async () => {
        const d = randomInputs(random, c);
        const twinY = await forward(cpu, d, c);
        assertClose(await forward(gpu, d, c), twinY, "y");
        // Both backends take the twin's y, so a ReLU boundary is decided the same way on both.
        const twin = await backward(cpu, d, twinY, c, 0.25);
        const onGpu = await backward(gpu, d, twinY, c, 0.25);
        for (const key of Object.keys(twin) as (keyof typeof twin)[]) assertClose(onGpu[key], twin[key], key);
      });
    }
  }
});

/** Input widths that are multiples of 4 but not of the 16-wide tile, and some that are. */
const VEC4_SHAPES = [[4, 1], [36, 10], [68, 23], [784, 70], [400, 130], [16, 17]] as const;

Deno.test("dense_vec4 kernels: GPU matches the twins, and the twins match the scalar kernels", async (t) => {
  const gpu = await gpuBackend();
  const cpu = cpuBackend();
  const random = new Random(3);
  for (const act of Object.values(ACT)) {
    for (const [i, B] of BATCHES.entries()) {
      const [IN, OUT] = VEC4_SHAPES[(i + 2 * act) % VEC4_SHAPES.length];
      const c = { B, IN, OUT, ACT: act };
      await t.step(`B ${B}, IN ${IN}, OUT ${OUT}, ACT ${act}`, async () => {
        const d = randomInputs(random, c);
        const twinY = await forward(cpu, d, c, undefined, "vec4");
        assertClose(twinY, await forward(cpu, d, c), "y: vec4 twin vs scalar twin");
        const twin = await backward(cpu, d, twinY, c, 0.25, undefined, "vec4");
        const scalar = await backward(cpu, d, twinY, c, 0.25);
        for (const key of Object.keys(twin) as (keyof typeof twin)[]) {
          assertClose(twin[key], scalar[key], key);
        }
        if (!gpu) return;
        assertClose(await forward(gpu, d, c, undefined, "vec4"), twinY, "y");
        const onGpu = await backward(gpu, d, twinY, c, 0.25, undefined, "vec4");
        for (const key of Object.keys(twin) as (keyof typeof twin)[]) assertClose(onGpu[key], twin[key], key);
      });
    }
  }
  for (const [B, IN, OUT] of [[16, 36, 10], [21, 68, 23], [64, 784, 70], [33, 16, 17]]) {
    await t.step(`batch16: B ${B}, IN ${IN}, OUT ${OUT}`, async () => {
      const c = { B, IN, OUT, ACT: ACT.relu };
      const d = randomInputs(random, c);
      const twinY = await forward(cpu, d, c, undefined, "vec4_batch16");
      assertClose(twinY, await forward(cpu, d, c), "y: batch16 twin vs scalar twin");
      if (gpu) assertClose(await forward(gpu, d, c, undefined, "vec4_batch16"), twinY, "y");
    });
  }
  // A row slice that accumulates into dx, as a layer too large for one binding runs.
  const c = { B: 5, IN: 36, OUT: 23, OUT_TOTAL: 70, O0: 41, ACT: ACT.tanh, ACCUMULATE: 1 };
  const d = randomInputs(random, c);
  const yBefore = filled(c.B * c.OUT_TOTAL);
  const dxBefore = randomArray(random, c.B * c.IN);
  const twinY = await forward(cpu, d, c, yBefore, "vec4");
  const twin = await backward(cpu, d, twinY, c, 0.25, dxBefore, "vec4");
  if (gpu) {
    assertClose(await forward(gpu, d, c, yBefore, "vec4"), twinY, "sliced y");
    const onGpu = await backward(gpu, d, twinY, c, 0.25, dxBefore, "vec4");
    for (const key of Object.keys(twin) as (keyof typeof twin)[]) {
      assertClose(onGpu[key], twin[key], `sliced ${key}`);
    }
  }
});

Deno.test("dense kernels: GPU matches the twins on one row slice that accumulates into dx", async () => {
  const gpu = await gpuBackend();
  if (!gpu) return void console.warn("skipped: no WebGPU adapter");
  const cpu = cpuBackend();
  const random = new Random(2);
  for (const act of Object.values(ACT)) {
    const c = { B: 7, IN: 37, OUT: 23, OUT_TOTAL: 70, O0: 41, ACT: act, ACCUMULATE: 1 };
    const d = randomInputs(random, c);
    const yBefore = filled(c.B * c.OUT_TOTAL);
    const twinY = await forward(cpu, d, c, yBefore);
    assertClose(await forward(gpu, d, c, yBefore), twinY, `y, ACT ${act}`);
    for (let i = 0; i < twinY.length; i++) {
      const column = i % c.OUT_TOTAL;
      const inSlice = column >= c.O0 && column < c.O0 + c.OUT;
      assert.equal(twinY[i] === UNWRITTEN, !inSlice, `y[${i}]: written only inside the slice`);
    }
    const dxBefore = randomArray(random, c.B * c.IN);
    const twin = await backward(cpu, d, twinY, c, 0.25, dxBefore);
    const onGpu = await backward(gpu, d, twinY, c, 0.25, dxBefore);
    for (const key of Object.keys(twin) as (keyof typeof twin)[]) {
      assertClose(onGpu[key], twin[key], `${key}, ACT ${act}`);
    }
  }
});

/**
 * Records a whole layer's step as `Dense` does: forward, input gradient, weight gradient, each as
 * consecutive row slices of `rows` outputs bound as slices of shared tensors.
 */
function layerStep(backend: Backend, d: DenseInputs, c: Constants, rows: number) {
  const { B, IN, OUT: OUT_TOTAL } = c;
  const tensor = (name: string, data: ArrayLike<number>): Tensor =>
    backend.tensor(name, "f32", [data.length], data);
  const t = {
    x: tensor("x", d.x),
    w: tensor("w", d.w),
    b: tensor("b", d.b),
    y: tensor("y", filled(B * OUT_TOTAL)),
    dy: tensor("dy", d.dy),
    dx: tensor("dx", filled(B * IN)),
    gradW: tensor("grad_w", filled(d.w.length)),
    gradB: tensor("grad_b", filled(d.b.length)),
    learningRate: tensor("learning_rate", [0.25]),
  };
  const forwardSlices: Dispatch[] = [], inputSlices: Dispatch[] = [], weightSlices: Dispatch[] = [];
  if (c.ACT !== ACT.identity) {
    const N = B * OUT_TOTAL;
    inputSlices.push(
      backend.dispatch(kernels.activation_gradient, { g: t.dy, y_saved: t.y }, { N, ACT: c.ACT }),
    );
  }
  for (let O0 = 0; O0 < OUT_TOTAL; O0 += rows) {
    const OUT = Math.min(rows, OUT_TOTAL - O0);
    const slice = { ...c, B, IN, OUT, OUT_TOTAL, O0, ACCUMULATE: O0 > 0 ? 1 : 0 };
    const w = { tensor: t.w, offset: O0 * IN, length: OUT * IN };
    const b = { tensor: t.b, offset: O0, length: OUT };
    forwardSlices.push(backend.dispatch(kernels.dense_forward, { x: t.x, w, b, y: t.y }, slice));
    inputSlices.push(
      backend.dispatch(kernels.dense_backward_input, { g: t.dy, w, dx: t.dx }, slice),
    );
    weightSlices.push(backend.dispatch(kernels.dense_backward_weight, {
      x: t.x,
      g: t.dy,
      w_train: w,
      b_train: b,
      grad_w: { tensor: t.gradW, offset: O0 * IN, length: OUT * IN },
      grad_b: { tensor: t.gradB, offset: O0, length: OUT },
      learning_rate: t.learningRate,
    }, slice));
  }
  backend.run([...forwardSlices, ...inputSlices, ...weightSlices]);
  return t;
}

Deno.test("dense kernels: a layer run as row slices equals the layer run whole", async (t) => {
  // 64 rows of 37 floats end on a 256-byte boundary, the GPU's binding offset alignment.
  const c = { B: 5, IN: 37, OUT: 100 };
  const rows = 64;
  const backends: Backend[] = [cpuBackend()];
  const gpu = await gpuBackend();
  if (gpu) backends.push(gpu);
  else console.warn("GPU case skipped: no WebGPU adapter");
  const random = new Random(3);
  for (const backend of backends) {
    for (const act of Object.values(ACT)) {
      await t.step(`${backend.kind}, ACT ${act}`, async () => {
        const d = randomInputs(random, c);
        const whole = layerStep(backend, d, { ...c, ACT: act }, c.OUT);
        const sliced = layerStep(backend, d, { ...c, ACT: act }, rows);
        for (const key of Object.keys(whole) as (keyof typeof whole)[]) {
          assertClose(await backend.read(sliced[key]), await backend.read(whole[key]), key);
        }
        for (const tensor of [...Object.values(whole), ...Object.values(sliced)]) backend.release(tensor);
      });
    }
  }
});

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
    // Inputs whose pre-activations stay a margin away from ReLU's kink, so the differences see no kink.
    let d: DenseInputs;
    for (let seed = 10;; seed++) {
      d = randomInputs(new Random(seed), c);
      const s = await forward(cpu, d, { ...c, ACT: ACT.identity });
      if (s.every((value) => Math.abs(value) > 5 * STEP)) break;
    }
    const objective = (inputs: DenseInputs) => {
      const y = new Float32Array(c.B * c.OUT);
      dense_forward({ f32: { x: inputs.x, w: inputs.w, b: inputs.b, y }, u32: {} }, c);
      return y.reduce((sum, value, i) => sum + value * inputs.dy[i], 0);
    };
    const y = await forward(cpu, d, c);
    const gradients = await backward(cpu, d, y, c, 0);
    const analytic = { x: gradients.dx, w: gradients.gradW, b: gradients.gradB };
    for (const key of ["x", "w", "b"] as const) {
      const numeric = finiteDifferences(
        (changed) => objective({ ...d, [key]: changed }),
        d[key].slice(),
        STEP,
      );
      assertClose(analytic[key], numeric, `d/d${key}, ACT ${act}`, DIFFERENCE_TOLERANCE);
    }
  }
});
