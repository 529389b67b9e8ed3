/**
 * Tensors a backend cannot hold are refused at the door, in one line that says how to go on (moved here
 * from the old tests/bad_input_test.ts, class 7, beside the engine it exercises).
 */
import assert from "node:assert/strict";
import { CPU_MAX_TENSOR_BYTES } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { cpuBackend, gpuBackend } from "../helpers.ts";

Deno.test("the GPU backend offers 'or --backend cpu' only where the CPU path takes the size", async (t) => {
  if (!await gpuBackend()) {
    return void await t.step({ name: "no WebGPU adapter", ignore: true, fn: () => {} });
  }
  const gpu = (await gpuBackend())!;
  const mib = 2 ** 20;
  const over = (bytes: number) => {
    try {
      gpu.tensor("big", "f32", [bytes / 4]);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
  // Over the adapter's limit and over the CPU path's 2 GiB: no CPU hint.
  const both = over(Math.max(gpu.maxTensorBytes, 2 ** 31) + mib);
  assert.match(both ?? "", /choose a smaller model$/);
  if (gpu.maxTensorBytes + mib <= 2 ** 31) {
    assert.match(over(gpu.maxTensorBytes + mib) ?? "", /choose a smaller model or --backend cpu$/);
  }
});

Deno.test("the CPU backend refuses a tensor over 2 GiB in one line, before allocating it", () => {
  const cpu = cpuBackend();
  assert.throws(() => cpu.tensor("fc1.weight", "f32", [CPU_MAX_TENSOR_BYTES / 4 + 1]), (error: Error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.match(
      error.message,
      /^fc1\.weight needs 2048 MiB, over the CPU path's limit of 2048 MiB .*: choose a smaller model$/,
    );
    assert.ok(!error.message.includes("\n"));
    return true;
  });
  assert.equal(cpu.ledger.peak("cpu"), 0, "nothing was allocated");
});
