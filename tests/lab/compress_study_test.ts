/**
 * The compression study's plan, its store (a rerun skips rows done), its figures' specs, and each
 * conclusion on synthetic rows, once each way: the verdict follows the data.
 */
import assert from "node:assert/strict";
import { compressConclusions } from "../../lab/compress/conclusions.ts";
import { compressFigures } from "../../lab/compress/figures.ts";
import { compressMarkdownTable } from "../../lab/compress/report.ts";
import { type CompressRow, CompressStore, floatStudyRows, studyPlan } from "../../lab/compress/study.ts";

function row(model: string, key: string, fields: Partial<CompressRow> = {}): CompressRow {
  return {
    model,
    key,
    path: "cpu",
    method: key === "float" ? "float" : key.startsWith("prune") ? "pruned" : "static",
    format: key === "float" ? "f32" : "int8",
    bits: key === "float" ? 32 : 8,
    per_channel: false,
    sparsity: 0,
    prune_method: "",
    retrain_epochs: 0,
    qat_epochs: 0,
    description: key,
    test_accuracy: 0.95,
    test_images: 10000,
    train_images: 60000,
    accuracy_before: null,
    parameter_bytes: 1000,
    op_bytes: 100,
    file_bytes: 1100,
    ms_per_batch: 10,
    clock: "test clock",
    adapter: "test adapter",
    ...fields,
  };
}

Deno.test("the plan: every post-training method, pruning with and without retraining, QAT only when retraining", () => {
  const full = studyPlan({ retrainEpochs: 1 }).map((e) => e.key);
  for (
    const key of [
      "int8-static",
      "int8-dynamic",
      "int4-weight-only-per-channel",
      "f16-weight-only",
      "q6.10-weight-only",
    ]
  ) {
    assert.ok(full.includes(key), key);
  }
  assert.ok(full.includes("prune-random-0.95-retrain1"));
  assert.ok(full.includes("qat1-int8-static"));
  assert.equal(new Set(full).size, full.length, "keys are unique");
  const noRetraining = studyPlan({ retrainEpochs: 0 }).map((e) => e.key);
  assert.ok(!noRetraining.some((key) => /retrain[1-9]|qat/.test(key)));
  assert.ok(studyPlan({ quick: true, retrainEpochs: 0 }).length < noRetraining.length / 2);
});

Deno.test("the store: rows kept across opens, a row replaced not doubled, the CSV rewritten", async () => {
  const dir = await Deno.makeTempDir();
  const csv = `${dir}/c.csv`;
  let store = new CompressStore(csv);
  store.put([row("lenet5", "float"), row("lenet5", "int8-static")]);
  store.close();
  store = new CompressStore(csv);
  assert.ok(store.has("lenet5", "int8-static", "cpu"));
  assert.ok(!store.has("lenet5", "int8-static", "webgpu"));
  store.put([row("lenet5", "int8-static", { test_accuracy: 0.5 })]);
  assert.equal(store.rows().length, 2);
  store.close();
  const lines = (await Deno.readTextFile(csv)).trim().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^model,key,path,method/);
  assert.match(lines[2], /,0\.5,/);
  assert.match(lines[1], /^lenet5,float,cpu,float,f32,32,false,/);
});

Deno.test("int8 costs LeNet-5 little: supported at 0.2 points, contradicted at 0.5", () => {
  const verdict = (int8: number) =>
    compressConclusions([
      row("lenet5", "float", { test_accuracy: 0.95 }),
      row("lenet5", "int8-static", { test_accuracy: int8 }),
    ])[0]
      .verdict;
  assert.equal(verdict(0.948), "supported");
  assert.equal(verdict(0.945), "contradicted");
  assert.equal(compressConclusions([])[0].verdict, "not decided by this data");
});

Deno.test("pruned models are not faster: supported at 95% of the float time, contradicted at 50%", () => {
  const verdict = (ms: number) =>
    compressConclusions([
      row("mlp-400", "float", { ms_per_batch: 10 }),
      row("mlp-400", "prune-magnitude-0.9-retrain0", { ms_per_batch: 9.5 }),
      row("mlp-400", "prune-random-0.5-retrain0", { ms_per_batch: ms }),
    ])[1].verdict;
  assert.equal(verdict(11), "supported");
  assert.equal(verdict(5), "contradicted");
});

Deno.test("magnitude beats random at 90%: contradicted when one model's random pruning does as well", () => {
  const rows = (randomOnLenet: number) => [
    row("lenet5", "prune-magnitude-0.9-retrain0", { test_accuracy: 0.9 }),
    row("lenet5", "prune-random-0.9-retrain0", { test_accuracy: randomOnLenet }),
    row("mlp-400", "prune-magnitude-0.9-retrain0", { test_accuracy: 0.9 }),
    row("mlp-400", "prune-random-0.9-retrain0", { test_accuracy: 0.2 }),
  ];
  assert.equal(compressConclusions(rows(0.3))[2].verdict, "supported");
  assert.equal(compressConclusions(rows(0.9))[2].verdict, "contradicted");
});

Deno.test("the figures: one point per model and key, float study rows beside, sparsity lines from the float model", () => {
  const rows = [
    row("lenet5", "float"),
    row("lenet5", "int8-static"),
    row("lenet5", "int8-static", { path: "webgpu" }),
    row("lenet5", "prune-magnitude-0.5-retrain0", { sparsity: 0.5, prune_method: "magnitude" }),
  ];
  const floatStudy = floatStudyRows(
    "model,path,test_accuracy,param_bytes,status\nmlp-300,cpu,0.97,950000,ok\nmlp-90,cpu,,1,failed\n",
  );
  assert.deepEqual(floatStudy, [{ model: "mlp-300", path: "cpu", test_accuracy: 0.97, param_bytes: 950000 }]);
  const [bits, sparsity, bytes] = compressFigures(rows, floatStudy);
  const values = (figure: typeof bits) => (figure.spec.data as { values: Record<string, unknown>[] }).values;
  assert.equal(values(bits).length, 2); // float and int8 static, one path
  assert.deepEqual(values(sparsity).map((p) => p.sparsity).sort(), [0, 0.5]);
  assert.equal(values(bytes).length, 3); // int8, pruned, mlp-300
  assert.match(compressMarkdownTable(rows), /\| lenet5 \| int8-static \| webgpu \| 0\.9500 \|/);
});
