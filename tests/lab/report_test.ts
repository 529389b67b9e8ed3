import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { markdownTable, writeFigures } from "../../lab/report.ts";
import { doneKeys, formatResults, readResults, type ResultRow } from "../../lab/results.ts";
import { protocolLine, studyFigures } from "../../lab/figures/specs.ts";
import { summariseSeeds } from "../../lab/seeds.ts";
import { syntheticRow, syntheticSweep } from "./rows.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "report_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("doneKeys lists finished and finally failed runs, not transient failures", () => {
  const rows = [
    syntheticRow("lenet5", [], "cpu"),
    { ...syntheticRow("lenet5", [], "webgpu"), status: "interrupted: device lost" },
    { ...syntheticRow("mlp1", [100], "cpu"), status: "failed: loss became NaN at epoch 3" },
    { ...syntheticRow("mlp1", [100], "webgpu"), status: "skipped: weight 512 MiB over the binding limit" },
  ];
  assert.deepEqual([...doneKeys(rows)].sort(), ["lenet5|cpu|0", "mlp-100|cpu|0", "mlp-100|webgpu|0"]);
});

Deno.test("a malformed results file is reported with its line and left untouched", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/sweep.csv`;
    const broken = formatResults([syntheticRow("lenet5", [], "cpu")]) + "mlp-10,mlp1,10,,7960,cpu\n";
    await Deno.writeTextFile(csv, broken);
    await assert.rejects(() => readResults(csv), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, new RegExp(`${csv} line 3 `));
      return true;
    });
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
    assert.equal(written.length, 16);
    assert.equal(new Set(written).size, 16);
    assert.match(await Deno.readTextFile(`${dir}/figures/conclusions.md`), /## LeNet-5 has the highest/);
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
      assert.ok(svg.includes("20 epochs, seed 0, batch 4"), `${path} states the protocol`);
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

Deno.test("figures 3 and 4 plot op_bytes and each path's measured_bytes; 5, 6, 8, 9 draw points, not bars", async () => {
  await withTempDir(async (dir) => {
    await writeFigures(syntheticSweep(), dir);
    const svg = (name: string) => Deno.readTextFileSync(`${dir}/${name}.svg`);
    const [cpu, gpu] = [svg("fig3_accuracy_vs_memory_cpu"), svg("fig4_accuracy_vs_memory_gpu")];
    assert.match(cpu, /op_bytes/);
    assert.notEqual(cpu.replace(/CPU|cpu|TypeScript CPU/g, ""), gpu.replace(/WebGPU|llvmpipe[^<]*/g, ""));
    for (
      const name of [
        "fig5_accuracy_vs_time_cpu",
        "fig6_accuracy_vs_time_gpu",
        "fig8_inference_time_per_model",
      ]
    ) {
      assert.ok(!svg(name).includes("mark-rect"), `${name} has no bars`);
      assert.match(svg(name), /10th to 90th percentile/, `${name} says what its whiskers are`);
    }
    assert.match(svg("fig8_inference_time_per_model"), /One batch with readback/);
    assert.ok(!svg("fig9_memory_per_model").includes("mark-rect"), "fig9 has no bars");
    assert.match(svg("fig9_memory_per_model"), /op_bytes \(the lab&#39;s\)|op_bytes \(the lab's\)/);
  });
});

Deno.test("figures 3, 5 and 8 draw PyTorch's CPU series beside ours; figure 7 keeps our paths", async () => {
  await withTempDir(async (dir) => {
    const ours = syntheticSweep();
    // PyTorch's rows: faster, at their own time; half of them without an accuracy (no checkpoint).
    const torch = ours.filter((row) => row.path === "cpu").map((row, i): ResultRow => ({
      ...row,
      path: "pytorch-cpu",
      adapter: "PyTorch 1.13 CPU, BLAS libopenblas.so, 1 thread",
      clock: "wall clock (time.perf_counter) in PyTorch",
      infer_ms_median: row.infer_ms_median! / 10,
      infer_ms_p10: row.infer_ms_p10! / 10,
      infer_ms_p90: row.infer_ms_p90! / 10,
      test_accuracy: i % 2 === 0 ? row.test_accuracy! - 0.001 : null,
      threads: 1,
    }));
    await writeFigures([...ours, ...torch], dir);
    const svg = (name: string) => Deno.readTextFileSync(`${dir}/${name}.svg`);
    for (const name of ["fig3_accuracy_vs_memory_cpu", "fig5_accuracy_vs_time_cpu"]) {
      assert.match(svg(name), /Crosses: PyTorch CPU, the same networks \(PyTorch 1\.13 CPU/, name);
      assert.match(svg(name), /at our accuracy where PyTorch evaluated no checkpoint/, name);
    }
    assert.match(
      svg("fig5_accuracy_vs_time_cpu"),
      /PyTorch CPU timed with: wall clock \(time\.perf_counter\)/,
    );
    assert.match(svg("fig8_inference_time_per_model"), /PyTorch CPU/);
    assert.match(svg("fig8_inference_time_per_model"), /Kernel clock, PyTorch CPU: wall clock/);
    assert.doesNotMatch(svg("fig7_accuracy_per_model"), /PyTorch/);
    const table = markdownTable([...ours, ...torch]);
    assert.match(
      table.split("\n")[0],
      /\| ms\/batch gpu \(p10-p90\) \| ms\/batch PyTorch cpu \(p10-p90\) \| op KiB \|/,
    );
    const lenet = ours.find((row) => row.model === "lenet5" && row.path === "cpu")!;
    assert.match(
      table.split("\n").find((line) => line.startsWith("| lenet5 |"))!,
      new RegExp(`\\| ${(lenet.infer_ms_median! / 10).toFixed(3)} \\([^)]*\\), 1 thr\\. \\| .* \\| ok \\|$`),
    );
    assert.doesNotMatch(markdownTable(ours), /PyTorch/);
    // In the specs: a cross per model, each at PyTorch's accuracy or, without one, at ours.
    const figures = studyFigures(summariseSeeds([...ours, ...torch]), protocolLine(ours));
    for (const name of ["fig3_accuracy_vs_memory_cpu", "fig5_accuracy_vs_time_cpu"]) {
      const values = (figures.find((f) =>
        f.name === name
      )!.spec.data as { values: Record<string, unknown>[] })
        .values;
      const crosses = values.filter((value) => value.peer);
      assert.equal(crosses.length, torch.length, name);
      for (const cross of crosses) {
        const mine = ours.find((row) => row.model === cross.model && row.path === "cpu")!;
        const its = torch.find((row) => row.model === cross.model)!;
        assert.equal(cross.y, its.test_accuracy ?? mine.test_accuracy, `${name} ${cross.model}`);
        assert.equal(typeof cross.ourX, "number", "joined to our point");
      }
    }
    assert.doesNotMatch(svg("fig4_accuracy_vs_memory_gpu"), /Crosses/);
    // Without PyTorch rows, no PyTorch line anywhere.
    await writeFigures(ours, `${dir}/plain`);
    assert.doesNotMatch(Deno.readTextFileSync(`${dir}/plain/fig8_inference_time_per_model.svg`), /PyTorch/);
  });
});

Deno.test("writeFigures refuses a sweep with no ok rows", async () => {
  const skipped = { ...syntheticRow("lenet5", [], "cpu"), status: "skipped: no adapter" };
  await assert.rejects(() => writeFigures([skipped], "/nonexistent/figures"), UserError);
});

for (
  const [what, args, expected] of [
    ["a missing CSV", ["--csv", "/nonexistent/sweep.csv"], /\/nonexistent\/sweep\.csv/],
    ["an unknown flag", ["--colour", "red"], /^error: .*--colour.*see --help/],
    ["a results file without its store", ["/nonexistent/a.csv"], /has no results store/],
    ["stores and --csv at once", ["a.csv", "--csv", "b.csv"], /stores as arguments or --csv, not both/],
    ["--prefer-later with one --csv", ["--prefer-later"], /chooses among several stores/],
  ] as const
) {
  Deno.test(`the report CLI given ${what} prints one line and exits 2, as every CLI does`, async () => {
    const repo = new URL("../..", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "cli/report.ts",
        ...args,
      ],
      cwd: repo,
    }).output();
    const errorLines = new TextDecoder().decode(stderr).trimEnd().split("\n");
    assert.equal(code, 2);
    assert.equal(errorLines.length, 1, errorLines.join("\n"));
    assert.match(errorLines[0], /^error: /);
    assert.match(errorLines[0], expected);
    assert.equal(stdout.length, 0);
  });
}

Deno.test("with several seeds, figures and table show each model's mean and its min-max spread", async () => {
  await withTempDir(async (dir) => {
    const rows = [0, 1, 2].flatMap((seed) => [
      syntheticRow("lenet5", [], "webgpu", seed),
      syntheticRow("mlp1", [300], "webgpu", seed),
    ]);
    await writeFigures(rows, dir);
    const table = await Deno.readTextFile(`${dir}/results.md`);
    // syntheticRow adds 0.001 per seed: the mean is seed 1's, the spread seeds 0 to 2.
    const lenet = rows.filter((row) => row.model === "lenet5").map((row) => row.test_accuracy!);
    assert.match(
      table,
      new RegExp(
        `\\| lenet5 \\| 61,706 \\| 0-2 \\|.*\\| ${lenet[1].toFixed(4)} \\(${lenet[0].toFixed(4)}-${
          lenet[2].toFixed(4)
        }\\) \\|`,
      ),
    );
    const svg = await Deno.readTextFile(`${dir}/fig7_accuracy_per_model.svg`);
    assert.ok(
      svg.includes("20 epochs, seeds 0-2 (mean, bars from min to max"),
      "the subtitle names the seeds",
    );
  });
});
