/**
 * The sweep's PyTorch rows (lab/sweep/peers.ts): the parsing and bookkeeping on their own, then, where
 * torch is installed, a tiny sweep with --peers pytorch, and --peers-only adding PyTorch rows to a store
 * written without them, leaving its rows as they were and measuring nothing twice.
 */
import assert from "node:assert/strict";
import { readResults, type ResultRow } from "../../lab/results.ts";
import {
  blasName,
  parsePeers,
  peerModel,
  pendingPeerPaths,
  profilerOpBytes,
  storeWork,
  threadsTried,
} from "../../lab/sweep/peers.ts";
import { pytorchForTests } from "../pytorch_tests.ts";
import { assertRefused, runTask } from "../refusals.ts";
import { syntheticRow } from "./rows.ts";

Deno.test("--peers: pytorch or none, none by default; anything else refused", () => {
  assert.deepEqual(parsePeers(undefined), []);
  assert.deepEqual(parsePeers("none"), []);
  assert.deepEqual(parsePeers("pytorch"), ["pytorch"]);
  assert.deepEqual(parsePeers("pytorch,pytorch"), ["pytorch"]);
  assert.throws(() => parsePeers("tensorflow"), /"tensorflow" is not a peer/);
});

Deno.test("PyTorch's threads tried: one and all the cores", () => {
  assert.deepEqual(threadsTried(1), [1]);
  assert.deepEqual(threadsTried(2), [1, 2]);
  assert.deepEqual(threadsTried(16), [1, 16]);
});

Deno.test("the networks PyTorch's peer builds: LeNet-5 and the MLPs by their hidden sizes", () => {
  assert.equal(peerModel("lenet5"), "lenet5");
  assert.deepEqual(peerModel("mlp-300-100"), [300, 100]);
  assert.equal(peerModel("lenet5-avg"), undefined);
  assert.equal(blasName("/a/libblas.so.3, /b/libopenblasp-r0.3.21.so"), "libopenblasp-r0.3.21.so");
  assert.equal(blasName(undefined), "unknown");
});

Deno.test("op_bytes from the profiler: a run the hooks confirm, else the median, said in the note", () => {
  const confirmed = profilerOpBytes([286304, 250016, 364256, 250016], 250016);
  assert.equal(confirmed.bytes, 250016);
  assert.match(confirmed.note, /2 of 4 runs equal/);
  const raced = profilerOpBytes([300, 100, 200], 150);
  assert.equal(raced.bytes, 200);
  assert.match(raced.note, /median .* none equal to its forward hooks' count 150/);
});

Deno.test("a peer path is pending until its row is final", () => {
  const row = (status: string, seed = 0): ResultRow => ({
    ...syntheticRow("mlp1", [30], "pytorch-cpu", seed),
    status,
  });
  const paths = ["pytorch-cpu", "pytorch-cuda"] as const;
  assert.deepEqual(pendingPeerPaths([], paths, "mlp-30", 0), [...paths]);
  assert.deepEqual(pendingPeerPaths([row("ok")], paths, "mlp-30", 0), ["pytorch-cuda"]);
  assert.deepEqual(pendingPeerPaths([row("ok", 1)], paths, "mlp-30", 0), [...paths], "another seed's row");
  assert.deepEqual(pendingPeerPaths([row("interrupted: killed")], paths, "mlp-30", 0), [...paths]);
  assert.deepEqual(pendingPeerPaths([row("failed: PyTorch: x")], paths, "mlp-30", 0), ["pytorch-cuda"]);
});

Deno.test("--peers-only refuses a store that does not exist, and wants --peers pytorch", async () => {
  const dir = await Deno.makeTempDir();
  assertRefused(
    await runTask("sweep", ["--peers", "pytorch", "--peers-only", "--out", `${dir}/none.csv`]),
    /adds rows to an existing store/,
  );
  assertRefused(await runTask("sweep", ["--peers-only", "--out", `${dir}/none.csv`]), /add --peers pytorch/);
  assertRefused(await runTask("sweep", ["--peers", "jax", "--out", `${dir}/x.csv`]), /"jax" is not a peer/);
});

const tiny = (models: string) =>
  ["--models", models, "--epochs", "1", "--train-limit", "40", "--test-limit", "20"]
    .concat(["--warmup", "1", "--timed-batches", "3", "--paths", "cpu", "--train-backend", "cpu"]);
const TINY = tiny("mlp-16,mlp-8-8");

Deno.test("--peers pytorch: a PyTorch row per model beside ours; --peers-only adds them to an older store", async (t) => {
  const { python, why } = await pytorchForTests();
  if (!python) return void await t.step({ name: `skipped: ${why}`, ignore: true, fn: () => {} });
  const dir = await Deno.makeTempDir();
  const out = `${dir}/sweep.csv`, checkpoints = `${dir}/checkpoints`;
  const swept = await runTask("sweep", [
    ...TINY,
    "--out",
    out,
    "--figures",
    `${dir}/figures`,
    "--save-dir",
    checkpoints,
    "--peers",
    "pytorch",
  ]);
  assert.equal(swept.code, 0, swept.stderr);
  const rows = await readResults(out);
  for (const model of ["mlp-16", "mlp-8-8"]) {
    const ours = rows.find((row) => row.model === model && row.path === "cpu")!;
    const torch = rows.find((row) => row.model === model && row.path === "pytorch-cpu");
    assert.ok(torch, `${model}: a pytorch-cpu row`);
    assert.equal(torch.status, "ok", torch.status);
    assert.equal(torch.parameters, ours.parameters, "PyTorch counts the same parameters");
    assert.equal(torch.op_bytes, ours.op_bytes, "PyTorch's profiler counts what we count");
    // The same weights (our checkpoint) on the same 20 test images: the same answer, to one image.
    assert.ok(Math.abs(torch.test_accuracy! - ours.test_accuracy!) <= 1 / 20 + 1e-9, `${model} accuracy`);
    assert.match(torch.note, /our checkpoint .* evaluated in PyTorch/);
    assert.ok(
      threadsTried(navigator.hardwareConcurrency).includes(torch.threads!),
      `threads ${torch.threads}`,
    );
    assert.match(torch.adapter, new RegExp(`PyTorch .* CPU, .*${torch.threads} threads?$`));
    assert.ok(torch.infer_ms_p10! <= torch.infer_ms_median! && torch.infer_ms_median! <= torch.infer_ms_p90!);
    assert.deepEqual([torch.epochs, torch.train_images, torch.seed], [1, 40, 0], "keyed like ours");
  }

  // A store written without PyTorch rows (as the committed ones were): --peers-only adds them, trains
  // nothing, leaves our rows as they were; without checkpoints the accuracy is empty and the note says why.
  const older = `${dir}/older.csv`;
  const plain = await runTask("sweep", [
    ...tiny("mlp-16"),
    "--out",
    older,
    "--figures",
    `${dir}/figures-older`,
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  const before = await Deno.readTextFile(older);
  const added = await runTask("sweep", [
    "--peers",
    "pytorch",
    "--peers-only",
    "--out",
    older,
    "--timed-batches",
    "3",
  ]);
  assert.equal(added.code, 0, added.stderr);
  assert.doesNotMatch(added.stdout, /epoch \d/, "nothing trained");
  const after = await readResults(older);
  assert.deepEqual(after.map((row) => row.path), ["cpu", "pytorch-cpu"]);
  const beforeLines = before.trim().split("\n");
  const afterLines = (await Deno.readTextFile(older)).trim().split("\n");
  assert.deepEqual(afterLines.slice(0, beforeLines.length), beforeLines, "our rows as they were, first");
  for (const row of after.filter((row) => row.path === "pytorch-cpu")) {
    assert.equal(row.test_accuracy, null);
    assert.match(row.note, /test accuracy not measured: no checkpoint directory/);
  }
  const again = await runTask("sweep", ["--peers", "pytorch", "--peers-only", "--out", older]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already has its PyTorch rows/);
  assert.deepEqual(await readResults(older), after, "a rerun measures nothing twice");
});

Deno.test("PyTorch measures a model and seed once our rows of it are final, budget skips included", () => {
  const ours = (status: string, path: "cpu" | "webgpu", model = "mlp-30", seed = 0): ResultRow => ({
    ...syntheticRow("mlp1", [30], path, seed),
    model,
    status,
  });
  const rows = [
    ours("ok", "cpu"),
    ours("ok", "webgpu"),
    ours("ok", "cpu", "mlp-30", 1),
    ours("interrupted: time limit", "webgpu", "mlp-30", 1), // still in training
    ours("skipped: needs ~12 h on llvmpipe (budget 0.75 h)", "cpu", "mlp-16384"),
    { ...ours("ok", "cpu", "mlp-60"), path: "pytorch-cpu" as const }, // a peer's row alone says nothing
  ];
  assert.deepEqual(storeWork(rows), [{ model: "mlp-30", seed: 0 }, { model: "mlp-16384", seed: 0 }]);
});
