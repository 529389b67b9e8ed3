/** Each backend takes only its own tensors, and the GPU's workgroup limit is its adapter's. */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
import { cpuBackend, gpuBackend } from "../helpers.ts";

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
