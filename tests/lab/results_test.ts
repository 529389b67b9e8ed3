/** The results CSV as the report reads it: values out of their ranges refused, naming file and line. */
import assert from "node:assert/strict";
import { assertRefused, runTask } from "../refusals.ts";

const tmp = await Deno.makeTempDir({ prefix: "results-test-" });

Deno.test("report refuses accuracies outside [0, 1] and negative times, naming file and line", async () => {
  const good = "mlp-8,mlp1,8,,6370,cpu,cpu,1,8,0.5,0.1,0.1,0.1,wall,1,1,1,1,1,ok";
  const header = "model,family,hidden1,hidden2,parameters,path,adapter,epochs,train_images,test_accuracy," +
    "infer_ms_median,infer_ms_p10,infer_ms_p90,clock,param_bytes,activation_bytes,peak_infer_bytes," +
    "peak_train_bytes,train_seconds,status";
  for (
    const [row, expected] of [
      [good.replace(",0.5,", ",1.5,"), /line 3 is malformed: test_accuracy 1\.5 is outside \[0, 1\]/],
      [good.replace(",0.1,0.1,0.1,", ",-2,0.1,0.1,"), /line 3 is malformed: infer_ms_median -2 is outside/],
    ] as const
  ) {
    const csv = `${tmp}/junk.csv`;
    await Deno.writeTextFile(csv, `${header}\n${good}\n${row}\n`);
    const result = await runTask("report", ["--csv", csv, "--out", `${tmp}/figures`]);
    assertRefused(result, new RegExp(`${csv.replaceAll(".", "\\.")} ${expected.source}`));
  }
  await assert.rejects(Deno.stat(`${tmp}/figures`), Deno.errors.NotFound);
});
