/**
 * gpu-study: its flags, its accounting of finished models, and a short run that must stop cleanly at its
 * limit with its files written (a software adapter here: the GPU figures it prints are not a real GPU's).
 */
import assert from "node:assert/strict";
import { defaultJobs, finishedModels, planFromArgs, studyEstimate } from "../../lab/gpu_study.ts";
import { UserError } from "../../engine/errors.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("gpu-study flags: defaults, pass-through to the sweep, and one-line refusals", () => {
  const parsed = planFromArgs(["out", "--minutes", "5", "--models", "lenet5,mlp-30", "--train-limit", "200"]);
  assert.ok(parsed);
  assert.equal(parsed.out, "out");
  assert.equal(parsed.plan.minutes, 5);
  assert.deepEqual(parsed.plan.models, ["lenet5", "mlp-30"]);
  assert.deepEqual(parsed.plan.sweepArgs, ["--train-limit", "200"]);
  assert.deepEqual(parsed.plan.benchArgs, ["--quick", "--json"]);
  assert.equal(parsed.plan.epochs, 20);
  assert.equal(parsed.plan.trainLimit, 200);
  const defaults = planFromArgs(["out"])?.plan;
  assert.equal(defaults?.models.length, 31);
  assert.deepEqual(defaults?.sweepArgs, [], "the sweep's own defaults: all 31 models, 20 epochs");
  assert.deepEqual(planFromArgs(["out", "--epochs", "2"])?.plan.sweepArgs, ["--epochs", "2"]);
  assert.equal(planFromArgs(["--help"]), undefined);
  assert.throws(() => planFromArgs([]), UserError);
  assert.throws(() => planFromArgs(["out", "--minutes", "0"]), /--minutes 0/);
  assert.throws(() => planFromArgs(["out", "--minutes", "soon"]), /--minutes soon/);
  assert.throws(() => planFromArgs(["out", "--skip", "sweep"]), /--skip sweep/);
  assert.throws(() => planFromArgs(["out", "--jobs", "0"]), /--jobs 0/);
  assert.throws(() => planFromArgs(["out", "--models", "mlp-x"]), UserError);
});

Deno.test("gpu-study's default jobs: cores less two, at least one, at most the models and 16", () => {
  assert.equal(defaultJobs(2, 31), 1);
  assert.equal(defaultJobs(16, 31), 14);
  assert.equal(defaultJobs(128, 31), 16);
  assert.equal(defaultJobs(16, 3), 3);
});

Deno.test("gpu-study counts a model finished only with a row on every path, and tells skipped ones apart", () => {
  const csv = "model,family,path,status\nmlp-30,mlp1,webgpu,ok\nmlp-30,mlp1,cpu,ok\nmlp-60,mlp1,webgpu,ok\n" +
    'lenet5,lenet5,cpu,"diverged, see note"\nlenet5,lenet5,webgpu,diverged\n' +
    "mlp-90,mlp1,webgpu,skipped: needs ~2.0 h\nmlp-90,mlp1,cpu,skipped: needs ~2.0 h\n";
  assert.deepEqual(
    finishedModels(csv, ["lenet5", "mlp-30", "mlp-60", "mlp-90", "mlp-100"], ["webgpu", "cpu"]),
    {
      finished: ["lenet5", "mlp-30"],
      skipped: ["mlp-90"],
      unfinished: ["mlp-60", "mlp-100"],
    },
  );
  assert.deepEqual(finishedModels("", ["mlp-30"], ["webgpu"]), {
    finished: [],
    skipped: [],
    unfinished: ["mlp-30"],
  });
});

Deno.test("gpu-study's estimate: measured step cost x steps per epoch x epochs, and what was not measured", () => {
  const costs = new Map([["mlp-30", 0.001], ["lenet5", 0.004]]);
  assert.deepEqual(studyEstimate(costs, ["lenet5", "mlp-30", "mlp-60"], 15000, 20), {
    seconds: (0.004 + 0.001) * 15000 * 20,
    measured: ["lenet5", "mlp-30"],
    unmeasured: ["mlp-60"],
  });
  assert.equal(studyEstimate(new Map(), ["mlp-30"], 15000, 20).seconds, 0);
});

Deno.test({
  name: "gpu-study stops cleanly at its limit: finished rows kept, the rest listed, at most 8 files",
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "gpu-study-test-" });
    try {
      const started = performance.now();
      // 8 models, 8 epochs of 2,000 images each: about a minute of training on two quiet cores, where the
      // sweep gets about one. The last, mlp-4096-2048 (11.6 M parameters), needs far more than the whole
      // study's two minutes on any machine this test runs on, so it is skipped or stopped whatever the
      // speed: the stop is always tested. The costliest that fit start first; some finish.
      const models = "mlp-30,mlp-60,mlp-90,mlp-100,mlp-120,mlp-150,mlp-180,mlp-4096-2048";
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "gpu-study",
          `${out}/study`,
          "--minutes",
          "2",
          "--skip",
          "bench,parity",
          "--models",
          models,
          "--epochs",
          "8",
          "--train-limit",
          "2000",
          "--test-limit",
          "500",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const seconds = (performance.now() - started) / 1000;
      const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
      assert.ok(output.success, text);
      assert.ok(seconds < 2 * 60 + 30, `took ${seconds.toFixed(0)} s for a 2-minute limit`);
      const files = [...Deno.readDirSync(`${out}/study`)].map((entry) => entry.name).sort();
      assert.ok(files.length <= 8, files.join(", "));
      const summary = await Deno.readTextFile(`${out}/study/summary.txt`);
      const context = `${summary}\n${text.slice(-3000)}`;
      const finished = /^finished \((\d+)\/8\): (.*)$/m.exec(summary);
      const skipped = /^skipped, over the time limit by the estimate \((\d+)\)/m.exec(summary);
      const unfinished = /^unfinished \((\d+)\): (.*)$/m.exec(summary);
      assert.ok(finished && skipped && unfinished, context);
      assert.equal(Number(finished[1]) + Number(skipped[1]) + Number(unfinished[1]), 8, context);
      assert.ok(
        Number(skipped[1]) + Number(unfinished[1]) > 0,
        `all 8 finished: the stop was not tested\n${context}`,
      );
      // The sweep stopped itself (its --time-limit-minutes), not the backstop that kills it.
      assert.match(summary, /^steps: .*sweep ok/m, context);
      if (Number(finished[1]) === 0) {
        // Possible only on a machine several times slower than two idle cores; the rows go unchecked.
        console.warn(`gpu-study_test: no model finished, so no finished row was checked\n${summary}`);
      } else {
        for (const file of ["results.csv", "figures.tar.gz"]) {
          assert.ok(files.includes(file), `${file} missing: ${files.join(", ")}`);
        }
        const csv = await Deno.readTextFile(`${out}/study/results.csv`);
        for (const model of finished[2].split(", ")) {
          for (const path of ["webgpu", "cpu"]) {
            assert.ok(
              csv.split("\n").some((line) => line.startsWith(`${model},`) && line.includes(`,${path},`)),
            );
          }
        }
      }
      assert.ok(files.includes("estimate.txt"), files.join(", "));
      const log = await Deno.readTextFile(`${out}/study/study.log`);
      assert.match(log, /the full study's training \(8 epochs\), from measured step costs/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
