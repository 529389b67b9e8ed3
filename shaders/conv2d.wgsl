// 2-D convolution as PyTorch's nn.Conv2d: cross-correlation, stride 1, no padding, NCHW,
// x [B, IC, H, W], w [OC, IC, K, K], y [B, OC, OH, OW] with OH = H - K + 1, OW = W - K + 1.
// ACT: 0 identity, 1 ReLU, 2 tanh (the activation is fused; backward kernels take the
// activated output y and form the pre-activation gradient g = dy * act'(y) themselves).
// One output element per invocation; grids are 3-D (positions, channels, samples) so that no
// dimension comes near the 65535-workgroup limit.

override B: u32;
override IC: u32;
override OC: u32;
override H: u32;
override W: u32;
override K: u32 = 5u;
override ACT: u32 = 0u;

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

// One invocation: output position p = (oh, ow) of channel oc of sample n.
@compute @workgroup_size(64)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let p = gid.x;
  let oc = gid.y;
  let n = gid.z;
  if (p >= OH * OW || oc >= OC || n >= B) { return; }
  let oh = p / OW;
  let ow = p % OW;
  var sum = b[oc];
  for (var ic = 0u; ic < IC; ic++) {
    for (var kh = 0u; kh < K; kh++) {
      for (var kw = 0u; kw < K; kw++) {
        sum += x[((n * IC + ic) * H + oh + kh) * W + ow + kw] * w[((oc * IC + ic) * K + kh) * K + kw];
      }
    }
  }
  y[((n * OC + oc) * OH + oh) * OW + ow] = activate(sum);
}

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// One invocation: input position p = (row, col) of channel ic of sample n. Gathers every output
// that this input fed: output (oh, ow) = (row - kh, col - kw) where that lies inside the output.
// Reads the weights before conv2d_backward_weight updates them.
@compute @workgroup_size(64)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let p = gid.x;
  let ic = gid.y;
  let n = gid.z;
  if (p >= H * W || ic >= IC || n >= B) { return; }
  let row = p / W;
  let col = p % W;
  var sum = 0.0;
  for (var oc = 0u; oc < OC; oc++) {
    for (var kh = 0u; kh < K; kh++) {
      if (kh > row || row - kh >= OH) { continue; }
      for (var kw = 0u; kw < K; kw++) {
        if (kw > col || col - kw >= OW) { continue; }
        let at = ((n * OC + oc) * OH + row - kh) * OW + col - kw;
        sum += dy[at] * activation_slope(y[at]) * w[((oc * IC + ic) * K + kh) * K + kw];
      }
    }
  }
  dx[((n * IC + ic) * H + row) * W + col] = sum;
}

@group(0) @binding(6) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_w: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(10) var<storage, read> learning_rate: array<f32>;

// One invocation: weight k = (ic, kh, kw) of output channel oc, or for k == IC * K * K the bias
// of oc. Computes the gradient summed over the batch and the output positions, keeps it in
// grad_*, and takes the plain SGD step in place (fused: no second pass).
@compute @workgroup_size(64)
fn conv2d_backward_weight(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let KK = IC * K * K;
  let k = gid.x;
  let oc = gid.y;
  if (k > KK || oc >= OC) { return; }
  let ic = k / (K * K);
  let kh = (k / K) % K;
  let kw = k % K;
  var sum = 0.0;
  for (var n = 0u; n < B; n++) {
    for (var oh = 0u; oh < OH; oh++) {
      for (var ow = 0u; ow < OW; ow++) {
        let at = ((n * OC + oc) * OH + oh) * OW + ow;
        let g = dy[at] * activation_slope(y[at]);
        if (k < KK) { sum += g * x[((n * IC + ic) * H + oh + kh) * W + ow + kw]; } else { sum += g; }
      }
    }
  }
  let lr = learning_rate[0];
  if (k < KK) {
    grad_w[oc * KK + k] = sum;
    w_train[oc * KK + k] -= lr * sum;
  } else {
    grad_b[oc] = sum;
    b_train[oc] -= lr * sum;
  }
}
