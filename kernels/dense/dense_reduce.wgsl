// Dense layer kernels shaped for a discrete GPU at small batch: the same functions as dense.wgsl,
// with the same bindings and constants, but with the reduction itself spread over a workgroup
// (split-K), so that a layer at batch 4 launches tens of thousands of threads, each reading
// consecutive weights (coalesced), where dense_vec4.wgsl's register tiles launch a few hundred.
// dense_forward_reduce: one workgroup of THREADS per output row and 4 samples.
// dense_backward_input_reduce: a workgroup of 16 input features x 16 slices of the output rows.
// dense_backward_weight_flat: one thread per weight (and per bias), coalesced along the inputs.

override B: u32;
override IN: u32;
override OUT: u32;
override OUT_TOTAL: u32 = OUT;
override O0: u32 = 0u;
override ACT: u32 = 0u;
override ACCUMULATE: u32 = 0u;

// engine/constants.ts REDUCE_THREADS.
const THREADS = 64u;
const SLICES = 16u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<vec4f, 256>;

// Workgroup (o, n0 / 4): row o of samples n0 .. n0+3. Thread t sums inputs t, t + THREADS, ...
// of the 4 samples (clamped to the last sample), then the threads add their sums in a tree.
@compute @workgroup_size(64)
fn dense_forward_reduce(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) t: u32) {
  let o = min(group.x, OUT - 1u);
  let n0 = group.y * 4u;
  let s = clamped4(n0, B - 1u) * IN;
  var acc = vec4f(0.0);
  for (var k = t; k < IN; k += THREADS) {
    acc += w[o * IN + k] * vec4f(x[s.x + k], x[s.y + k], x[s.z + k], x[s.w + k]);
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) { partial[t] += partial[t + stride]; }
    workgroupBarrier();
  }
  if (t == 0u && group.x < OUT) {
    let sums = partial[0];
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < B) { y[(n0 + j) * OUT_TOTAL + O0 + o] = activation(ACT, sums[j] + b[o]); }
    }
  }
}

@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// Workgroup (k0 / 16, n0 / 4), thread (i, j): input feature k0 + i of samples n0 .. n0+3, summed
// over output rows j, j + SLICES, ...; the 16 slices are then added in a tree.
@compute @workgroup_size(16, 16)
fn dense_backward_input_reduce(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let k = group.x * 16u + lid.x;
  let kc = min(k, IN - 1u);
  let n0 = group.y * 4u;
  let s = clamped4(n0, B - 1u) * OUT_TOTAL + vec4u(O0);
  var acc = vec4f(0.0);
  for (var o = lid.y; o < OUT; o += SLICES) {
    acc += w[o * IN + kc] * vec4f(g[s.x + o], g[s.y + o], g[s.z + o], g[s.w + o]);
  }
  partial[lid.y * 16u + lid.x] = acc;
  workgroupBarrier();
  for (var stride = SLICES / 2u; stride > 0u; stride /= 2u) {
    if (lid.y < stride) { partial[lid.y * 16u + lid.x] += partial[(lid.y + stride) * 16u + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && k < IN) {
    let sums = partial[lid.x];
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < B) {
        let at = (n0 + j) * IN + k;
        dx[at] = select(0.0, dx[at], ACCUMULATE == 1u) + sums[j];
      }
    }
  }
}

@group(0) @binding(6) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_w: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(10) var<storage, read> learning_rate: array<f32>;

// Thread (k, o): weight k of row o summed over the batch, or for k == IN the bias of row o; keeps
// the gradient and takes the SGD step in place.
@compute @workgroup_size(64)
fn dense_backward_weight_flat(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  let o = gid.y;
  if (k > IN || o >= OUT) { return; }
  let lr = learning_rate[0];
  var sum = 0.0;
  if (k == IN) {
    for (var n = 0u; n < B; n++) { sum += g[n * OUT_TOTAL + O0 + o]; }
    grad_b[o] = sum;
    b_train[o] -= lr * sum;
    return;
  }
  for (var n = 0u; n < B; n++) { sum += g[n * OUT_TOTAL + O0 + o] * x[n * IN + k]; }
  grad_w[o * IN + k] = sum;
  w_train[o * IN + k] -= lr * sum;
}
