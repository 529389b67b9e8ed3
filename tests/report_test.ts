import assert from "node:assert/strict";
import { UserError } from "../engine/errors.ts";
import { writeFigures } from "../experiments/report.ts";
import {
  appendResult,
  doneKeys,
  type Family,
  readResults,
  RESULT_COLUMNS,
  type ResultRow,
} from "../experiments/results.ts";

const BATCH = 4;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A plausible row for one model on one path; numbers follow the layer sizes so the charts have shape. */
function syntheticRow(family: Family, hidden: number[], path: "cpu" | "webgpu"): ResultRow {
  const widths = family === "lenet5" ? [] : [784, ...hidden, 10];
  const parameters = family === "lenet5"
    ? 61706
    : widths.slice(1).reduce((sum, width, i) => sum + (widths[i] + 1) * width, 0);
  const activations = family === "lenet5"
    ? 6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 400 + 120 + 84 + 10
    : 794 +
      hidden.reduce((sum, width) => sum + width, 0);
  const capacity = 1 - Math.exp(-hidden.reduce((sum, width) => sum + width, 0) / 300);
  const accuracy = family === "lenet5" ? 0.957 : 0.9 + 0.035 * capacity + (family === "mlp2" ? 0.004 : 0);
  const inferMs = path === "cpu"
    ? (family === "lenet5" ? 3 : 0.02 + parameters * 4e-6)
    : 0.4 + parameters * 3e-7;
  return {
    model: family === "lenet5" ? "lenet5" : `mlp-${hidden.join("-")}`,
    family,
    hidden1: hidden[0] ?? null,
    hidden2: hidden[1] ?? null,
    parameters,
    path,
    adapter: path === "cpu" ? "TypeScript CPU" : "llvmpipe (LLVM 15.0.7, 256 bits), software adapter",
    epochs: 20,
    train_images: 60000,
    test_accuracy: accuracy,
    infer_ms_median: inferMs,
    infer_ms_p10: inferMs * 0.9,
    infer_ms_p90: inferMs * 1.25,
    clock: path === "cpu" ? "wall" : "timestamp-query",
    param_bytes: 4 * parameters,
    activation_bytes: 4 * BATCH * activations,
    peak_infer_bytes: 4 * parameters + 4 * BATCH * (activations + 784),
    peak_train_bytes: 3 * 4 * parameters + 2 * 4 * BATCH * (activations + 784),
    train_seconds: parameters / 1000,
    status: "ok",
  };
}

/** LeNet-5 and 30 MLPs (10 with one hidden layer, 20 with two), on both paths. */
function syntheticSweep(): ResultRow[] {
  const shapes: [Family, number[]][] = [["lenet5", []]];
  for (const hidden of [10, 20, 50, 100, 200, 300, 500, 800, 1000, 1500]) shapes.push(["mlp1", [hidden]]);
  for (const first of [50, 100, 300, 500, 1000]) {
    for (const second of [10, 50, 100, 300]) shapes.push(["mlp2", [first, second]]);
  }
  return shapes.flatMap((
    [family, hidden],
  ) => [syntheticRow(family, hidden, "cpu"), syntheticRow(family, hidden, "webgpu")]);
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "report_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("appendResult and readResults round-trip rows, keeping every earlier row", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    assert.deepEqual(await readResults(csv), []);
    const first = syntheticRow("lenet5", [], "cpu");
    const second = {
      ...syntheticRow("mlp2", [300, 100], "webgpu"),
      status: 'skipped: weight 512 MiB over the adapter\'s 128 MiB binding limit, "quoted"',
      test_accuracy: null,
      infer_ms_median: Number.NaN,
    };
    await appendResult(csv, first);
    assert.deepEqual(await readResults(csv), [first]);
    await appendResult(csv, second);
    assert.deepEqual(await readResults(csv), [first, { ...second, infer_ms_median: null }]);
    const lines = (await Deno.readTextFile(csv)).trimEnd().split("\n");
    assert.equal(lines[0], RESULT_COLUMNS.join(","));
    assert.equal(lines.length, 3);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name),
      ["sweep.csv"],
      "no temp file left",
    );
  });
});

Deno.test("doneKeys lists finished and finally failed runs, not transient failures", () => {
  const rows = [
    syntheticRow("lenet5", [], "cpu"),
    { ...syntheticRow("lenet5", [], "webgpu"), status: "interrupted: device lost" },
    { ...syntheticRow("mlp1", [100], "cpu"), status: "failed: loss became NaN at epoch 3" },
    { ...syntheticRow("mlp1", [100], "webgpu"), status: "skipped: weight 512 MiB over the binding limit" },
  ];
  assert.deepEqual([...doneKeys(rows)].sort(), ["lenet5|cpu", "mlp-100|cpu", "mlp-100|webgpu"]);
});

Deno.test("a malformed results file is reported with its line and left untouched", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    await appendResult(csv, syntheticRow("lenet5", [], "cpu"));
    const broken = (await Deno.readTextFile(csv)) + "mlp-10,mlp1,10,,7960,cpu\n";
    await Deno.writeTextFile(csv, broken);
    await assert.rejects(() => readResults(csv), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, new RegExp(`${csv} line 3 `));
      return true;
    });
    await assert.rejects(() => appendResult(csv, syntheticRow("mlp1", [10], "cpu")), UserError);
    assert.equal(await Deno.readTextFile(csv), broken);
  });
});

Deno.test("writeFigures writes figures 3 to 9 as SVG and PNG, leaving out rows that are not ok", async () => {
  await withTempDir(async (dir) => {
    const failed = {
      ...syntheticRow("mlp1", [4096], "webgpu"),
      status: "failed: loss became NaN at epoch 3",
    };
    const written = await writeFigures([...syntheticSweep(), failed], `${dir}/figures`);
    assert.equal(written.length, 15);
    assert.equal(new Set(written).size, 15);
    const table = await Deno.readTextFile(`${dir}/figures/results.md`);
    assert.match(table, /^\| model \| parameters \|/);
    assert.match(table, /\| mlp-300-100 \| 266,610 \|/);
    assert.match(
      table,
      /failed: loss became NaN at epoch 3/,
      "the table keeps rows that are not ok, with why",
    );
    for (
      const figure of ["fig3_accuracy_vs_memory_cpu", "fig6_accuracy_vs_time_gpu", "fig9_memory_per_model"]
    ) {
      assert.ok(written.includes(`${dir}/figures/${figure}.png`), figure);
    }
    for (const path of written.filter((path) => path.endsWith(".svg"))) {
      const svg = await Deno.readTextFile(path);
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, path);
      assert.match(svg, /<\/svg>\s*$/, path);
      assert.ok(svg.includes("mlp-300-100"), `${path} names the models`);
      assert.ok(!svg.includes("mlp-4096"), `${path} leaves out the failed row`);
    }
    for (const path of written.filter((path) => path.endsWith(".png"))) {
      const png = await Deno.readFile(path);
      assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE, path);
      const header = new DataView(png.buffer, png.byteOffset + 16, 8);
      const [width, height] = [header.getUint32(0), header.getUint32(4)];
      assert.ok(
        width >= 800 && width <= 4000 && height >= 600 && height <= 4000,
        `${path} is ${width}x${height}`,
      );
      assert.ok(png.length > 20_000, `${path} has only ${png.length} bytes`);
    }
  });
});

Deno.test("writeFigures refuses a sweep with no ok rows", async () => {
  const skipped = { ...syntheticRow("lenet5", [], "cpu"), status: "skipped: no adapter" };
  await assert.rejects(() => writeFigures([skipped], "/nonexistent/figures"), UserError);
});

for (
  const [what, args, expected] of [
    ["a missing CSV", ["--csv", "/nonexistent/sweep.csv"], /\/nonexistent\/sweep\.csv/],
    ["an unknown flag", ["--colour", "red"], /--colour.*usage: deno task report/],
  ] as const
) {
  Deno.test(`the report CLI given ${what} prints one line and exits 1`, async () => {
    const repo = new URL("..", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "experiments/report.ts",
        ...args,
      ],
      cwd: repo,
    }).output();
    const errorLines = new TextDecoder().decode(stderr).trimEnd().split("\n");
    assert.equal(code, 1);
    assert.equal(errorLines.length, 1, errorLines.join("\n"));
    assert.match(errorLines[0], expected);
    assert.equal(stdout.length, 0);
  });
}
