/**
 * The results store: rows exactly once whoever writes them, even from processes racing on one file;
 * one protocol per store; merges that join seeds and refuse mixed protocols or conflicting rows.
 */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { isOurPath, readResults, RESULT_COLUMNS } from "../../lab/results.ts";
import { collectStores, mergeStores, ResultStore, storePath } from "../../lab/store.ts";
import { REPO_ROOT } from "../helpers.ts";
import { syntheticRow } from "./rows.ts";
import { assertRefused, runTask, tinyMnistDir } from "../refusals.ts";

const tiny = await tinyMnistDir();
const refusalTmp = await Deno.makeTempDir({ prefix: "store-refusals-" });

const PROTOCOL = { epochs: "20", "batch size": "4", seeds: "0" };

async function withTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "store_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the store writes each row once, keeps final rows, and its CSV shows every committed row", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    const store = ResultStore.open(csv);
    store.adoptProtocol(PROTOCOL);
    const transient = { ...syntheticRow("lenet5", [], "cpu"), status: "interrupted: device lost" };
    assert.equal(store.record(transient), true);
    const ok = syntheticRow("lenet5", [], "cpu");
    assert.equal(store.record(ok), true, "a transient row is replaced");
    assert.equal(store.record({ ...ok, test_accuracy: 0.5 }), false, "a final row is kept");
    const budget = { ...syntheticRow("mlp1", [100], "cpu"), status: "skipped: needs ~3 h on x (budget 1 h)" };
    store.record(budget);
    assert.equal(store.record(syntheticRow("mlp1", [100], "cpu")), true, "a budget skip is retried");
    store.record(syntheticRow("lenet5", [], "cpu", 1));
    store.close();
    const rows = await readResults(csv);
    assert.deepEqual(rows.map((r) => [r.model, r.seed, r.status]), [
      ["lenet5", 0, "ok"],
      ["mlp-100", 0, "ok"],
      ["lenet5", 1, "ok"],
    ]);
    assert.equal(rows[0].test_accuracy, ok.test_accuracy);
    assert.equal((await Deno.readTextFile(csv)).split("\n")[0], RESULT_COLUMNS.join(","));
    const litter = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(litter, [], "no temp file left");
  });
});

Deno.test("a store refuses another protocol in one line naming the difference", async () => {
  await withTempDir((dir) => {
    const store = ResultStore.open(`${dir}/sweep.csv`);
    store.adoptProtocol(PROTOCOL);
    store.adoptProtocol({ ...PROTOCOL });
    assert.throws(() => store.adoptProtocol({ ...PROTOCOL, "batch size": "8" }), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /holds a study with batch size 4, this run asks for 8/);
      return true;
    });
    assert.throws(
      () => store.adoptProtocol({ ...PROTOCOL, seeds: "0,1,2" }),
      /seeds 0, this run asks for 0,1,2/,
    );
    store.close();
  });
});

Deno.test("a CSV with rows but no store is refused rather than silently joined", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    const store = ResultStore.open(csv);
    store.adoptProtocol(PROTOCOL);
    store.record(syntheticRow("lenet5", [], "cpu"));
    store.close();
    await Deno.remove(storePath(csv));
    assert.throws(() => ResultStore.open(csv), /has rows but no results store/);
  });
});

Deno.test("a claim holds against other live processes and is taken over from a dead one", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    const store = ResultStore.open(csv);
    assert.equal(store.claim("lenet5", 0), undefined);
    assert.equal(store.claim("lenet5", 0), undefined, "a process's own claim is its own");
    // Another process claims mlp-30 and stays alive; then one claims mlp-60 and exits.
    const claimer = (model: string, stay: boolean) =>
      new Deno.Command(Deno.execPath(), {
        cwd: REPO_ROOT,
        args: ["eval", "--quiet", claimScript(csv, model, stay)],
        stdout: "piped",
      }).spawn();
    const alive = claimer("mlp-30", true);
    const reader = alive.stdout.getReader();
    await reader.read(); // it printed once its claim was in
    await claimer("mlp-60", false).status;
    assert.match(store.claim("mlp-30", 0) ?? "", /:\d+$/, "a live process's claim is respected");
    assert.equal(store.claim("mlp-60", 0), undefined, "a dead process's claim is taken over");
    alive.kill("SIGKILL");
    await alive.status;
    reader.releaseLock();
    await alive.stdout.cancel();
    store.close();
  });
});

function claimScript(csv: string, model: string, stay: boolean): string {
  return `import { ResultStore } from "${new URL("../../lab/store.ts", import.meta.url)}";
    const store = ResultStore.open(${JSON.stringify(csv)});
    if (store.claim(${JSON.stringify(model)}, 0)) Deno.exit(3);
    store.close();
    console.log("claimed");
    if (${stay}) await new Promise(() => setInterval(() => {}, 1000));`;
}

Deno.test("writers in four processes racing on one store land every row exactly once", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    const writers = [0, 1, 2, 3].map((writer) =>
      new Deno.Command(Deno.execPath(), {
        cwd: REPO_ROOT,
        args: ["eval", "--quiet", writerScript(csv, writer)],
      }).output()
    );
    for (const result of await Promise.all(writers)) {
      assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    }
    const rows = await readResults(csv);
    // Each writer writes seeds 0-9 of its own model, and seed 0 of a shared one (written once).
    const keys = rows.map((r) => `${r.model}|${r.seed}`);
    assert.equal(keys.length, new Set(keys).size, "a row was duplicated");
    assert.equal(rows.length, 4 * 10 + 1);
  });
});

function writerScript(csv: string, writer: number): string {
  const rows = new URL("./rows.ts", import.meta.url);
  return `import { ResultStore } from "${new URL("../../lab/store.ts", import.meta.url)}";
    import { syntheticRow } from "${rows}";
    const store = ResultStore.open(${JSON.stringify(csv)});
    store.adoptProtocol(${JSON.stringify(PROTOCOL)});
    for (let seed = 0; seed < 10; seed++) {
      store.record(syntheticRow("mlp1", [${10 + writer}], "cpu", seed));
      if (seed === 5) store.record(syntheticRow("lenet5", [], "cpu", 0));
    }
    store.close();`;
}

Deno.test("merging stores joins their seeds, refuses mixed protocols and conflicting rows", async () => {
  await withTempDir((dir) => {
    const make = (
      name: string,
      protocol: Record<string, string>,
      rows: ReturnType<typeof syntheticRow>[],
    ) => {
      const store = ResultStore.open(`${dir}/${name}.csv`);
      store.adoptProtocol(protocol);
      for (const row of rows) store.record(row);
      store.close();
      return `${dir}/${name}.csv`;
    };
    const a = make("a", PROTOCOL, [
      syntheticRow("lenet5", [], "cpu", 0),
      syntheticRow("mlp1", [30], "cpu", 0),
    ]);
    const b = make(
      "b",
      { ...PROTOCOL, seeds: "1,2" },
      [1, 2].map((s) => syntheticRow("lenet5", [], "cpu", s)),
    );
    const merged = mergeStores([a, b], `${dir}/merged.csv`);
    assert.deepEqual(merged.map((r) => `${r.model}|${r.seed}`), [
      "lenet5|0",
      "mlp-30|0",
      "lenet5|1",
      "lenet5|2",
    ]);
    const store = ResultStore.open(`${dir}/merged.csv`);
    assert.equal(store.protocol()!.seeds, "0,1,2");
    store.close();
    assert.throws(() => mergeStores([a, b], `${dir}/merged.csv`), /exists already/);

    const other = make("c", { ...PROTOCOL, epochs: "1" }, [syntheticRow("lenet5", [], "cpu", 3)]);
    assert.throws(() => mergeStores([a, other], `${dir}/m2.csv`), /differ in epochs \(20 and 1\)/);
    const clash = make("d", PROTOCOL, [{ ...syntheticRow("lenet5", [], "cpu", 0), test_accuracy: 0.1 }]);
    assert.throws(() => mergeStores([a, clash], `${dir}/m3.csv`), /lenet5, cpu, seed 0 differs between/);

    // --prefer-later: the later store's row wins, in the earlier one's place, and is counted.
    const later = collectStores([a, clash], { preferLater: true });
    assert.deepEqual(later.replaced, ["lenet5, cpu, seed 0"]);
    assert.deepEqual(later.rows.map((r) => [r.model, r.test_accuracy]), [
      ["lenet5", 0.1],
      ["mlp-30", syntheticRow("mlp1", [30], "cpu", 0).test_accuracy],
    ]);
    const earlier = collectStores([clash, a], { preferLater: true });
    assert.equal(
      earlier.rows.find((r) => r.model === "lenet5")!.test_accuracy,
      syntheticRow("lenet5", [], "cpu", 0).test_accuracy,
    );
  });
});

Deno.test("the committed stores, written before PyTorch rows existed, load and stay byte for byte", async () => {
  await withTempDir(async (dir) => {
    // Copies, so that the test can compare bytes without touching the repository's files.
    for (const name of ["pairs", "seeds"]) {
      for (const extension of ["csv", "sqlite"]) {
        await Deno.copyFile(
          new URL(`docs/results/study20/${name}.${extension}`, REPO_ROOT),
          `${dir}/${name}.${extension}`,
        );
      }
    }
    const bytes = async () => [
      await Deno.readFile(`${dir}/pairs.sqlite`),
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(),
    ];
    const before = await bytes();
    const study = collectStores([`${dir}/pairs.csv`, `${dir}/seeds.sqlite`]);
    assert.equal(study.protocol.seeds, "0,1,2");
    assert.ok(study.rows.length >= 30);
    for (const row of study.rows.filter((row) => isOurPath(row.path))) {
      assert.equal(row.note, "", "a column the older code never wrote is empty");
      assert.equal(row.threads, null);
    }
    assert.deepEqual(await bytes(), before, "reading a store changes none of its files");
    // Adding a PyTorch row keeps every older row as it was.
    const store = ResultStore.open(`${dir}/pairs.csv`);
    const old = store.rows();
    assert.ok(store.record({ ...old[0], path: "pytorch-cpu", threads: 1, note: "a peer" }));
    assert.deepEqual(store.rows().slice(0, old.length), old);
    store.close();
    assert.equal((await readResults(`${dir}/pairs.csv`)).at(-1)!.path, "pytorch-cpu");
  });
});

// Bad input (issue 14), beside the module it exercises.

Deno.test("a sweep into an output CSV that is not its store's is refused, and the file is kept", async () => {
  const csv = `${refusalTmp}/theirs.csv`;
  const theirs = "model,accuracy\nmine,0.99\n";
  await Deno.writeTextFile(csv, theirs);
  const result = await runTask("sweep", [
    ...["--models", "mlp-8", "--paths", "cpu", "--train-backend", "cpu", "--epochs", "1", "--data", tiny],
    ...["--out", csv, "--figures", `${refusalTmp}/figures-6`],
  ]);
  assertRefused(result, /theirs\.csv/);
  assert.equal(await Deno.readTextFile(csv), theirs);
});
