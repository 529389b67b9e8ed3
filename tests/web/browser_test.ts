/**
 * The page in a real browser: headless Chromium (Debian's chromium, which scripts/setup.sh installs;
 * WebGPU on its SwiftShader software adapter) loads the page from io/page_server.ts (what deno task
 * serve serves). With the model it loads at once (the study's, as the manifest says; on the CPU path
 * first, then on WebGPU), ten MNIST test digits pasted onto the pad are read as their labels in at least
 * nine cases, and a 1 drawn with the mouse is a 1; the model fine-tunes with an expected time and a line of test accuracy. A model trained
 * from scratch starts from the logits Deno computes (the twins, and Deno's WebGPU where it has an
 * adapter), within the parity tolerance; a browser without WebGPU loads the model on the CPU path.
 * BROWSER_SCREENSHOT=docs/browser.png saves the page's screenshot after the drawn 1 and the fine-tuning.
 */
import assert from "node:assert/strict";
// Inline, not in deno.json's imports: Deno would fetch every package named there on every run.
// deno-lint-ignore no-import-prefix
import puppeteer, { type Page } from "npm:puppeteer-core@24.43.1";
import type { Backend } from "../../engine/backend.ts";
import { loadMnist, pixelMeanStd } from "../../lab/mnist.ts";
import { PROTOCOL } from "../../lab/protocol.ts";
import { pageHandler, pageModels } from "../../io/page_server.ts";
import { DeviceDataSet } from "../../models/dataset.ts";
import { CompiledModel } from "../../models/model.ts";
import { SHUFFLE_STREAM } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import type { Lab, RunConfig } from "../../web/lab.ts";
import { provenanceLine } from "../../web/models.ts";
import { assertClose, cpuBackend, gpuBackend, Random } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const STEPS = 300;
const SCRATCH: RunConfig = {
  from: "scratch",
  model: "mlp-30",
  backend: "webgpu",
  epochs: 1,
  batch: PROTOCOL.batchSize,
  seed: PROTOCOL.seed,
  trainLimit: 60000,
  testLimit: 1000,
  schedule: PROTOCOL.learningRateSchedule,
  maxSteps: STEPS,
};

const lab = (page: Page) => page.evaluateHandle(() => (globalThis as unknown as { lab: Lab }).lab);
const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? "");

/** The first step's logits in Deno, and its speed over the page's loop (chunks of 25 steps, read back). */
async function denoRun(backend: Backend) {
  const mnist = await loadMnist();
  const stats = pixelMeanStd(mnist.train.images);
  const model = new CompiledModel(backend, modelByName(SCRATCH.model), SCRATCH.batch, SCRATCH.seed);
  const train = new DeviceDataSet(backend, "train", mnist.train, stats);
  train.setOrder(new Random(SCRATCH.seed + SHUFFLE_STREAM).permutation(mnist.train.count));
  const step0 = backend.tensor("step0", "u32", [1], [0]);
  backend.run([train.gatherAt(model, step0), ...model.forward]);
  const logits = await backend.read(model.logits.value);
  model.setLearningRate(0.0005);
  model.resetTotals();
  const step = model.trainStep(train.gatherFor(model));
  const start = performance.now();
  for (let done = 0; done < STEPS; done += 25) {
    backend.run(step, 25);
    await backend.read(model.stats);
    await backend.read(model.lossSum);
  }
  const stepsPerSecond = STEPS / ((performance.now() - start) / 1000);
  train.release();
  return { logits, stepsPerSecond };
}

/** Pastes test image `index` onto the pad; the digit the page reads and the 28x28 image it saw. */
async function readDigit(page: Page, pixels: number[]) {
  const handle = await lab(page);
  return await page.evaluate(
    async (lab, pixels) => {
      lab.paste(pixels);
      return { ...(await lab.classify()), seen: lab.seen() };
    },
    handle,
    pixels,
  );
}

Deno.test({
  name: "the page reads MNIST digits and a drawn 1 with the study's model at once, fine-tunes it, trains " +
    "from scratch as Deno does, and loads on the CPU path without WebGPU",
  // puppeteer's websocket and timers outlive the test by design; the browser itself is closed.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    assert.ok(
      await Deno.stat(CHROMIUM).then(() => true, () => false),
      `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`,
    );
    const mnist = await loadMnist();
    const testImage = (i: number) => Array.from(mnist.test.images.subarray(i * 784, (i + 1) * 784));
    const { manifest } = await pageModels();
    const expected = manifest.models[0];
    assert.ok(expected, "no study checkpoint to offer: see docs/browser.md");
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, await pageHandler());
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--enable-unsafe-swiftshader",
        "--use-angle=swiftshader",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1100, height: 900 });
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));

      await t.step("the default model classifies MNIST test digits at once", async () => {
        const start = performance.now();
        await page.goto(url);
        // The CPU path answers first, while WebGPU compiles its kernels; then the model moves to WebGPU.
        const loaded = await page.evaluate((lab) => lab.modelReady, await lab(page));
        assert.deepEqual(loaded, { model: expected.model, backend: "cpu", checkpoint: expected.url });
        const first = await readDigit(page, testImage(0));
        const firstPrediction = (performance.now() - start) / 1000;
        const { hasGpu } = await page.evaluate((lab) => lab.ready, await lab(page));
        assert.ok(hasGpu, `no WebGPU in Chromium: ${await text(page, "#gpu")}`);
        const onGpu = await page.evaluate((lab) => lab.gpuReady(), await lab(page));
        const gpuSeconds = (performance.now() - start) / 1000;
        assert.deepEqual(onGpu, { model: expected.model, backend: "webgpu", checkpoint: expected.url });
        assert.equal((await readDigit(page, testImage(0))).digit, first.digit);
        assert.match(await text(page, "#provenance"), new RegExp(escape(provenanceLine(expected))));
        for (const missing of manifest.missing) {
          assert.match(await text(page, "#missing"), new RegExp(escape(missing.command)));
        }
        const read = [first.digit];
        for (let i = 1; i < 10; i++) read.push((await readDigit(page, testImage(i))).digit);
        const labels = Array.from(mnist.test.labels.subarray(0, 10));
        const right = read.filter((digit, i) => digit === labels[i]).length;
        assert.ok(right >= 9, `read ${read} for ${labels}: ${right} of 10`);
        // What the model saw is the test digit itself, to within the resampling's blur.
        const meanDifference = first.seen.reduce((sum, v, i) => sum + Math.abs(v - testImage(0)[i]), 0) / 784;
        assert.ok(
          meanDifference < 0.06 * 255,
          `seen differs from the test image by ${meanDifference} a pixel`,
        );
        console.log(
          `load to first prediction: ${firstPrediction.toFixed(2)} s in headless Chromium (CPU path), ` +
            `on WebGPU (SwiftShader) after ${gpuSeconds.toFixed(2)} s, with ${expected.model} ` +
            `(${expected.bytes} bytes, test accuracy ${expected.testAccuracy}); read ${right} of 10 test digits ` +
            `(${read.join("")} for ${labels.join("")})`,
        );
      });

      await t.step("a 1 drawn with the mouse is a 1", async () => {
        await page.evaluate((lab) => lab.clear(), await lab(page));
        const box = (await (await page.$("#pad"))!.boundingBox())!;
        await page.mouse.move(box.x + 0.55 * box.width, box.y + 0.15 * box.height);
        await page.mouse.down();
        await page.mouse.move(box.x + 0.47 * box.width, box.y + 0.85 * box.height, { steps: 20 });
        await page.mouse.up();
        const { digit, probabilities } = await page.evaluate((lab) => lab.classify(), await lab(page));
        assert.equal(digit, 1, `the drawn 1 was read as ${digit}: ${probabilities.map((p) => p.toFixed(3))}`);
        assert.equal(probabilities.indexOf(Math.max(...probabilities)), 1);
        assert.match(await text(page, "#prediction"), /It is a 1/);
      });

      await t.step(
        "the loaded model fine-tunes, with an expected time and a line of test accuracy",
        async () => {
          const config = await page.evaluate((lab) => lab.defaults(), await lab(page));
          assert.equal(config.from, "checkpoint");
          // The schedule goes on where the study's ended: its last rate.
          assert.equal(config.schedule, `1:${expected.schedule.split(":").at(-1)}`);
          const result = await page.evaluate(
            (lab, config) => lab.train(config),
            await lab(page),
            { ...config, epochs: 2, trainLimit: 1000, testLimit: 500, skipKernelTimes: true },
          );
          assert.equal(result.model, expected.model);
          assert.equal(result.steps, 500);
          assert.equal(result.testAccuracies.length, 3, `${result.testAccuracies}`);
          // A model that reads 0.94 of the test set still does after a small rate: it was fine-tuned.
          assert.ok(Math.min(...result.testAccuracies) > 0.85, `${result.testAccuracies}`);
          assert.ok(result.expectedSeconds !== null && result.expectedSeconds > 0);
          assert.match(await text(page, "#eta"), /Expected time of this run: .*\(500 steps at \d+ steps\/s/);
          assert.deepEqual(errors, []);
          const screenshot = Deno.env.get("BROWSER_SCREENSHOT");
          if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
        },
      );

      await t.step("a model from scratch starts from Deno's logits, and its loss falls", async () => {
        const scratch = await browser.newPage();
        await scratch.goto(url);
        await scratch.evaluate((lab) => lab.ready, await lab(scratch));
        // A bad number in the form is refused in one line, before any work.
        await assert.rejects(
          scratch.evaluate((lab, config) => lab.train(config), await lab(scratch), { ...SCRATCH, batch: 0 }),
          /Batch: must be an integer of at least 1 and at most 65,536/,
        );
        const result = await scratch.evaluate(
          (lab, config) => lab.train(config),
          await lab(scratch),
          SCRATCH,
        );
        assert.equal(result.steps, STEPS);
        assert.ok(result.software, `expected SwiftShader, got ${result.adapter}`);
        const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
        const [first, last] = [mean(result.losses.slice(0, 2)), mean(result.losses.slice(-4))];
        assert.ok(last < first - 0.05, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}: ${result.losses}`);
        const cpu = await denoRun(cpuBackend());
        assertClose(result.firstLogits, cpu.logits, "browser vs Deno's twins, first logits");
        const gpu = await gpuBackend();
        const deno = gpu ? await denoRun(gpu) : undefined;
        if (deno) assertClose(result.firstLogits, deno.logits, "browser vs Deno's WebGPU, first logits");
        const kernelRows = await scratch.$$eval("#kernels tr", (rows) => rows.length);
        assert.ok(kernelRows > 4, `${kernelRows} rows in the kernel table`);
        console.log(
          `mlp-30, batch 4, ${STEPS} steps in chunks of 25: Chromium (${result.adapter}, software adapter) ` +
            `${result.stepsPerSecond.toFixed(0)} steps/s; Deno's CPU twins ${
              cpu.stepsPerSecond.toFixed(0)
            } steps/s` +
            (deno
              ? `; Deno's WebGPU (${gpu!.adapter.name}, software adapter) ${
                deno.stepsPerSecond.toFixed(0)
              } steps/s`
              : "") +
            `; kernel clock: ${result.kernelClock}`,
        );
      });

      await t.step("a browser without WebGPU is told so, and the model loads on the CPU path", async () => {
        const bare = await browser.newPage();
        await bare.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
        await bare.goto(url);
        const { hasGpu, loaded } = await bare.evaluate((lab) => lab.ready, await lab(bare));
        assert.equal(hasGpu, false);
        assert.match(await text(bare, "#gpu"), /This browser has no WebGPU/);
        assert.equal(loaded?.backend, "cpu");
        assert.equal(await bare.evaluate((lab) => lab.gpuReady(), await lab(bare)), null);
        const { digit } = await readDigit(bare, testImage(0));
        assert.equal(digit, mnist.test.labels[0]);
      });
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});

/** A string as a regular expression that matches it literally. */
function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
