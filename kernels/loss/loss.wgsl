// Softmax cross-entropy, mean over the batch, fused with its gradient (which needs the same
// softmax), the correct count for accuracy, and the running totals of a whole epoch. The totals
// stay on the GPU; the host reads them back once per epoch or for progress.
// A label of INVALID marks a padding sample of a last, partial batch: it adds nothing.
// stats: [0] steps run (the batch gather reads it to find its batch), [1] correct, [2] samples.
// loss_sum: [0] the losses of the current block of BLOCK steps, [1] the sum of earlier blocks.
// Summing in blocks keeps an epoch's 60,000 losses accurate in float32 without relying on the
// rounding of each addition (a compiler may reassociate Kahan's compensation away).

override B: u32;
override CLASSES: u32 = 10u;
const INVALID: u32 = 0xffffffffu;
const THREADS: u32 = 64u;
const BLOCK: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<u32>;
@group(0) @binding(4) var<storage, read_write> loss_sum: array<f32>;

var<workgroup> partial_loss: array<f32, THREADS>;
var<workgroup> partial_correct: array<u32, THREADS>;

// One workgroup; invocation t handles samples t, t + 64, ...
@compute @workgroup_size(64)
fn softmax_cross_entropy(@builtin(local_invocation_index) t: u32) {
  var valid = 0u;
  for (var n = 0u; n < B; n++) { valid += select(0u, 1u, labels[n] != INVALID); }
  var loss = 0.0;
  var correct = 0u;
  for (var n = t; n < B; n += THREADS) {
    let row = n * CLASSES;
    let label = labels[n];
    if (label == INVALID) {
      for (var c = 0u; c < CLASSES; c++) { dlogits[row + c] = 0.0; }
      continue;
    }
    var top = logits[row];
    var best = 0u;
    for (var c = 1u; c < CLASSES; c++) {
      if (logits[row + c] > top) { top = logits[row + c]; best = c; }
    }
    var total = 0.0;
    for (var c = 0u; c < CLASSES; c++) { total += exp(logits[row + c] - top); }
    loss += log(total) + top - logits[row + label];
    correct += select(0u, 1u, best == label);
    for (var c = 0u; c < CLASSES; c++) {
      let p = exp(logits[row + c] - top) / total;
      dlogits[row + c] = (p - select(0.0, 1.0, c == label)) / f32(valid);
    }
  }
  partial_loss[t] = loss;
  partial_correct[t] = correct;
  workgroupBarrier();
  if (t == 0u) {
    var batch_loss = 0.0;
    var batch_correct = 0u;
    for (var i = 0u; i < THREADS; i++) {
      batch_loss += partial_loss[i];
      batch_correct += partial_correct[i];
    }
    loss_sum[0] += batch_loss;
    if (stats[0] % BLOCK == BLOCK - 1u) {
      loss_sum[1] += loss_sum[0];
      loss_sum[0] = 0.0;
    }
    stats[0] += 1u;
    stats[1] += batch_correct;
    stats[2] += valid;
  }
}
