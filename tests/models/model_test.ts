/** A compiled model's parameters: what loadParameters refuses. */
import assert from "node:assert/strict";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { CompiledModel } from "../../models/model.ts";
import { modelByName } from "../../models/zoo.ts";

Deno.test("loadParameters refuses an array of the wrong length, naming it and both lengths", () => {
  const model = new CompiledModel(new CpuBackend(), modelByName("mlp-8"), 4, 0);
  const values = new Map(model.parameters.map((p) => [p.name, new Float32Array(p.value.length)]));
  values.set("fc1.weight", new Float32Array(100));
  assert.throws(() => model.loadParameters(values), (error: Error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.equal(error.message, "mlp-8: fc1.weight takes 6272 values (8x784), given 100");
    return true;
  });
});
