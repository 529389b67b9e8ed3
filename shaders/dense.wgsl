// Dense (fully connected) layer: y = act(x W^T + b), W in PyTorch's [out, in] layout.
// A layer whose weight is larger than one binding may cover is run as several row slices:
// O0 is the slice's first output row, OUT its row count, OUT_TOTAL the full width of y and dy.
// ACT: 0 identity, 1 ReLU, 2 tanh (the activation is fused; backward kernels take the
// activated output y and form the pre-activation gradient g = dy * act'(y) themselves).
// Each invocation keeps NB = 4 samples in registers so a weight row is read once per 4 samples.

override B: u32;
override IN: u32;
override OUT: u32;
override OUT_TOTAL: u32 = OUT;
override O0: u32 = 0u;
override ACT: u32 = 0u;
override ACCUMULATE: u32 = 0u;
const NB: u32 = 4u;

fn activate(s: f32) -> f32 {
  if (ACT == 1u) { return max(s, 0.0); }
  // Clamped: some drivers return NaN for tanh of |x| > ~88; tanh(+-20) is +-1 in float32.
  if (ACT == 2u) { return tanh(clamp(s, -20.0, 20.0)); }
  return s;
}

fn activation_slope(y: f32) -> f32 {
  if (ACT == 1u) { return select(0.0, 1.0, y > 0.0); }
  if (ACT == 2u) { return 1.0 - y * y; }
  return 1.0;
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// One invocation: output row o, samples n0 .. n0+3.
@compute @workgroup_size(64)
fn dense_forward(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let n0 = gid.y * NB;
  if (o >= OUT || n0 >= B) { return; }
  let count = min(NB, B - n0);
  var acc = vec4f(b[o]);
  for (var k = 0u; k < IN; k++) {
    let wk = w[o * IN + k];
    for (var j = 0u; j < count; j++) { acc[j] += x[(n0 + j) * IN + k] * wk; }
  }
  for (var j = 0u; j < count; j++) { y[(n0 + j) * OUT_TOTAL + O0 + o] = activate(acc[j]); }
}

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// One invocation: input feature k, samples n0 .. n0+3. dx = g W, summed over this slice's rows;
// slices after the first add to what the earlier ones wrote (ACCUMULATE = 1).
// Reads the weights before dense_backward_weight updates them.
@compute @workgroup_size(64)
fn dense_backward_input(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  let n0 = gid.y * NB;
  if (k >= IN || n0 >= B) { return; }
  let count = min(NB, B - n0);
  var acc = vec4f(0.0);
  for (var o = 0u; o < OUT; o++) {
    let wk = w[o * IN + k];
    for (var j = 0u; j < count; j++) {
      let at = (n0 + j) * OUT_TOTAL + O0 + o;
      acc[j] += dy[at] * activation_slope(y[at]) * wk;
    }
  }
  for (var j = 0u; j < count; j++) {
    let at = (n0 + j) * IN + k;
    if (ACCUMULATE == 1u) { dx[at] += acc[j]; } else { dx[at] = acc[j]; }
  }
}

@group(0) @binding(6) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_w: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(10) var<storage, read> learning_rate: array<f32>;

// One invocation: weight (o, k), or for k == IN the bias of row o. Computes the gradient summed
// over the batch, keeps it in grad_*, and takes the plain SGD step in place (fused: no second pass).
@compute @workgroup_size(64)
fn dense_backward_weight(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  let o = gid.y;
  if (k > IN || o >= OUT) { return; }
  var sum = 0.0;
  for (var n = 0u; n < B; n++) {
    let at = n * OUT_TOTAL + O0 + o;
    let g = dy[at] * activation_slope(y[at]);
    if (k < IN) { sum += g * x[n * IN + k]; } else { sum += g; }
  }
  let lr = learning_rate[0];
  if (k < IN) {
    grad_w[o * IN + k] = sum;
    w_train[o * IN + k] -= lr * sum;
  } else {
    grad_b[o] = sum;
    b_train[o] -= lr * sum;
  }
}
