/**
 * The page in a real browser: headless Chromium (Debian's chromium, which scripts/setup.sh installs;
 * WebGPU on its SwiftShader software adapter) loads the page from io/page_server.ts (what deno task
 * serve serves), trains mlp-30 for 300 steps from seed 0, and classifies a drawn digit. Its first step's logits must match Deno's
 * (the twins, and Deno's WebGPU where it has an adapter) within the parity tolerance.
 * BROWSER_SCREENSHOT=docs/browser.png saves the page's screenshot there.
 */
import assert from "node:assert/strict";
// Inline, not in deno.json's imports: Deno would fetch every package named there on every run.
// deno-lint-ignore no-import-prefix
import puppeteer from "npm:puppeteer-core@24.43.1";
import type { Backend } from "../../engine/backend.ts";
import { loadMnist, pixelMeanStd } from "../../lab/mnist.ts";
import { PROTOCOL } from "../../lab/protocol.ts";
import { pageHandler } from "../../io/page_server.ts";
import { DeviceDataSet } from "../../models/dataset.ts";
import { CompiledModel } from "../../models/model.ts";
import { SHUFFLE_STREAM } from "../../models/trainer.ts";
import { modelByName } from "../../models/zoo.ts";
import type { Lab, RunConfig } from "../../web/lab.ts";
import { assertClose, cpuBackend, gpuBackend, Random } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const STEPS = 300;
const CONFIG: RunConfig = {
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

/** The first step's logits in Deno, and its speed over the page's loop (chunks of 25 steps, read back). */
async function denoRun(backend: Backend) {
  const mnist = await loadMnist();
  const stats = pixelMeanStd(mnist.train.images);
  const model = new CompiledModel(backend, modelByName(CONFIG.model), CONFIG.batch, CONFIG.seed);
  const train = new DeviceDataSet(backend, "train", mnist.train, stats);
  train.setOrder(new Random(CONFIG.seed + SHUFFLE_STREAM).permutation(mnist.train.count));
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

Deno.test({
  name: "the page trains mlp-30 in headless Chromium's WebGPU, as Deno does, and classifies a drawn digit",
  // puppeteer's websocket and timers outlive the test by design; the browser itself is closed.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(
      await Deno.stat(CHROMIUM).then(() => true, () => false),
      `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`,
    );
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, await pageHandler());
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
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      const { hasGpu } = await page.evaluate(() => (globalThis as unknown as { lab: Lab }).lab.ready);
      assert.ok(hasGpu, `no WebGPU in Chromium: ${await page.$eval("#gpu", (e) => e.textContent)}`);
      const result = await page.evaluate(
        (config) => (globalThis as unknown as { lab: Lab }).lab.train(config),
        CONFIG,
      );
      assert.deepEqual(errors, []);
      assert.equal(result.steps, STEPS);
      assert.ok(result.software, `expected SwiftShader, got ${result.adapter}`);

      // The loss fell: the last chunks' mean below the first two's (2.30 -> 2.14 in Deno).
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const [first, last] = [mean(result.losses.slice(0, 2)), mean(result.losses.slice(-4))];
      assert.ok(last < first - 0.05, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}: ${result.losses}`);

      const cpu = await denoRun(cpuBackend());
      assertClose(result.firstLogits, cpu.logits, "browser vs Deno's twins, first logits");
      const gpu = await gpuBackend();
      const deno = gpu ? await denoRun(gpu) : undefined;
      if (deno) assertClose(result.firstLogits, deno.logits, "browser vs Deno's WebGPU, first logits");

      // Per-kernel GPU time, and a digit drawn on the pad.
      const kernelRows = await page.$$eval("#kernels tr", (rows) => rows.length);
      assert.ok(kernelRows > 4, `${kernelRows} rows in the kernel table`);
      await page.evaluate(() => (globalThis as unknown as { lab: Lab }).lab.draw([[[112, 40], [112, 190]]]));
      const digit = await page.evaluate(() => (globalThis as unknown as { lab: Lab }).lab.classify());
      assert.ok(Number.isInteger(digit) && digit >= 0 && digit < 10);
      assert.match(await page.$eval("#prediction", (e) => e.textContent ?? ""), /It is a \d/);

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
      const screenshot = Deno.env.get("BROWSER_SCREENSHOT");
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

      // A browser without WebGPU is told so, and offered the CPU path.
      const bare = await browser.newPage();
      await bare.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
      await bare.goto(`http://127.0.0.1:${server.addr.port}/`);
      const { hasGpu: bareGpu } = await bare.evaluate(() =>
        (globalThis as unknown as { lab: Lab }).lab.ready
      );
      assert.equal(bareGpu, false);
      assert.match(await bare.$eval("#gpu", (e) => e.textContent ?? ""), /This browser has no WebGPU/);
      assert.equal(await bare.$eval("#backend", (e) => (e as unknown as { value: string }).value), "cpu");
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
