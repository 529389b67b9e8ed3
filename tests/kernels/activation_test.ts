/**
 * The stand-alone activation kernels: twins against PyTorch (ReLU's exact zeros, tanh up to |100|),
 * the GPU against the twins, including a grid long enough to fold into y.
 */
import { ACT } from "../../engine/constants.ts";
import { kernels } from "../../engine/kernels.ts";
import type { Backend } from "../../engine/backend.ts";
import {
  assertClose,
  cpuBackend,
  f32,
  gpuBackend,
  loadGolden,
  Random,
  randomArray,
  runKernel,
} from "../helpers.ts";

const ACTIVATIONS = {
  relu: { forward: kernels.relu_forward, backward: kernels.relu_backward },
  tanh: { forward: kernels.tanh_forward, backward: kernels.tanh_backward },
} as const;
type ActivationName = keyof typeof ACTIVATIONS;

/** Written to outputs beforehand: neither activation nor its gradient ever produces it here. */
const UNWRITTEN = -7;

/** Forward, then backward on the forward's output (as the layer passes it). */
async function forwardBackward(
  backend: Backend,
  name: ActivationName,
  x: Float32Array,
  dy: Float32Array,
  ySaved?: Float32Array,
) {
  const N = x.length;
  const unwritten = new Float32Array(N).fill(UNWRITTEN);
  const { y } = await runKernel(backend, ACTIVATIONS[name].forward, { x: f32(x), y: f32(unwritten) }, { N });
  const { dx } = await runKernel(backend, ACTIVATIONS[name].backward, {
    y_saved: f32(ySaved ?? y),
    dy: f32(dy),
    dx: f32(unwritten),
  }, { N });
  return { y: y as Float32Array, dx: dx as Float32Array };
}

for (const name of ["relu", "tanh"] as const) {
  Deno.test(`${name} twins match PyTorch`, async () => {
    const golden = loadGolden(name);
    const { x, dy } = golden.inputs;
    const { y, dx } = await forwardBackward(
      cpuBackend(),
      name,
      x.data as Float32Array,
      dy.data as Float32Array,
    );
    assertClose(y, golden.outputs.y.data, `${name} y`);
    assertClose(dx, golden.outputs.dx.data, `${name} dx`);
  });
}

/** Random values with exact zeros and tanh's saturated range (the GPU clamps to +-20) mixed in. */
function testInputs(random: Random, N: number): Float32Array {
  const x = randomArray(random, N, 4);
  const special = [0, -0, 100, -100, 20, -20, 30, -88.8];
  for (let i = 0; i < N; i += 5) x[i] = special[(i / 5) % special.length];
  return x;
}

Deno.test("activation kernels: GPU matches the twins, N not a multiple of 64", async (t) => {
  const gpu = await gpuBackend();
  if (!gpu) return void console.warn("skipped: no WebGPU adapter");
  const cpu = cpuBackend();
  const random = new Random(4);
  for (const name of ["relu", "tanh"] as const) {
    for (const N of [1, 63, 65, 1027]) {
      await t.step(`${name}, N ${N}`, async () => {
        const x = testInputs(random, N), dy = randomArray(random, N);
        const twin = await forwardBackward(cpu, name, x, dy);
        const onGpu = await forwardBackward(gpu, name, x, dy, twin.y);
        assertClose(onGpu.y, twin.y, `${name} y`);
        assertClose(onGpu.dx, twin.dx, `${name} dx`);
      });
    }
  }
});

Deno.test("activation kernels: a grid over 65535 workgroups folds into y and covers every element", async () => {
  const gpu = await gpuBackend();
  if (!gpu) return void console.warn("skipped: no WebGPU adapter");
  const cpu = cpuBackend();
  // 4.3M elements need 67,188 workgroups of 64: two rows of the folded grid, the second partly idle.
  const N = 4_300_000;
  // A cheap hash instead of Random: millions of BigInt steps would take seconds.
  const x = new Float32Array(N), dy = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    x[i] = ((Math.imul(i, 2654435761) >>> 0) % 20001 - 10000) / 2000;
    dy[i] = ((Math.imul(i, 40503) >>> 0) % 2001 - 1000) / 1000;
  }
  for (const name of ["relu", "tanh"] as const) {
    const twin = await forwardBackward(cpu, name, x, dy);
    const onGpu = await forwardBackward(gpu, name, x, dy, twin.y);
    assertClose(onGpu.y, twin.y, `${name} y`);
    assertClose(onGpu.dx, twin.dx, `${name} dx`);
  }
});

Deno.test("activation_gradient turns dy into dy * act'(y) in place, GPU against twin", async () => {
  const random = new Random(11);
  const N = 1027;
  const y = randomArray(random, N);
  const dy = randomArray(random, N);
  const gpu = await gpuBackend();
  for (const act of [ACT.relu, ACT.tanh]) {
    const expected = dy.map((d, i) => d * (act === ACT.relu ? (y[i] > 0 ? 1 : 0) : 1 - y[i] * y[i]));
    for (const backend of gpu ? [cpuBackend(), gpu] : [cpuBackend()]) {
      const out = await runKernel(backend, kernels.activation_gradient, { g: f32(dy), y_saved: f32(y) }, {
        N,
        ACT: act,
      });
      assertClose(out.g, expected, `${backend.kind} g, ACT ${act}`);
    }
  }
});
