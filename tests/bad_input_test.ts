/**
 * Bad input and faults (issue 14) of the engine. The others sit beside the module they exercise
 * (tests/cli/flags_test.ts, tests/cli/train_test.ts, tests/lab/mnist_test.ts, tests/lab/store_test.ts,
 * tests/io/files_test.ts, ...), with their shared helpers in tests/refusals.ts.
 */
import assert from "node:assert/strict";
import { gpuBackend } from "./helpers.ts";

Deno.test("'or --backend cpu' is offered only where the CPU path takes the size", async (t) => {
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
