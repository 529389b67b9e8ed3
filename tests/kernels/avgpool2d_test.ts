/**
 * AvgPool2d's kernels: the twins against PyTorch's avg_pool2d (golden, made by scripts/goldens.py)
 * and against a naive float64 reference, the GPU against the twins bit for bit, the backward twin
 * against finite differences of the forward twin. Outputs start as NaN, so an element never written fails.
 * And the model that uses it by name, lenet5-avg: one SGD step against PyTorch's, on both paths.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { kernels } from "../../engine/kernels.ts";
import { avgpool2d_backward } from "../../kernels/pool/avgpool2d.ts";
import { AvgPool2d } from "../../models/layers/pool.ts";
import { CompiledModel } from "../../models/model.ts";
import { modelByName } from "../../models/zoo.ts";
import { assertClose, cpuBackend, f32, gpuBackend, loadGolden, Random, randomArray } from "../helpers.ts";
import { checkGradients, runKernel } from "./check.ts";

type PoolShape = Record<"B" | "C" | "H" | "W", number>;

const sizes = ({ B, C, H, W }: PoolShape) => ({
  x: B * C * H * W,
  y: B * C * Math.floor(H / 2) * Math.floor(W / 2),
});

const unwritten = (length: number) => f32(new Float32Array(length).fill(NaN));

async function forward(backend: Backend, c: PoolShape, x: ArrayLike<number>) {
  return (await runKernel(backend, kernels.avgpool2d_forward, { x: f32(x), y: unwritten(sizes(c).y) }, c)).y;
}

async function backward(backend: Backend, c: PoolShape, dy: ArrayLike<number>) {
  const bindings = { dy: f32(dy), dx: unwritten(sizes(c).x) };
  return (await runKernel(backend, kernels.avgpool2d_backward, bindings, c)).dx;
}

/** The definition, in float64: each output the mean of its 2x2 window; each input a quarter of its window's gradient. */
function naive(c: PoolShape, x: ArrayLike<number>, dy: ArrayLike<number>) {
  const { B, C, H, W } = c, OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  const y = new Float64Array(B * C * OH * OW), dx = new Float64Array(B * C * H * W);
  for (let plane = 0; plane < B * C; plane++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const out = (plane * OH + oh) * OW + ow;
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const at = (plane * H + 2 * oh + i) * W + 2 * ow + j;
            y[out] += x[at] / 4;
            dx[at] = dy[out] / 4;
          }
        }
      }
    }
  }
  return { y, dx };
}

Deno.test("avgpool2d twins match PyTorch's avg_pool2d (golden) and a float64 reference", async () => {
  const { inputs, outputs } = loadGolden("avgpool2d");
  const [B, C, H, W] = inputs.x.shape;
  const c = { B, C, H, W };
  const cpu = cpuBackend();
  const y = await forward(cpu, c, inputs.x.data), dx = await backward(cpu, c, inputs.dy.data);
  assertClose(y, outputs.y.data, "y");
  assertClose(dx, outputs.dx.data, "dx");
  const reference = naive(c, inputs.x.data, inputs.dy.data);
  assertClose(y, reference.y, "y against float64");
  assertClose(dx, reference.dx, "dx against float64");
});

// Odd heights and widths (a row or column in no window) and planes that are not multiples of the
// workgroup size of 64.
const gpuShapes: PoolShape[] = [
  { B: 3, C: 5, H: 9, W: 7 },
  { B: 2, C: 4, H: 12, W: 16 },
  { B: 1, C: 2, H: 33, W: 31 },
];

Deno.test("avgpool2d kernels on the GPU match their twins exactly", async () => {
  const gpu = await gpuBackend();
  if (!gpu) {
    console.warn("avgpool2d GPU parity skipped: no WebGPU adapter");
    return;
  }
  const cpu = cpuBackend();
  const random = new Random(7);
  for (const shape of gpuShapes) {
    const n = sizes(shape);
    const x = randomArray(random, n.x), dy = randomArray(random, n.y);
    // The same three float32 additions in the same order and a division by 4: bit for bit.
    assert.deepEqual(await forward(gpu, shape, x), await forward(cpu, shape, x));
    assert.deepEqual(await backward(gpu, shape, dy), await backward(cpu, shape, dy));
  }
});

Deno.test("avgpool2d backward twin is the derivative of the forward twin (finite differences)", async () => {
  const shape = { B: 2, C: 2, H: 5, W: 7 };
  const n = sizes(shape);
  const random = new Random(3);
  const x = randomArray(random, n.x), dy = randomArray(random, n.y);
  const dx = new Float32Array(n.x);
  avgpool2d_backward({ f32: { dy, dx }, u32: {} }, shape);
  // Linear in x: the quotient is exact but for rounding x +- step and the sums to float32.
  await checkGradients({
    forward: kernels.avgpool2d_forward,
    constants: shape,
    inputs: { x },
    output: ["y", n.y],
    dy,
    analytic: { x: dx },
    step: 1e-2,
    tolerance: { relative: 1e-4, absoluteOfMax: 1e-4 },
    what: "avgpool2d",
  });
});

/** One plain SGD step of lenet5-avg, chosen by name, from PyTorch's weights, against PyTorch's own step. */
async function checkLenet5AvgStep(backend: Backend): Promise<void> {
  const { inputs, outputs } = loadGolden("step_lenet5-avg");
  const spec = modelByName("lenet5-avg");
  assert.deepEqual(spec.layers.filter((l) => l instanceof AvgPool2d).map((l) => l.describe()), [
    "pool1: avgpool 2x2",
    "pool2: avgpool 2x2",
  ]);
  const batch = inputs.x.shape[0];
  const model = new CompiledModel(backend, spec, batch, 0);
  model.loadParameters(
    new Map(model.parameters.map((p) => [p.name, inputs[`before.${p.name}`].data as Float32Array])),
  );
  // 28x28 images padded to 32x32, as the gather kernel pads them.
  const [N, , H, W] = inputs.x.shape, pad = spec.pad, side = H + 2 * pad;
  const x = new Float32Array(N * side * side);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        x[(n * side + r + pad) * side + c + pad] = inputs.x.data[(n * H + r) * W + c];
      }
    }
  }
  backend.write(model.input.value, x);
  backend.write(model.labels, Uint32Array.from(inputs.labels.data));
  model.resetTotals();
  model.setLearningRate(0.0005);
  backend.run([...model.forward, model.loss, ...model.backward]);
  assertClose(await backend.read(model.logits.value), outputs.logits.data, `${backend.kind} logits`);
  for (const parameter of model.parameters) {
    const name = `${backend.kind} ${parameter.name}`;
    assertClose(await backend.read(parameter.grad!), outputs[`grad.${parameter.name}`].data, `${name} grad`);
    assertClose(
      await backend.read(parameter.value),
      outputs[`after.${parameter.name}`].data,
      `${name} after`,
    );
  }
}

Deno.test("lenet5-avg by name: one training step on the CPU twins matches PyTorch's", async () => {
  await checkLenet5AvgStep(cpuBackend());
});

Deno.test("lenet5-avg by name: one training step on WebGPU matches PyTorch's", async () => {
  const gpu = await gpuBackend();
  if (gpu) await checkLenet5AvgStep(gpu);
});
