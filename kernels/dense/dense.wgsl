// Dense (fully connected) layer: y = act(x W^T + b), W in PyTorch's [out, in] layout.
// A layer whose weight is larger than one binding may cover runs as several row slices:
// O0 is the slice's first output row, OUT its row count, OUT_TOTAL the full width of y and dy.
// ACT: 0 identity, 1 ReLU, 2 tanh, fused into the forward pass. The backward kernels take g, the
// gradient before the activation (activation_gradient in activation.wgsl turns dy into g in place).
//
// Register tiles: each invocation computes a 4 x 4 block (rows x samples, or features x samples,
// or rows x features), so every value loaded feeds four multiply-adds. On llvmpipe a storage load
// costs far more than the arithmetic. Indices past an edge are clamped to valid memory and their
// results are not stored, which keeps the inner loops free of branches.

override B: u32;
override IN: u32;
override OUT: u32;
override OUT_TOTAL: u32 = OUT;
override O0: u32 = 0u;
override ACT: u32 = 0u;
override ACCUMULATE: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// One invocation: output rows o0 .. o0+3 of samples n0 .. n0+3. acc[j][i] = y[n0 + j, o0 + i].
@compute @workgroup_size(64)
fn dense_forward(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.x * 4u;
  let n0 = gid.y * 4u;
  if (o0 >= OUT || n0 >= B) { return; }
  let rows = clamped4(o0, OUT - 1u) * IN;
  let samples = clamped4(n0, B - 1u) * IN;
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < IN; k++) {
    let wk = vec4f(w[rows.x + k], w[rows.y + k], w[rows.z + k], w[rows.w + k]);
    acc[0] += x[samples.x + k] * wk;
    acc[1] += x[samples.y + k] * wk;
    acc[2] += x[samples.z + k] * wk;
    acc[3] += x[samples.w + k] * wk;
  }
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) {
      if (n0 + j < B && o0 + i < OUT) {
        y[(n0 + j) * OUT_TOTAL + O0 + o0 + i] = activation(ACT, acc[j][i] + b[o0 + i]);
      }
    }
  }
}

@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// One invocation: input features k0 .. k0+3 of samples n0 .. n0+3: dx = g W, summed over this
// slice's rows; slices after the first add to what earlier ones wrote (ACCUMULATE = 1).
// Reads the weights before dense_backward_weight updates them.
@compute @workgroup_size(64)
fn dense_backward_input(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 4u;
  let n0 = gid.y * 4u;
  if (k0 >= IN || n0 >= B) { return; }
  let features = clamped4(k0, IN - 1u);
  let samples = clamped4(n0, B - 1u) * OUT_TOTAL + vec4u(O0);
  var acc: array<vec4f, 4>;
  for (var o = 0u; o < OUT; o++) {
    let row = o * IN;
    let wo = vec4f(w[row + features.x], w[row + features.y], w[row + features.z], w[row + features.w]);
    acc[0] += g[samples.x + o] * wo;
    acc[1] += g[samples.y + o] * wo;
    acc[2] += g[samples.z + o] * wo;
    acc[3] += g[samples.w + o] * wo;
  }
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) {
      if (n0 + j < B && k0 + i < IN) {
        let at = (n0 + j) * IN + k0 + i;
        if (ACCUMULATE == 1u) { dx[at] += acc[j][i]; } else { dx[at] = acc[j][i]; }
      }
    }
  }
}

@group(0) @binding(6) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_w: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(10) var<storage, read> learning_rate: array<f32>;

// One invocation: weights (o0 .. o0+3, k0 .. k0+3), or, in the last column of invocations
// (k0 >= IN), the biases of rows o0 .. o0+3. Computes the gradient summed over the batch, keeps
// it in grad_*, and takes the plain SGD step in place (fused: no second pass over the weights).
@compute @workgroup_size(64)
fn dense_backward_weight(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 4u;
  let o0 = gid.y * 4u;
  if (o0 >= OUT || k0 >= IN + 4u) { return; }
  let rows = clamped4(o0, OUT - 1u) + vec4u(O0);
  let features = clamped4(k0, IN - 1u);
  let lr = learning_rate[0];
  if (k0 >= IN) {
    var sum = vec4f(0.0);
    for (var n = 0u; n < B; n++) {
      let at = n * OUT_TOTAL;
      sum += vec4f(g[at + rows.x], g[at + rows.y], g[at + rows.z], g[at + rows.w]);
    }
    for (var i = 0u; i < 4u; i++) {
      if (o0 + i < OUT) {
        grad_b[o0 + i] = sum[i];
        b_train[o0 + i] -= lr * sum[i];
      }
    }
    return;
  }
  var acc: array<vec4f, 4>;
  for (var n = 0u; n < B; n++) {
    let at = n * OUT_TOTAL;
    let gn = vec4f(g[at + rows.x], g[at + rows.y], g[at + rows.z], g[at + rows.w]);
    let xn = vec4f(x[n * IN + features.x], x[n * IN + features.y], x[n * IN + features.z], x[n * IN + features.w]);
    acc[0] += gn.x * xn;
    acc[1] += gn.y * xn;
    acc[2] += gn.z * xn;
    acc[3] += gn.w * xn;
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (o0 + i < OUT && k0 + j < IN) {
        let at = (o0 + i) * IN + k0 + j;
        grad_w[at] = acc[i][j];
        w_train[at] -= lr * acc[i][j];
      }
    }
  }
}
