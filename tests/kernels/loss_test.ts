/**
 * The fused softmax cross-entropy kernel: its loss and gradient against PyTorch and a float64
 * reference, padding labels, the epoch counters, the block-summed loss total; its twin against the float64
 * reference and the GPU against the twin (checkKernel).
 */
import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { INVALID_LABEL } from "../../kernels/loss/loss.ts";
import { kernels } from "../../engine/kernels.ts";
import {
  assertClose,
  cpuBackend,
  f32,
  gpuBackend,
  loadGolden,
  Random,
  randomArray,
  TOLERANCE,
  u32,
} from "../helpers.ts";
import { type CaseBuilder, checkKernel, describe } from "./check.ts";

const CLASSES = 10;
/** Written to dlogits beforehand: a padding row must be overwritten with zeros. */
const UNWRITTEN = 7;

interface LossState {
  readonly stats: ArrayLike<number>;
  readonly lossSum: ArrayLike<number>;
}
const FRESH: LossState = { stats: [0, 0, 0], lossSum: [0, 0] };

/** Runs the kernel `repeats` times on the same batch, starting from the given totals. */
async function softmaxCrossEntropy(
  backend: Backend,
  logits: Float32Array,
  labels: Uint32Array,
  before: LossState = FRESH,
  repeats = 1,
) {
  const B = labels.length;
  const tensors = {
    logits: backend.tensor("logits", "f32", [B, CLASSES], logits),
    labels: backend.tensor("labels", "u32", [B], labels),
    dlogits: backend.tensor("dlogits", "f32", [B, CLASSES], new Float32Array(B * CLASSES).fill(UNWRITTEN)),
    stats: backend.tensor("stats", "u32", [3], before.stats),
    loss_sum: backend.tensor("loss_sum", "f32", [2], before.lossSum),
  };
  backend.run([backend.dispatch(kernels.softmax_cross_entropy, tensors, { B, CLASSES })], repeats);
  const result = {
    dlogits: await backend.read(tensors.dlogits) as Float32Array,
    stats: await backend.read(tensors.stats) as Uint32Array,
    lossSum: await backend.read(tensors.loss_sum) as Float32Array,
  };
  for (const tensor of Object.values(tensors)) backend.release(tensor);
  return result;
}

/** Float64 softmax cross-entropy, mean over the valid samples, written out plainly. */
function reference(logits: ArrayLike<number>, labels: ArrayLike<number>) {
  const B = labels.length;
  const valid = Array.from(labels).filter((label) => label !== INVALID_LABEL).length;
  const dlogits = new Float64Array(B * CLASSES);
  let lossSum = 0, correct = 0;
  for (let n = 0; n < B; n++) {
    const label = labels[n];
    if (label === INVALID_LABEL) continue;
    const row = Array.from({ length: CLASSES }, (_, k) => logits[n * CLASSES + k]);
    const top = Math.max(...row);
    const logSumExp = top + Math.log(row.reduce((sum, value) => sum + Math.exp(value - top), 0));
    lossSum += logSumExp - row[label];
    if (row.indexOf(top) === label) correct++;
    row.forEach((value, k) =>
      dlogits[n * CLASSES + k] = (Math.exp(value - logSumExp) - (k === label ? 1 : 0)) / valid
    );
  }
  return { lossSum, correct, valid, dlogits };
}

async function backends(): Promise<Backend[]> {
  const gpu = await gpuBackend();
  if (!gpu) console.warn("GPU cases skipped: no WebGPU adapter");
  return gpu ? [cpuBackend(), gpu] : [cpuBackend()];
}

function randomBatch(random: Random, B: number) {
  const logits = randomArray(random, B * CLASSES, 5);
  const labels = Uint32Array.from({ length: B }, () => random.nextUint32() % CLASSES);
  return { logits, labels };
}

Deno.test("softmax cross-entropy twin matches PyTorch and the float64 reference", async () => {
  const golden = loadGolden("softmax_cross_entropy");
  const logits = golden.inputs.logits.data as Float32Array;
  const labels = Uint32Array.from(golden.inputs.labels.data);
  const B = labels.length;
  const { dlogits, stats, lossSum } = await softmaxCrossEntropy(cpuBackend(), logits, labels);
  assertClose([lossSum[0] / B], golden.outputs.loss.data, "loss");
  assertClose(dlogits, golden.outputs.dlogits.data, "dlogits");
  const expected = reference(logits, labels);
  assert.deepEqual([...stats], [1, expected.correct, B]);
  assertClose(dlogits, expected.dlogits, "dlogits vs float64");
});

Deno.test("softmax cross-entropy: a padding label adds nothing and the mean is over valid samples", async () => {
  const golden = loadGolden("softmax_cross_entropy");
  const logits = golden.inputs.logits.data as Float32Array;
  const labels = Uint32Array.from(golden.inputs.labels.data);
  labels[1] = INVALID_LABEL;
  const expected = reference(logits, labels);
  assert.equal(expected.valid, 3);
  for (const backend of await backends()) {
    const before = { stats: [5, 2, 20], lossSum: [1.5, 0] };
    const { dlogits, stats, lossSum } = await softmaxCrossEntropy(backend, logits, labels, before);
    assertClose(dlogits, expected.dlogits, `${backend.kind} dlogits`);
    assert.deepEqual(dlogits.slice(CLASSES, 2 * CLASSES), new Float32Array(CLASSES), "padding row is zero");
    assertClose([lossSum[0]], [1.5 + expected.lossSum], `${backend.kind} loss sum`);
    assert.deepEqual([...stats], [6, 2 + expected.correct, 23], `${backend.kind} stats`);
  }
});

Deno.test("softmax cross-entropy: the block-summed total stays accurate over an epoch of calls", async () => {
  const steps = 15_000; // 60,000 samples at batch 4
  const { logits, labels } = randomBatch(new Random(5), 4);
  const batchLoss = reference(logits, labels).lossSum;
  // A plain float32 sum of the same terms drifts past the tolerance: the test can tell the two apart.
  let plain = 0;
  for (let i = 0; i < steps; i++) plain = Math.fround(plain + Math.fround(batchLoss));
  const exact = steps * batchLoss;
  assert.ok(
    Math.abs(plain - exact) > 2 * TOLERANCE.relative * exact,
    `plain sum ${plain} vs ${exact}: pick other logits`,
  );
  for (const backend of await backends()) {
    const { stats, lossSum } = await softmaxCrossEntropy(backend, logits, labels, FRESH, steps);
    assertClose([lossSum[0] + lossSum[1]], [exact], `${backend.kind} loss total after ${steps} calls`);
    assert.deepEqual([stats[0], stats[2]], [steps, 4 * steps], `${backend.kind} step and sample counts`);
  }
});

/** A logit of 100 (exp overflows float32 unless shifted) and a row of -50 (underflows). */
function withExtremeRows(logits: Float32Array, B: number): Float32Array {
  logits.fill(0, 0, CLASSES);
  logits[3] = 100;
  if (B > 1) logits.fill(-50, CLASSES, 2 * CLASSES);
  return logits;
}

/**
 * One call on a batch with the given totals before it: dlogits (padding rows zero), the counters advanced,
 * the batch's loss added to the block's running sum, which moves to the total at the end of each block
 * of 256 steps.
 */
function lossCase(before: LossState, padding: number[] = []): CaseBuilder {
  return (c, random) => {
    const { logits, labels } = randomBatch(random, c.B);
    withExtremeRows(logits, c.B);
    for (const n of padding) labels[n] = INVALID_LABEL;
    const expected = reference(logits, labels);
    const [steps, correct, samples] = Array.from(before.stats);
    let [block, total] = [before.lossSum[0] + expected.lossSum, before.lossSum[1]];
    if (steps % 256 === 255) [block, total] = [0, total + block];
    return {
      bindings: {
        logits: f32(logits),
        labels: u32(labels),
        dlogits: f32(new Float32Array(c.B * CLASSES).fill(UNWRITTEN)),
        stats: u32(before.stats),
        loss_sum: f32(before.lossSum),
      },
      expected: {
        dlogits: expected.dlogits,
        stats: [steps + 1, correct + expected.correct, samples + expected.valid],
        loss_sum: [block, total],
      },
    };
  };
}

const RUNNING = { stats: [3, 1, 12], lossSum: [4.25, 1e-7] };
const BLOCK_ENDS = { stats: [255, 7, 1020], lossSum: [30.5, 1e3] };

Deno.test("softmax cross-entropy: twin vs float64, GPU vs twin, 1 to 130 samples (over 64 threads)", async (t) => {
  for (
    const [c, build] of [
      [{ B: 1, CLASSES }, lossCase(RUNNING)],
      [{ B: 4, CLASSES }, lossCase(RUNNING)],
      [{ B: 65, CLASSES }, lossCase(RUNNING, [64])],
      [{ B: 130, CLASSES }, lossCase(RUNNING, [64, 129])],
      [{ B: 7, CLASSES }, lossCase(BLOCK_ENDS, [2])],
    ] as const
  ) {
    await t.step(
      describe(kernels.softmax_cross_entropy, c),
      () => checkKernel(kernels.softmax_cross_entropy, c, build),
    );
  }
});

Deno.test("softmax cross-entropy is numerically stable for logits of 100 and rows of -50", async () => {
  const random = new Random(7);
  const { logits, labels } = randomBatch(random, 4);
  withExtremeRows(logits, 4);
  logits.fill(-50, 2 * CLASSES, 3 * CLASSES);
  logits[2 * CLASSES + 5] = 100;
  labels.set([3, 0, 1]); // the 100 logit's class, a row of -50, a class far below the 100
  const expected = reference(logits, labels);
  assert.ok(expected.lossSum > 150, "the third sample's loss is large but finite");
  for (const backend of await backends()) {
    const { dlogits, lossSum } = await softmaxCrossEntropy(backend, logits, labels);
    assert.ok(dlogits.every(Number.isFinite) && Number.isFinite(lossSum[0]), `${backend.kind}: finite`);
    assertClose(dlogits, expected.dlogits, `${backend.kind} dlogits`);
    assertClose([lossSum[0]], [expected.lossSum], `${backend.kind} loss sum`);
  }
});
