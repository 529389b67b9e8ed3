/** A missing study checkpoint trained by the compression study: interrupted after an epoch and rerun, it ends as an uninterrupted run. */
import assert from "node:assert/strict";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { decodeSafetensors } from "../../engine/safetensors.ts";
import { trainStudyCheckpoint } from "../../lab/compress/train.ts";
import { loadStudyData } from "../../lab/session.ts";

Deno.test("trainStudyCheckpoint resumes from its state: the same weights as a run never stopped", async () => {
  const data = await loadStudyData(undefined, 40, 20, 4);
  const dir = await Deno.makeTempDir();
  const whole = `${dir}/whole.safetensors`, resumed = `${dir}/resumed.safetensors`;
  await trainStudyCheckpoint(new CpuBackend(), "mlp-16", 1, data, whole, 3);
  const stop = new Error("interrupted");
  await assert.rejects(
    trainStudyCheckpoint(new CpuBackend(), "mlp-16", 1, data, resumed, 3, (epoch) => {
      if (epoch === 2) throw stop;
    }),
    (error) => error === stop,
  );
  await Deno.stat(`${resumed}.state.safetensors`);
  await assert.rejects(Deno.stat(resumed), Deno.errors.NotFound);
  const resumedEpochs: number[] = [];
  await trainStudyCheckpoint(
    new CpuBackend(),
    "mlp-16",
    1,
    data,
    resumed,
    3,
    (epoch) => resumedEpochs.push(epoch),
  );
  assert.deepEqual(resumedEpochs, [3], "only the third epoch ran again");
  await assert.rejects(Deno.stat(`${resumed}.state.safetensors`), Deno.errors.NotFound);
  const a = decodeSafetensors(await Deno.readFile(whole), "whole");
  const b = decodeSafetensors(await Deno.readFile(resumed), "resumed");
  for (const [name, tensor] of a.tensors) assert.deepEqual(b.tensors.get(name)!.data, tensor.data, name);
  assert.equal(a.metadata.testAccuracy, b.metadata.testAccuracy);
});
