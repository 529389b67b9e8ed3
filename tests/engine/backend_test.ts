/**
 * What a backend refuses at the door, in one line: a tensor it cannot hold (moved here from the old
 * tests/bad_input_test.ts, class 7) and a tensor of another backend; and the GPU's workgroup limit is
 * its adapter's.
 */
import assert from "node:assert/strict";
import { CPU_MAX_TENSOR_BYTES } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
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

const refused = (pattern: RegExp) => (error: unknown) =>
  error instanceof UserError && !error.message.includes("\n") && pattern.test(error.message);

Deno.test("a tensor of another backend is refused in one line, on the CPU and on the GPU", async () => {
  const cpu = cpuBackend(), otherCpu = cpuBackend();
  const theirs = otherCpu.tensor("theirs", "f32", [4]);
  assert.throws(
    () => cpu.write(theirs, [1, 2, 3, 4]),
    refused(/^theirs is not a tensor of this CPU backend/),
  );
  await assert.rejects(() => cpu.read(theirs), refused(/theirs/));
  const y = cpu.tensor("y", "f32", [4]);
  assert.throws(() => cpu.dispatch(kernels.relu_forward, { x: theirs, y }, { N: 4 }), refused(/theirs/));
  const gpu = await gpuBackend();
  if (!gpu) return;
  assert.throws(
    () => gpu.write(theirs, [1, 2, 3, 4]),
    refused(/^theirs is not a tensor of this WebGPU backend/),
  );
  await assert.rejects(() => gpu.read(theirs), refused(/theirs/));
  const gpuY = gpu.tensor("gpu_y", "f32", [4]);
  assert.throws(
    () => gpu.dispatch(kernels.relu_forward, { x: theirs, y: gpuY }, { N: 4 }),
    refused(/theirs/),
  );
  assert.throws(() => gpu.release(theirs), refused(/theirs/));
  gpu.release(gpuY);
});

Deno.test("the GPU's workgroups per dimension are its adapter's limit, and an element-wise grid past it folds", async () => {
  const gpu = await gpuBackend();
  if (!gpu) return;
  assert.equal(gpu.maxWorkgroups, gpu.device.limits.maxComputeWorkgroupsPerDimension);
  // One more workgroup of 64 than a dimension holds: relu_forward folds its grid into y.
  const N = (gpu.maxWorkgroups + 1) * 64;
  const x = gpu.tensor("x", "f32", [N]), y = gpu.tensor("y", "f32", [N]);
  const last = N - 1;
  gpu.write(x, [-3], 0);
  gpu.write(x, [5], last);
  gpu.run([gpu.dispatch(kernels.relu_forward, { x, y }, { N })]);
  const out = await gpu.read(y);
  assert.equal(out[0], 0);
  assert.equal(out[last], 5);
  gpu.release(x);
  gpu.release(y);
});
