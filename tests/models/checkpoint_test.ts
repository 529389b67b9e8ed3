/** Checkpoints: saved by train --save, read back by --weights, and by PyTorch where it is installed. */
import assert from "node:assert/strict";
import { loadSafetensors } from "../../io/checkpoint_file.ts";
import { loadMnist } from "../../lab/mnist.ts";
import { pytorchEvaluateCheckpoint } from "../../lab/peers/pytorch.ts";
import { runCli } from "../helpers.ts";
import { pytorchForTests } from "../pytorch_tests.ts";
import { assertRefused, mlp8Checkpoint, runTask, shortRun, tinyMnistDir } from "../refusals.ts";

const tiny = await tinyMnistDir();
const tmp = await Deno.makeTempDir({ prefix: "checkpoint-test-" });

const TRAIN = new URL("../../cli/train.ts", import.meta.url).pathname;
const SHORT = ["--epochs", "1", "--train-limit", "2000", "--test-limit", "1000", "--json"];

function lastJson(stdout: string) {
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

for (const model of ["mlp-300-100", "lenet5"]) {
  Deno.test(`${model}: a checkpoint has PyTorch's names and shapes and reproduces its accuracy`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/${model}.safetensors`;
    const trained = await runCli(TRAIN, [model, ...SHORT, "--save", path]);
    assert.equal(trained.code, 0, trained.stderr);
    const ours = lastJson(trained.stdout);
    const { tensors, metadata } = await loadSafetensors(path);
    const expected = model === "lenet5"
      ? {
        "conv1.weight": [6, 1, 5, 5],
        "conv2.weight": [16, 6, 5, 5],
        "fc1.weight": [120, 400],
        "fc3.bias": [10],
      }
      : { "fc1.weight": [300, 784], "fc2.weight": [100, 300], "fc3.weight": [10, 100], "fc3.bias": [10] };
    for (const [name, shape] of Object.entries(expected)) {
      assert.deepEqual(tensors.get(name)?.shape, shape, name);
    }
    assert.equal(tensors.size, model === "lenet5" ? 10 : 6);
    assert.equal(metadata.model, model);
    assert.equal(Number(metadata.testAccuracy), ours.testAccuracy);

    const reloaded = await runCli(TRAIN, [model, ...SHORT.slice(2), "--epochs", "0", "--weights", path]);
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.equal(lastJson(reloaded.stdout).testAccuracy, ours.testAccuracy);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("PyTorch loads a checkpoint with strict=True and gets our test accuracy", async (t) => {
  const torch = await pytorchForTests();
  if (!torch.ok) return void t.step({ name: `skipped: ${torch.why}`, ignore: true, fn: () => {} });
  const dir = await Deno.makeTempDir();
  for (const model of ["mlp-300-100", "lenet5"]) {
    const path = `${dir}/${model}.safetensors`;
    const trained = await runCli(TRAIN, [model, ...SHORT, "--save", path]);
    assert.equal(trained.code, 0, trained.stderr);
    const ours = lastJson(trained.stdout).testAccuracy;
    const theirs = await pytorchEvaluateCheckpoint(path, model, (await loadMnist()).source, 1000);
    assert.equal(theirs.testAccuracy, ours, `${model}: PyTorch ${theirs.testAccuracy}, ours ${ours}`);
  }
  await Deno.remove(dir, { recursive: true });
});

// Bad input (issue 14), beside the module it exercises.

for (const value of [NaN, Infinity, -Infinity]) {
  Deno.test(`a checkpoint holding ${value} is refused, naming the tensor`, async () => {
    const path = await mlp8Checkpoint(
      tmp,
      `bad-${value}.safetensors`,
      (data) => data.get("fc2.bias")![3] = value,
    );
    for (const cli of ["train", "eval"]) {
      const extra = cli === "train"
        ? [...shortRun(tiny), "--epochs", "0"]
        : ["--data", tiny, "--paths", "cpu"];
      assertRefused(
        await runTask(cli, ["mlp-8", "--weights", path, ...extra]),
        new RegExp(`tensor fc2\\.bias holds ${value} at index 3`),
      );
    }
  });
}

Deno.test("train --weights refuses a checkpoint whose metadata names another model, as eval does", async () => {
  // The tensors fit mlp-8; only the metadata says it is something else.
  const path = await mlp8Checkpoint(tmp, "other.safetensors", undefined, { model: "mlp-8-8" });
  for (const cli of ["train", "eval"]) {
    assertRefused(
      await runTask(cli, ["mlp-8", "--weights", path, "--data", tiny]),
      /is a checkpoint of mlp-8-8, not mlp-8: name the model it was saved for/,
    );
  }
});
