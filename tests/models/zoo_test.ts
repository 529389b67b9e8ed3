/** Model names: bad ones refused in one line listing the valid names. */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { modelByName } from "../../models/zoo.ts";

const OBJECT_KEYS = ["constructor", "toString", "hasOwnProperty", "__proto__"];

Deno.test("model names that are object keys are unknown models, listing the valid names", () => {
  for (const name of OBJECT_KEYS) {
    assert.throws(() => modelByName(name), (error: Error) => {
      assert.ok(error instanceof UserError, `${name}: ${error}`);
      assert.match(
        error.message,
        new RegExp(`unknown model "${name}": use lenet5, lenet5-avg, mlp-H or mlp-H1-H2`),
      );
      return true;
    });
  }
});
