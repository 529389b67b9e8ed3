/**
 * The fake-quantization kernels: forward, straight-through backward and observers against PyTorch's
 * goldens (torch.fake_quantize_per_tensor_affine / _per_channel_affine, its observers and FakeQuantize),
 * exactly, on the twins and on the GPU; each kernel's twin against a naive loop and the GPU against the
 * twin bit for bit at odd shapes (checkKernel).
 */
import type { Backend, Constants } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  cpuBackend,
  f32,
  type Golden,
  gpuBackend,
  loadGolden,
  Random,
  randomArray,
  u32,
} from "../helpers.ts";
import { assertIdentical, type CaseBuilder, checkKernel, poison, runProgram, type Step } from "./check.ts";

const EXACT = { relative: 0, absoluteOfMax: 0 };
/** An observer that has seen nothing: min > max, PyTorch's initial scale 1 and zero point 0. */
const UNOBSERVED = [1, -1, 1, 0];

/** The CPU backend, and the GPU's where there is an adapter. */
async function backends(): Promise<Backend[]> {
  const gpu = await gpuBackend();
  return gpu ? [cpuBackend(), gpu] : [cpuBackend()];
}

/** Observer state for given scales and zero points (min and max unused by the forward). */
function observerWith(scales: ArrayLike<number>, zeroPoints: ArrayLike<number>): Float32Array {
  const state = new Float32Array(4 * scales.length);
  for (let c = 0; c < scales.length; c++) state.set([1, -1, scales[c], zeroPoints[c]], 4 * c);
  return state;
}

/** The golden's dx is dy where not clipped: the mask it implies. */
function maskOf(golden: Golden): Uint32Array {
  const { dy } = golden.inputs, { dx } = golden.outputs;
  return Uint32Array.from(dx.data, (v, i) => v === dy.data[i] && dy.data[i] !== 0 ? 1 : 0);
}

async function checkAgainstGolden(name: string, constants: (golden: Golden) => Constants): Promise<void> {
  const golden = loadGolden(name);
  const { x, dy, scale, zero_point: zeroPoint, qrange } = golden.inputs;
  const c = { N: x.data.length, QMIN: qrange.data[0], QMAX: qrange.data[1], ...constants(golden) };
  const steps: Step[] = [
    [kernels.fake_quant_forward, { x: "x", observer: "observer", y: "y", mask: "mask" }, c],
    [kernels.fake_quant_backward, { dy: "dy", mask: "mask", dx: "dx" }, c],
  ];
  for (const backend of await backends()) {
    const out = await runProgram(backend, {
      x: f32(x.data),
      observer: f32(observerWith(scale.data, zeroPoint.data)),
      y: f32(poison(c.N)),
      mask: u32(new Uint32Array(c.N).fill(7)),
      dy: f32(dy.data),
      dx: f32(poison(c.N)),
    }, steps);
    assertIdentical(out.y, golden.outputs.y.data, `${name} y on ${backend.kind}`);
    assertIdentical(out.dx, golden.outputs.dx.data, `${name} dx on ${backend.kind}`);
    assertIdentical(out.mask, maskOf(golden), `${name} mask on ${backend.kind}`);
  }
}

Deno.test("fake_quant_forward and _backward equal torch.fake_quantize_per_tensor_affine exactly", async () => {
  await checkAgainstGolden("fake_quant_per_tensor", () => ({}));
});

Deno.test("fake_quant_forward and _backward equal torch.fake_quantize_per_channel_affine (axis 1) exactly", async () => {
  await checkAgainstGolden("fake_quant_per_channel", (golden) => {
    const [, channels, h, w] = golden.inputs.x.shape;
    return { CHANNELS: channels, INNER: h * w };
  });
});

/** Each observer of the golden, as the kernel's constants. */
const OBSERVERS: Record<string, (shape: number[]) => Constants> = {
  moving_affine_uint8: () => ({ QMIN: 0, QMAX: 255, SYMMETRIC: 0, OBSERVER: 0 }),
  moving_channel_symmetric_int8: (shape) => ({
    QMIN: -128,
    QMAX: 127,
    SYMMETRIC: 1,
    OBSERVER: 0,
    CHANNELS: shape[0],
    INNER: shape.slice(1).reduce((a, b) => a * b, 1),
  }),
  minmax_symmetric_int8: () => ({ QMIN: -128, QMAX: 127, SYMMETRIC: 1, OBSERVER: 1 }),
};

Deno.test("fake_quant_observe follows PyTorch's observers batch after batch, exactly", async () => {
  const golden = loadGolden("fake_quant_observers");
  const outputs = golden.outputs;
  for (const [name, constants] of Object.entries(OBSERVERS)) {
    for (const backend of await backends()) {
      const x0 = golden.inputs.x0;
      const c: Constants = { N: x0.data.length, ...constants(x0.shape) };
      const channels = c.CHANNELS ?? 1;
      const initial = new Float32Array(channels * 4);
      for (let ch = 0; ch < channels; ch++) initial.set(UNOBSERVED, 4 * ch);
      let state: ArrayLike<number> = initial;
      for (let k = 0; k < 3; k++) {
        const out = await runProgram(backend, {
          x: f32(golden.inputs[`x${k}`].data),
          observer: f32(state),
          observing: f32([1]),
        }, [[kernels.fake_quant_observe, { x: "x", observer: "observer", observing: "observing" }, c]]);
        state = out.observer;
        const want = new Float32Array(channels * 4);
        for (let ch = 0; ch < channels; ch++) {
          want.set([
            outputs[`${name}.${k}.min`].data[ch],
            outputs[`${name}.${k}.max`].data[ch],
            outputs[`${name}.${k}.scale`].data[ch],
            outputs[`${name}.${k}.zero_point`].data[ch],
          ], 4 * ch);
        }
        assertIdentical(state, want, `${name} after batch ${k} on ${backend.kind}`);
      }
    }
  }
});

Deno.test("observe, forward and backward in a row equal PyTorch's FakeQuantize in training; a paused observer keeps its scale", async () => {
  const golden = loadGolden("fake_quant_observers");
  for (const backend of await backends()) {
    let state: ArrayLike<number> = UNOBSERVED;
    const N = golden.inputs.x0.data.length;
    const c = { N, QMIN: 0, QMAX: 255 };
    const steps: Step[] = [
      [kernels.fake_quant_observe, { x: "x", observer: "observer", observing: "observing" }, c],
      [kernels.fake_quant_forward, { x: "x", observer: "observer", y: "y", mask: "mask" }, c],
      [kernels.fake_quant_backward, { dy: "dy", mask: "mask", dx: "dx" }, c],
    ];
    for (let k = 0; k < 3; k++) {
      const out = await runProgram(backend, {
        x: f32(golden.inputs[`x${k}`].data),
        observer: f32(state),
        observing: f32([1]),
        y: f32(poison(N)),
        mask: u32(new Uint32Array(N)),
        dy: f32(new Float32Array(N).fill(1)),
        dx: f32(poison(N)),
      }, steps);
      assertIdentical(
        out.y,
        golden.outputs[`fake_quantize.${k}.y`].data,
        `y of batch ${k} on ${backend.kind}`,
      );
      assertIdentical(
        out.dx,
        golden.outputs[`fake_quantize.${k}.dx`].data,
        `dx of batch ${k} on ${backend.kind}`,
      );
      state = out.observer;
    }
    const paused = await runProgram(backend, {
      x: f32(randomArray(new Random(5), N, 50)),
      observer: f32(state),
      observing: f32([0]),
    }, [steps[0]]);
    assertIdentical(paused.observer, state, `a paused observer on ${backend.kind}`);
  }
});

// ---------- each kernel at odd shapes: twin against a naive loop, GPU against twin bit for bit ----------

/** Naive per-channel extremes of x viewed as [outer, CHANNELS, INNER]. */
function channelRange(x: ArrayLike<number>, channels: number, inner: number, ch: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (Math.floor(i / inner) % channels !== ch) continue;
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  return [lo, hi];
}

/** Nearest integer, ties to the even one, written apart from engine/quantization.ts's. */
const halfEven = (v: number) => Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v);

/** A first observation (min-max of the batch) in an affine format: the scale and zero point in float64, rounded once. */
const observeCase: CaseBuilder = (c: Constants, random: Random) => {
  const x = randomArray(random, c.N, 3);
  for (let i = 0; i < c.N; i += 3) x[i] += 1;
  const expected: number[] = [];
  for (let ch = 0; ch < c.CHANNELS; ch++) {
    const [lo, hi] = channelRange(x, c.CHANNELS, c.INNER, ch);
    const neg = Math.min(lo, 0), pos = Math.max(hi, 0);
    // PyTorch computes in float32 tensors: the width, then the scale, each rounded to float32.
    const scale = Math.fround(Math.fround(pos - neg) / (c.QMAX - c.QMIN));
    const zeroPoint = Math.min(c.QMAX, Math.max(c.QMIN, c.QMIN - halfEven(Math.fround(neg / scale))));
    expected.push(lo, hi, scale, zeroPoint);
  }
  const state = new Float32Array(4 * c.CHANNELS);
  for (let ch = 0; ch < c.CHANNELS; ch++) state.set(UNOBSERVED, 4 * ch);
  return {
    bindings: { x: f32(x), observer: f32(state), observing: f32([1]) },
    expected: { observer: expected },
  };
};

/** Forward and mask from a naive loop: the value's step, clipped, back to a value. */
const forwardCase: CaseBuilder = (c: Constants, random: Random) => {
  const x = randomArray(random, c.N, 2);
  const scales = Array.from({ length: c.CHANNELS }, (_, ch) => Math.fround(0.01 + 0.003 * ch));
  const zeroPoints = Array.from({ length: c.CHANNELS }, (_, ch) => (ch % 3) - 1);
  const y = new Float64Array(c.N), mask = new Uint32Array(c.N);
  for (let i = 0; i < c.N; i++) {
    const ch = Math.floor(i / c.INNER) % c.CHANNELS;
    const step = Math.fround(x[i] * Math.fround(1 / scales[ch]));
    const q = halfEven(step) + zeroPoints[ch];
    mask[i] = q >= c.QMIN && q <= c.QMAX ? 1 : 0;
    // An integer times a float32, rounded once to float32: the product the kernel makes.
    y[i] = Math.fround((Math.min(c.QMAX, Math.max(c.QMIN, q)) - zeroPoints[ch]) * scales[ch]);
  }
  return {
    bindings: {
      x: f32(x),
      observer: f32(observerWith(scales, zeroPoints)),
      y: f32(poison(c.N)),
      mask: u32(new Uint32Array(c.N).fill(9)),
    },
    expected: { y, mask },
  };
};

const sgdCase: CaseBuilder = (c: Constants, random: Random) => {
  const w = randomArray(random, c.N), grad = randomArray(random, c.N);
  const mask = Uint32Array.from({ length: c.N }, (_, i) => (i * 7) % 5 === 0 ? 0 : 1);
  const lr = 0.05;
  return {
    bindings: { w_train: f32(w), grad_w: f32(grad), mask: u32(mask), learning_rate: f32([lr]) },
    expected: { w_train: Float64Array.from(w, (v, i) => mask[i] ? v - Math.fround(lr) * grad[i] : v) },
  };
};

const backwardCase: CaseBuilder = (c: Constants, random: Random) => {
  const dy = randomArray(random, c.N);
  const mask = Uint32Array.from({ length: c.N }, (_, i) => (i * 5) % 3 === 0 ? 0 : 1);
  return {
    bindings: { dy: f32(dy), mask: u32(mask), dx: f32(poison(c.N)) },
    expected: { dx: Float64Array.from(dy, (v, i) => mask[i] ? v : 0) },
  };
};

const copyCase: CaseBuilder = (c: Constants, random: Random) => {
  const x = randomArray(random, c.N);
  return { bindings: { x: f32(x), y: f32(poison(c.N)) }, expected: { y: x } };
};

const SHAPES = [
  { N: 1, CHANNELS: 1, INNER: 1 },
  { N: 1000, CHANNELS: 1, INNER: 1 },
  { N: 7 * 13, CHANNELS: 7, INNER: 13 },
  { N: 3 * 5 * 9, CHANNELS: 5, INNER: 9 },
];

for (const shape of SHAPES) {
  Deno.test(`fake-quant kernels at ${JSON.stringify(shape)}`, async () => {
    const exact = { exact: true, tolerance: EXACT };
    await checkKernel(kernels.fake_quant_observe, { ...shape, QMIN: 0, QMAX: 255 }, observeCase, exact);
    await checkKernel(kernels.fake_quant_forward, { ...shape, QMIN: -8, QMAX: 7 }, forwardCase, exact);
    await checkKernel(kernels.fake_quant_backward, { ...shape, QMIN: 0, QMAX: 1 }, backwardCase, exact);
    await checkKernel(kernels.fake_quant_sgd, { ...shape, QMIN: 0, QMAX: 1 }, sgdCase, { exact: true });
    await checkKernel(kernels.fake_quant_copy, { N: shape.N }, copyCase, exact);
  });
}
