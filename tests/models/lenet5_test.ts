import type { Backend } from "../../engine/backend.ts";
import { lenet5 } from "../../models/lenet5.ts";
import { CompiledModel } from "../../models/model.ts";
import { assertClose, cpuBackend, gpuBackend, loadGolden, startGoldenStep } from "../helpers.ts";

const BATCH = 4;
const LEARNING_RATE = 0.0005;

/** One plain SGD step of LeNet-5 from PyTorch's weights, compared with what PyTorch got. */
async function checkTrainingStep(backend: Backend): Promise<void> {
  const { inputs, outputs } = loadGolden("step_lenet5");
  const model = new CompiledModel(backend, lenet5(), BATCH, 0);
  startGoldenStep(model, inputs, LEARNING_RATE, padded(inputs.x.data, inputs.x.shape, model.spec.pad));
  backend.run([...model.forward, model.loss, ...model.backward]);

  assertClose(await backend.read(model.logits.value), outputs.logits.data, "logits");
  const [lossSum] = await backend.read(model.lossSum);
  assertClose([lossSum / BATCH], outputs.loss.data, "loss");
  for (const parameter of model.parameters) {
    assertClose(
      await backend.read(parameter.grad!),
      outputs[`grad.${parameter.name}`].data,
      `grad ${parameter.name}`,
    );
    assertClose(
      await backend.read(parameter.value),
      outputs[`after.${parameter.name}`].data,
      `${parameter.name} after`,
    );
  }
}

/** Images [N, C, H, W] with `pad` zeros on every side, as the gather kernel pads them. */
function padded(images: ArrayLike<number>, [N, C, H, W]: number[], pad: number): Float32Array {
  const width = W + 2 * pad, height = H + 2 * pad;
  const out = new Float32Array(N * C * height * width);
  for (let plane = 0; plane < N * C; plane++) {
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        out[(plane * height + r + pad) * width + c + pad] = images[(plane * H + r) * W + c];
      }
    }
  }
  return out;
}

Deno.test("lenet5: one training step on the CPU twins matches PyTorch", async () => {
  await checkTrainingStep(cpuBackend());
});

Deno.test("lenet5: one training step on WebGPU matches PyTorch", async () => {
  const gpu = await gpuBackend();
  if (!gpu) {
    console.warn("lenet5 WebGPU step skipped: no WebGPU adapter");
    return;
  }
  await checkTrainingStep(gpu);
});
