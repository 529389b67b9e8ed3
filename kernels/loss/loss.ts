// TypeScript twin of kernels/loss/loss.wgsl.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

export const INVALID_LABEL = 0xffffffff;
const THREADS = 64;
const BLOCK = 256;

export function softmax_cross_entropy(t: TwinBindings, c: Constants): void {
  const { logits, dlogits, loss_sum } = t.f32;
  const { labels, stats } = t.u32;
  const B = c.B, CLASSES = c.CLASSES ?? 10;
  let valid = 0;
  for (let n = 0; n < B; n++) valid += labels[n] !== INVALID_LABEL ? 1 : 0;
  let batchLoss = 0, batchCorrect = 0;
  for (let thread = 0; thread < THREADS; thread++) {
    for (let n = thread; n < B; n += THREADS) {
      const row = n * CLASSES;
      const label = labels[n];
      if (label === INVALID_LABEL) {
        dlogits.fill(0, row, row + CLASSES);
        continue;
      }
      let top = logits[row], best = 0;
      for (let k = 1; k < CLASSES; k++) {
        if (logits[row + k] > top) {
          top = logits[row + k];
          best = k;
        }
      }
      let total = 0;
      for (let k = 0; k < CLASSES; k++) total += Math.exp(logits[row + k] - top);
      batchLoss += Math.log(total) + top - logits[row + label];
      batchCorrect += best === label ? 1 : 0;
      for (let k = 0; k < CLASSES; k++) {
        const p = Math.exp(logits[row + k] - top) / total;
        dlogits[row + k] = (p - (k === label ? 1 : 0)) / valid;
      }
    }
  }
  loss_sum[0] += batchLoss;
  if (stats[0] % BLOCK === BLOCK - 1) {
    loss_sum[1] += loss_sum[0];
    loss_sum[0] = 0;
  }
  stats[0] += 1;
  stats[1] += batchCorrect;
  stats[2] += valid;
}
