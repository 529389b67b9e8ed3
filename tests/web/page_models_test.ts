/**
 * The page's models (io/page_server.ts's manifest, web/models.ts's words): figures from the study's
 * results row, else the checkpoint's own metadata; a missing checkpoint or a training state named with
 * the command that trains it; a checkpoint that disagrees with its row refused in one line.
 */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { decodeSafetensors, encodeSafetensors } from "../../engine/safetensors.ts";
import { parseSchedule } from "../../lab/protocol.ts";
import { readResults } from "../../lab/results.ts";
import { OFFERED, pageModels, STUDY_SOURCES } from "../../io/page_server.ts";
import { continuedSchedule, formatSchedule, missingLine, provenanceLine } from "../../web/models.ts";

const STUDY = "docs/results/study20/limit";
const MLP = `${STUDY}/checkpoints/mlp-200-70-seed3.safetensors`;

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "page-models-" });
  for (const [name, from] of Object.entries(files)) await Deno.copyFile(from, `${dir}/${name}`);
  return dir;
}

Deno.test("the study's models: accuracy and provenance from their row in the study's results", async () => {
  const { manifest, files } = await pageModels(STUDY_SOURCES);
  const rows = await readResults(STUDY_SOURCES.results);
  assert.ok(manifest.models.length >= 1, "no study checkpoint to offer");
  for (const model of manifest.models) {
    const row = rows.find((r) => r.model === model.model && r.seed === model.seed && r.path === "webgpu");
    if (!row) continue; // a checkpoint without its row is described from its metadata (below)
    assert.equal(model.testAccuracy, row.test_accuracy);
    assert.equal(model.testImages, row.test_images);
    assert.equal(model.epochs, row.epochs);
    assert.equal(model.schedule, row.lr_schedule);
    assert.equal(
      model.source,
      `${STUDY}/seeds34.csv, the row of ${model.model} seed ${model.seed} on the webgpu path`,
    );
    assert.equal(model.bytes, (await Deno.stat(model.checkpoint)).size);
    assert.equal(files.get(`/${model.url}`)?.length, model.bytes);
    assert.match(
      provenanceLine(model),
      new RegExp(`test accuracy ${row.test_accuracy!.toFixed(4)} on 10,000`),
    );
  }
  // LeNet-5 is offered first: the page's default once its checkpoint is there.
  assert.deepEqual(OFFERED.map((o) => o.model), ["lenet5", "mlp-200-70"]);
  const names = [...manifest.models.map((m) => m.model), ...manifest.missing.map((m) => m.model)];
  assert.deepEqual(names.toSorted(), ["lenet5", "mlp-200-70"]);
});

Deno.test("a missing checkpoint, or a training state, is named with the command that trains it", async () => {
  const dir = await folder({ "mlp-200-70-seed3.safetensors": MLP });
  try {
    const { manifest } = await pageModels({ checkpoints: dir, results: STUDY_SOURCES.results });
    assert.deepEqual(manifest.models.map((m) => m.model), ["mlp-200-70"]);
    assert.deepEqual(manifest.missing.map((m) => m.model), ["lenet5"]);
    assert.equal(
      manifest.missing[0].command,
      `deno task train lenet5 --epochs 20 --seed 3 --save ${dir}/lenet5-seed3.safetensors`,
    );
    assert.match(
      missingLine(manifest.missing[0]),
      /^LeNet-5: .*lenet5-seed3.safetensors is missing; train it with/,
    );

    // The sweep's state of a model in training (epochsDone in its metadata) is not a finished model.
    const path = `${dir}/mlp-200-70-seed3.safetensors`;
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
    await Deno.writeFile(path, encodeSafetensors([...tensors.values()], { ...metadata, epochsDone: "5" }));
    const states = await pageModels({ checkpoints: dir, results: STUDY_SOURCES.results });
    assert.deepEqual(states.manifest.models, []);
    assert.match(
      missingLine(states.manifest.missing[1]),
      /^MLP 784-200-70-10: .*mlp-200-70-seed3.safetensors is a training state after epoch 5, not a finished model; train it with deno task train mlp-200-70 --epochs 20 --seed 3 --save /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without its row, a checkpoint is described by the metadata its training wrote", async () => {
  const dir = await folder({ "mlp-200-70-seed3.safetensors": MLP });
  try {
    const { manifest } = await pageModels({ checkpoints: dir, results: `${dir}/no-results.csv` });
    const [model] = manifest.models;
    assert.equal(model.testAccuracy, 0.9397); // the sweep wrote it into the file's metadata
    assert.equal(model.testImages, null);
    assert.equal(model.trainedOn, "the webgpu path"); // the sweep recorded it
    assert.match(
      model.source,
      /mlp-200-70-seed3.safetensors's own metadata \(no row of mlp-200-70 seed 3 in /,
    );
    assert.match(provenanceLine(model), /test accuracy 0\.9397 on the MNIST test set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint that is not its row's model is refused in one line", async () => {
  const dir = await folder({ "mlp-200-70-seed3.safetensors": MLP });
  try {
    const csv = await Deno.readTextFile(STUDY_SOURCES.results);
    await Deno.writeTextFile(`${dir}/results.csv`, csv.replaceAll(",mnist,0.9397,", ",mnist,0.8123,"));
    await assert.rejects(
      () => pageModels({ checkpoints: dir, results: `${dir}/results.csv` }),
      (error: Error) =>
        error instanceof UserError && !error.message.includes("\n") &&
        /test accuracy 0\.9397\) is not the model of its row in .*\(20 epochs, 0\.8123\)/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder of checkpoints that is not there is refused in one line", async () => {
  await assert.rejects(
    () => pageModels({ checkpoints: "/nonexistent/checkpoints", results: STUDY_SOURCES.results }),
    (error: Error) =>
      error instanceof UserError &&
      error.message === "/nonexistent/checkpoints: no such folder of checkpoints; name the sweep's " +
          "--save-dir (default: docs/results/study20/limit/checkpoints)",
  );
});

Deno.test("fine-tuning continues the lab's schedule where it ended", () => {
  const lab = parseSchedule("1:0.0005,3:0.0002,6:0.0001,9:0.00005,13:0.00001");
  assert.equal(formatSchedule(continuedSchedule(lab, 20, 1)), "1:0.00001");
  assert.equal(formatSchedule(continuedSchedule(lab, 4, 6)), "1:0.0002,2:0.0001,5:0.00005");
  assert.equal(formatSchedule(continuedSchedule(lab, 0, 3)), "1:0.0005,3:0.0002");
});
