/** Safetensors files on disk: what a save refuses before writing. */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { saveSafetensors } from "../../io/checkpoint_file.ts";

Deno.test("saveSafetensors refuses metadata that loadSafetensors would reject, writing nothing", async () => {
  const dir = await Deno.makeTempDir();
  for (const value of [3, null, undefined, true]) {
    const metadata = { model: "mlp-8", epochs: value } as unknown as Record<string, string>;
    await assert.rejects(
      saveSafetensors(`${dir}/m.safetensors`, [], metadata),
      (error: Error) =>
        error instanceof UserError && /metadata "epochs" is .*not a string/.test(error.message),
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});
