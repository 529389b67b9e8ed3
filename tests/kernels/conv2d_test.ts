import type { Backend, Constants } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import {
  conv2d_backward_input,
  conv2d_backward_weight,
  conv2d_forward,
  conv2d_preactivation_gradient,
  conv2d_weight_partials,
} from "../../kernels/conv2d/conv2d.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  assertClose,
  cpuBackend,
  f32,
  finiteDifferences,
  gpuBackend,
  type HostArray,
  loadGolden,
  Random,
  randomArray,
  runKernel,
} from "../helpers.ts";

type ConvShape = Record<"B" | "IC" | "OC" | "H" | "W" | "K", number>;
import type { Kernel } from "../../engine/kernels.ts";

const sizes = ({ B, IC, OC, H, W, K, PAD = 0, ROWS = 1 }: Constants) => ({
  x: B * IC * H * W,
  w: OC * IC * K * K,
  y: B * OC * (H - K + 1) * (W - K + 1),
  g: B * OC * (H - K + 1 + 2 * PAD) * (W - K + 1 + 2 * PAD),
  partial: Math.ceil(B * (H - K + 1) / ROWS) * (IC * K * K + 1) * OC,
});

/** Outputs start as NaN so that an element a kernel forgets to write fails the comparison. */
const unwritten = (length: number) => f32(new Float32Array(length).fill(NaN));

Deno.test("conv2d twins match PyTorch's nn.Conv2d (golden)", async () => {
  const { inputs, outputs } = loadGolden("conv2d");
  const [B, IC, H, W] = inputs.x.shape;
  const [OC, , K] = inputs.W.shape;
  const c = { B, IC, OC, H, W, K, ACT: ACT.identity, PAD: K - 1, ROWS: 1 };
  const cpu = cpuBackend();
  const [x, w, b, dy] = [inputs.x.data, inputs.W.data, inputs.b.data, inputs.dy.data];
  const { y } = await runForward(cpu, c, { x, w, b });
  assertClose(y, outputs.y.data, "y");
  const { dx } = await runBackwardInput(cpu, c, { dy, y, w });
  assertClose(dx, outputs.dx.data, "dx");
  const lr = 0.25;
  const trained = await runBackwardWeight(cpu, c, { x, dy, y, w, b }, lr);
  assertClose(trained.grad_w, outputs.dW.data, "dW");
  assertClose(trained.grad_b, outputs.db.data, "db");
  const stepped = (value: ArrayLike<number>, grad: ArrayLike<number>) =>
    Float32Array.from(value, (v, i) => v - lr * grad[i]);
  assertClose(trained.w_train, stepped(w, outputs.dW.data), "W after the SGD step");
  assertClose(trained.b_train, stepped(b, outputs.db.data), "b after the SGD step");
});

// Tiles of 4 channels x 4 positions that the shapes do not fill: 5 output and 3 input channels,
// rows of 5 outputs and 9 inputs; then a 3x3 kernel with rows of 11 and 13. ROWS splits the 21 and
// 24 output rows into chunks with a short last one; PAD 0 is the first layer's g, without border.
const gpuShapes: (ConvShape & { ROWS: number })[] = [
  { B: 3, IC: 3, OC: 5, H: 11, W: 9, K: 5, ROWS: 4 },
  { B: 2, IC: 2, OC: 4, H: 14, W: 13, K: 3, ROWS: 5 },
];

Deno.test("conv2d kernels on the GPU match their twins, every activation", async () => {
  const gpu = await gpuBackend();
  if (!gpu) {
    console.warn("conv2d GPU parity skipped: no WebGPU adapter");
    return;
  }
  const cpu = cpuBackend();
  const random = new Random(7);
  for (const shape of gpuShapes) {
    for (const act of Object.values(ACT)) {
      const c = { ...shape, ACT: act, PAD: shape.K - 1 };
      const what = `${JSON.stringify(shape)} ACT ${act}`;
      const n = sizes(shape);
      const x = randomArray(random, n.x);
      const w = randomArray(random, n.w, 0.5);
      const b = randomArray(random, shape.OC);
      const dy = randomArray(random, n.y);
      const expected = await runForward(cpu, c, { x, w, b });
      assertClose((await runForward(gpu, c, { x, w, b })).y, expected.y, `${what} y`);
      // The backward passes read the twin's y, so a ReLU slope is decided the same way on both.
      const y = expected.y;
      const backwardInput = (backend: Backend) => runBackwardInput(backend, c, { dy, y, w });
      const [dxGpu, dxCpu] = [await backwardInput(gpu), await backwardInput(cpu)];
      assertClose(dxGpu.g, dxCpu.g, `${what} g`);
      assertClose(dxGpu.dx, dxCpu.dx, `${what} dx`);
      for (const PAD of [0, shape.K - 1]) {
        const backwardWeight = (backend: Backend) =>
          runBackwardWeight(backend, { ...c, PAD }, { x, dy, y, w, b }, 0.1);
        const [onGpu, onCpu] = [await backwardWeight(gpu), await backwardWeight(cpu)];
        for (const name of ["partial", "grad_w", "grad_b", "w_train", "b_train"]) {
          assertClose(onGpu[name], onCpu[name], `${what} PAD ${PAD} ${name}`);
        }
      }
    }
  }
});

Deno.test("conv2d backward twins are the derivative of the forward twin (finite differences)", () => {
  const shape = { B: 2, IC: 2, OC: 3, H: 7, W: 6, K: 3 };
  const n = sizes(shape);
  const { x, w, b, dy } = awayFromReluKink(shape, new Random(11));
  for (const act of Object.values(ACT)) {
    const c = { ...shape, ACT: act, PAD: shape.K - 1, ROWS: 3 };
    const y = new Float32Array(n.y);
    // The scalar sum(y * dy), whose gradient with respect to x, w and b the backward kernels give.
    const objective = () => {
      conv2d_forward({ f32: { x, w, b, y }, u32: {} }, c);
      let sum = 0;
      for (let i = 0; i < y.length; i++) sum += y[i] * dy[i];
      return sum;
    };
    objective();
    const dx = new Float32Array(n.x);
    const g = new Float32Array(sizes(c).g);
    conv2d_preactivation_gradient({ f32: { dy, y, g }, u32: {} }, c);
    conv2d_backward_input({ f32: { g, w, dx }, u32: {} }, c);
    const grads = {
      w_train: w.slice(),
      b_train: b.slice(),
      grad_w: new Float32Array(n.w),
      grad_b: new Float32Array(shape.OC),
      learning_rate: Float32Array.of(0),
    };
    const partial = new Float32Array(sizes(c).partial);
    conv2d_weight_partials({ f32: { x, g, partial }, u32: {} }, c);
    conv2d_backward_weight({ f32: { partial, ...grads }, u32: {} }, c);
    // Worst cases for the difference quotient: y is stored in float32, so it carries up to ~30
    // affected outputs' rounding (6e-8 of |y dy| <= 1 each) divided by 2 * step = 0.02, 1e-4; the
    // truncation error, step^2 / 6 times tanh's third derivative, about 2e-5. Observed below 3e-5;
    // a wrong index or slope errs by order 1.
    const tolerance = { relative: 3e-4, absoluteOfMax: 3e-4 };
    assertClose(dx, finiteDifferences(objective, x), `ACT ${act} dx`, tolerance);
    assertClose(grads.grad_w, finiteDifferences(objective, w), `ACT ${act} dW`, tolerance);
    assertClose(grads.grad_b, finiteDifferences(objective, b), `ACT ${act} db`, tolerance);
  }
});

/**
 * Inputs (|x| < 1, |w| < 0.5, |b| < 1) whose every pre-activation is at least 0.02 from zero: a
 * finite-difference step of 1e-2 in one of them moves a pre-activation by at most 0.01, so it
 * never crosses ReLU's kink, where the difference quotient would not be the derivative.
 */
function awayFromReluKink(shape: ConvShape, random: Random) {
  const n = sizes(shape);
  const s = new Float32Array(n.y);
  for (;;) {
    const x = randomArray(random, n.x), w = randomArray(random, n.w, 0.5), b = randomArray(random, shape.OC);
    conv2d_forward({ f32: { x, w, b, y: s }, u32: {} }, { ...shape, ACT: ACT.identity });
    if (s.every((value) => Math.abs(value) >= 0.02)) return { x, w, b, dy: randomArray(random, n.y) };
  }
}

type Arrays<Names extends string> = Record<Names, ArrayLike<number>>;

function runForward(backend: Backend, c: Constants, { x, w, b }: Arrays<"x" | "w" | "b">) {
  const y = unwritten(sizes(c).y);
  return runKernel(backend, kernels.conv2d_forward, { x: f32(x), w: f32(w), b: f32(b), y }, c);
}

/** g, then the input gradient from it, as the layer dispatches them. */
function runBackwardInput(backend: Backend, c: Constants, { dy, y, w }: Arrays<"dy" | "y" | "w">) {
  return runKernels(backend, c, {
    dy: f32(dy),
    y: f32(y),
    w: f32(w),
    g: unwritten(sizes(c).g),
    dx: unwritten(sizes(c).x),
  }, [
    [kernels.conv2d_preactivation_gradient, ["dy", "y", "g"]],
    [kernels.conv2d_backward_input, ["g", "w", "dx"]],
  ]);
}

/** g, the chunks' partial sums, then their total and the SGD step, as the layer dispatches them. */
function runBackwardWeight(
  backend: Backend,
  c: Constants,
  { x, dy, y, w, b }: Arrays<"x" | "dy" | "y" | "w" | "b">,
  learningRate: number,
) {
  return runKernels(backend, c, {
    x: f32(x),
    dy: f32(dy),
    y: f32(y),
    g: unwritten(sizes(c).g),
    partial: unwritten(sizes(c).partial),
    w_train: f32(w),
    b_train: f32(b),
    grad_w: unwritten(w.length),
    grad_b: unwritten(b.length),
    learning_rate: f32([learningRate]),
  }, [
    [kernels.conv2d_preactivation_gradient, ["dy", "y", "g"]],
    [kernels.conv2d_weight_partials, ["x", "g", "partial"]],
    [kernels.conv2d_backward_weight, ["partial", "w_train", "b_train", "grad_w", "grad_b", "learning_rate"]],
  ]);
}

/** Runs kernels in one program on shared tensors holding `arrays`, then reads every tensor back. */
async function runKernels(
  backend: Backend,
  c: Constants,
  arrays: Record<string, HostArray>,
  chain: [Kernel, string[]][],
): Promise<Record<string, Float32Array | Uint32Array>> {
  const tensors = Object.fromEntries(
    Object.entries(arrays).map((
      [name, { dtype, data }],
    ) => [name, backend.tensor(name, dtype, [data.length], data)]),
  );
  backend.run(
    chain.map(([kernel, names]) =>
      backend.dispatch(kernel, Object.fromEntries(names.map((name) => [name, tensors[name]])), c)
    ),
  );
  const out: Record<string, Float32Array | Uint32Array> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    out[name] = await backend.read(tensor);
    backend.release(tensor);
  }
  return out;
}
