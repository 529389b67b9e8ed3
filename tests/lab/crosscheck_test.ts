/** The engine against PyTorch over a training run: agreement, a wrong engine caught, the verdict's arithmetic. */
import assert from "node:assert/strict";
import {
  compareRuns,
  crosscheck,
  CROSSCHECK_BOUND,
  type CrosscheckOptions,
  crosscheckTable,
} from "../../lab/crosscheck.ts";
import { parseSchedule, PROTOCOL } from "../../lab/protocol.ts";
import { deviceDataSets, loadStudyData } from "../../lab/session.ts";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { CompiledModel } from "../../models/model.ts";
import { trainModel } from "../../models/trainer.ts";
import { mlp } from "../../models/zoo.ts";
import { adapterOffered, REPO_ROOT, taskArgs } from "../helpers.ts";
import { pytorchForTests } from "../pytorch_tests.ts";

const torch = await pytorchForTests();
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const backend = (await adapterOffered()) ? "webgpu" : "cpu";

/**
 * One epoch of LeNet-5 on the first 2,000 training images: small enough for CI. At the protocol's
 * first rate (0.0005) LeNet-5 barely leaves its initial loss in 500 steps; at 20 times it learns in
 * them, so that the comparison covers a run that moves (and a faster run amplifies any disagreement).
 */
const SMALL: CrosscheckOptions = {
  model: "lenet5",
  epochs: 1,
  batchSize: PROTOCOL.batchSize,
  seed: 0,
  schedule: parseSchedule("1:0.01"),
  trainLimit: 2000,
  testLimit: 1000,
  backend,
};

Deno.test({
  name: `lenet5 on ${backend}, one epoch on 2,000 images: the engine agrees with PyTorch`,
  ignore: !torch.ok,
  fn: async () => {
    const result = await crosscheck(SMALL);
    const table = crosscheckTable(result).join("\n");
    assert.ok(result.agrees, table);
    assert.equal(result.epochs.length, 1);
    assert.equal(result.trainCount, 2000);
    assert.equal(result.testCount, 1000);
    // It learned (below ln 10, the loss of a uniform guess), so the comparison says something.
    assert.ok(result.epochs[0].pytorch.trainLoss < Math.log(10) - 0.1, table);
    assert.ok(result.epochs[0].pytorch.testAccuracy > 0.3, table);
  },
});

Deno.test({
  name: `a deliberately wrong engine (learning rate 1% high) is caught`,
  ignore: !torch.ok,
  fn: async () => {
    const result = await crosscheck({ ...SMALL, engineRateFactor: 1.01 });
    const table = crosscheckTable(result).join("\n");
    assert.equal(result.agrees, false, table);
    assert.ok(result.largestLossDifference > CROSSCHECK_BOUND.loss, table);
    assert.match(table, /DISAGREE/);
  },
});

Deno.test("the verdict: within the bound agrees; past it in loss or in test images disagrees", () => {
  const info = { torch: "1.13", device: "cpu" as const, threads: 1 };
  const verdict = (ours: number[], theirs: number[]) =>
    compareRuns(
      "lenet5",
      "test",
      info,
      ours.map((_, i) => ({ trainLoss: ours[i], testAccuracy: 0.95 })),
      theirs.map((_, i) => ({ trainLoss: theirs[i], testAccuracy: 0.95 })),
      ours.map(() => 0.0005),
      60000,
      10000,
    );
  const { loss } = CROSSCHECK_BOUND;
  assert.equal(verdict([0.3, 0.1], [0.3, 0.1 + loss / 2]).agrees, true);
  const far = verdict([0.3, 0.1], [0.3, 0.1 + 2 * loss]);
  assert.equal(far.agrees, false);
  assert.ok(Math.abs(far.largestLossDifference - 2 * loss) < 1e-12);
  // Accuracies compare as counts of test images: one image apart agrees, two do not.
  const accuracy = (engine: number, pytorch: number) =>
    compareRuns(
      "lenet5",
      "test",
      info,
      [{ trainLoss: 0.3, testAccuracy: engine }],
      [{
        trainLoss: 0.3,
        testAccuracy: pytorch,
      }],
      [0.0005],
      60000,
      10000,
    );
  assert.equal(accuracy(0.9531, 0.9532).largestTestImageDifference, 1);
  assert.equal(accuracy(0.9531, 0.9532).agrees, CROSSCHECK_BOUND.testImages >= 1);
  assert.equal(accuracy(0.9496, 0.9531).largestTestImageDifference, 35);
  assert.equal(accuracy(0.9496, 0.9531).agrees, false);
});

Deno.test("the order the trainer reports is the one each epoch's gather read, a new one each epoch", async () => {
  const backend = new CpuBackend();
  const study = await loadStudyData(undefined, 42, 8, 4);
  const model = new CompiledModel(backend, mlp([8]), 4, 0);
  const sets = deviceDataSets(backend, study);
  const reported: Uint32Array[] = [];
  const read: Uint32Array[] = [];
  await trainModel(model, sets, {
    epochs: 3,
    schedule: [{ fromEpoch: 1, rate: 0.01 }],
    seed: 5,
    trainCount: 42,
  }, {
    onOrder: (epoch, order) => {
      assert.equal(epoch, reported.length + 1);
      reported.push(order.slice());
    },
    // After the epoch, the order tensor on the device still holds what the gather read.
    afterEpoch: async () => void read.push((await backend.read(sets.train.order)) as Uint32Array),
  });
  assert.equal(reported.length, 3);
  for (const [i, order] of reported.entries()) {
    assert.deepEqual([...read[i]], [...order], `epoch ${i + 1}`);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 42 }, (_, j) => j));
  }
  assert.notDeepEqual([...reported[0]], [...reported[1]]);
});

Deno.test("crosscheck refuses bad input in one line, before any training", async () => {
  for (
    const [args, message] of [
      [["lenet6"], /unknown model "lenet6"/],
      [["lenet5", "--torch-device", "tpu"], /--torch-device tpu: use cpu or cuda/],
      [["lenet5", "--epochs", "0"], /--epochs 0: must be an integer of at least 1/],
      [[], /name one model/],
    ] as const
  ) {
    // As a user runs it: `deno task crosscheck`, with the task's own permissions.
    const output = await new Deno.Command(Deno.execPath(), {
      cwd: REPO_ROOT,
      args: [...taskArgs("crosscheck"), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const [code, stdout, stderr] = [output.code, decode(output.stdout), decode(output.stderr)];
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, message);
  }
});
