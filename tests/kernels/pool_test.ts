import assert from "node:assert/strict";
import type { Backend, Constants } from "../../engine/backend.ts";
import { maxpool2d_backward, maxpool2d_forward } from "../../kernels/pool/maxpool2d.ts";
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

type PoolShape = Record<"B" | "C" | "H" | "W", number>;

const sizes = ({ B, C, H, W }: Constants) => ({
  x: B * C * H * W,
  y: B * C * Math.floor(H / 2) * Math.floor(W / 2),
});

/** Outputs start as NaN so that an element a kernel forgets to write fails the comparison. */
const unwritten = (length: number) => f32(new Float32Array(length).fill(NaN));

function runForward(backend: Backend, c: Constants, x: ArrayLike<number>) {
  return runKernel(backend, kernels.maxpool2d_forward, { x: f32(x), y: unwritten(sizes(c).y) }, c);
}

function runBackward(backend: Backend, c: Constants, x: ArrayLike<number>, dy: ArrayLike<number>) {
  return runKernel(
    backend,
    kernels.maxpool2d_backward,
    { x: f32(x), dy: f32(dy), dx: unwritten(sizes(c).x) },
    c,
  );
}

Deno.test("maxpool2d twins match PyTorch's max_pool2d, ties included (golden)", async () => {
  const { inputs, outputs } = loadGolden("maxpool2d");
  const [B, C, H, W] = inputs.x.shape;
  const c = { B, C, H, W };
  const cpu = cpuBackend();
  assertClose((await runForward(cpu, c, inputs.x.data)).y, outputs.y.data, "y");
  assertClose((await runBackward(cpu, c, inputs.x.data, inputs.dy.data)).dx, outputs.dx.data, "dx");
});

// Odd heights and widths (a row or column in no window), plane sizes that are not multiples of the
// workgroup size of 64, and values drawn from five levels so that most windows hold ties.
const gpuShapes: PoolShape[] = [
  { B: 3, C: 5, H: 9, W: 7 },
  { B: 2, C: 4, H: 12, W: 16 },
  { B: 1, C: 2, H: 33, W: 31 },
];

Deno.test("maxpool2d kernels on the GPU match their twins exactly", async () => {
  const gpu = await gpuBackend();
  if (!gpu) {
    console.warn("maxpool2d GPU parity skipped: no WebGPU adapter");
    return;
  }
  const cpu = cpuBackend();
  const random = new Random(5);
  for (const shape of gpuShapes) {
    const n = sizes(shape);
    const x = Float32Array.from(randomArray(random, n.x, 2), Math.round);
    const dy = randomArray(random, n.y);
    // Choosing a maximum only compares and copies, so both sides must agree bit for bit.
    assert.deepEqual((await runForward(gpu, shape, x)).y, (await runForward(cpu, shape, x)).y);
    assert.deepEqual((await runBackward(gpu, shape, x, dy)).dx, (await runBackward(cpu, shape, x, dy)).dx);
  }
});

Deno.test("maxpool2d backward twin is the derivative of the forward twin (finite differences)", () => {
  const shape = { B: 2, C: 2, H: 5, W: 7 };
  const n = sizes(shape);
  const random = new Random(3);
  // Distinct values 0.05 apart: a step of 1e-2 never changes which element of a window is largest,
  // where max is not differentiable.
  const x = Float32Array.from(random.permutation(n.x), (rank) => (rank - n.x / 2) * 0.05);
  const dy = randomArray(random, n.y);
  const y = new Float32Array(n.y);
  const objective = () => {
    maxpool2d_forward({ f32: { x, y }, u32: {} }, shape);
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i] * dy[i];
    return sum;
  };
  const dx = new Float32Array(n.x);
  maxpool2d_backward({ f32: { x, dy, dx }, u32: {} }, shape);
  // The pooled sum is linear in x near these inputs, so the quotient is exact but for rounding
  // x +- step to float32: 6e-8 * |x| <= 2e-7 over 2 * step, about 1e-5.
  assertClose(dx, finiteDifferences(objective, x), "dx", { relative: 1e-4, absoluteOfMax: 1e-4 });
});
