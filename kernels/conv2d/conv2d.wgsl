// 2-D convolution as PyTorch's nn.Conv2d: cross-correlation, stride 1, no padding, NCHW,
// x [B, IC, H, W], w [OC, IC, K, K], y [B, OC, OH, OW] with OH = H - K + 1, OW = W - K + 1.
// ACT: 0 identity, 1 ReLU, 2 tanh (the activation is fused into the forward kernel).
//
// Register-blocked for the software adapter, where every buffer load and loop iteration costs
// about a nanosecond per invocation and arithmetic is cheap: each invocation computes a tile of
// TILE adjacent positions of a row times 4 channels (a vec4), so each value it loads feeds several
// multiply-adds. Grids are (tiles of one sample, samples), far below the 65535-workgroup limit.
//
// Backward: conv2d_preactivation_gradient forms g = dy * act'(y) once, with a zero border of PAD
// (K - 1 where the input gradient is wanted, so that conv2d_backward_input needs no edge tests);
// conv2d_backward_input reads g and the old weights; conv2d_weight_partials sums the weight
// gradient over chunks of ROWS output rows in parallel; conv2d_backward_weight adds the chunks up
// and takes the fused SGD step.

override B: u32;
override IC: u32;
override OC: u32;
override H: u32;
override W: u32;
override K: u32 = 5u;
override ACT: u32 = 0u;
override PAD: u32 = 0u;
override ROWS: u32 = 1u;

const TILE = 4u;
// Longest kernel side conv2d_weight_partials keeps accumulators for.
const MAX_K = 8u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Four consecutive channels' weights, base + stride * q for q < 4, each index clamped to last: the
// lanes of channels past the end read a real element and are discarded or zeroed by the caller.
fn w4(base: u32, stride: u32, last: u32) -> vec4f {
  return vec4f(w[min(base, last)], w[min(base + stride, last)], w[min(base + 2u * stride, last)],
    w[min(base + 3u * stride, last)]);
}

// One invocation: output positions (oh, ow0 .. ow0 + TILE - 1) of channels oc0 .. oc0 + 3 of
// sample n. A sliding window of TILE inputs walks along each kernel row: TILE + K - 1 loads of x
// and 4 K of w per row feed 4 K TILE multiply-adds.
@compute @workgroup_size(64)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let TILES = (OW + TILE - 1u) / TILE;
  let i = gid.x;
  let n = gid.y;
  if (i >= (OC + 3u) / 4u * OH * TILES || n >= B) { return; }
  let ow0 = i % TILES * TILE;
  let oh = i / TILES % OH;
  let oc0 = i / (TILES * OH) * 4u;
  let KK = IC * K * K;
  let x_last = B * IC * H * W - 1u;
  let w_last = OC * KK - 1u;
  let bias = vec4f(b[min(oc0, OC - 1u)], b[min(oc0 + 1u, OC - 1u)], b[min(oc0 + 2u, OC - 1u)],
    b[min(oc0 + 3u, OC - 1u)]);
  var acc = array<vec4f, TILE>(bias, bias, bias, bias);
  for (var ic = 0u; ic < IC; ic++) {
    for (var kh = 0u; kh < K; kh++) {
      let row = ((n * IC + ic) * H + oh + kh) * W + ow0;
      var x0 = x[row];
      var x1 = x[min(row + 1u, x_last)];
      var x2 = x[min(row + 2u, x_last)];
      for (var kw = 0u; kw < K; kw++) {
        let x3 = x[min(row + kw + 3u, x_last)];
        let wv = w4((oc0 * IC + ic) * K * K + kh * K + kw, KK, w_last);
        acc[0] += x0 * wv;
        acc[1] += x1 * wv;
        acc[2] += x2 * wv;
        acc[3] += x3 * wv;
        x0 = x1;
        x1 = x2;
        x2 = x3;
      }
    }
  }
  for (var t = 0u; t < TILE; t++) {
    for (var q = 0u; q < 4u; q++) {
      if (ow0 + t < OW && oc0 + q < OC) {
        y[((n * OC + oc0 + q) * OH + oh) * OW + ow0 + t] = activation(ACT, acc[t][q]);
      }
    }
  }
}

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> g: array<f32>;

// One invocation: element (gh, gw) of channel oc of sample n of g [B, OC, OH + 2 PAD, OW + 2 PAD],
// the pre-activation gradient dy * act'(y), zero on the border.
@compute @workgroup_size(64)
fn conv2d_preactivation_gradient(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let GH = OH + 2u * PAD;
  let GW = OW + 2u * PAD;
  let i = gid.x;
  let n = gid.y;
  if (i >= OC * GH * GW || n >= B) { return; }
  let gw = i % GW;
  let gh = i / GW % GH;
  let oc = i / (GW * GH);
  var value = 0.0;
  if (gh >= PAD && gh - PAD < OH && gw >= PAD && gw - PAD < OW) {
    let at = ((n * OC + oc) * OH + gh - PAD) * OW + gw - PAD;
    value = dy[at] * activation_slope(ACT, y[at]);
  }
  g[n * OC * GH * GW + i] = value;
}

@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

// One invocation: input positions (row, col0 .. col0 + TILE - 1) of channels ic0 .. ic0 + 3 of
// sample n. Input (row, col) fed output (row - kh, col - kw); in g's padded coordinates that is
// (row + PAD - kh, col + u) with u = K - 1 - kw, so a window of TILE slides along u. Rows of kh
// whose output row lies in the border are skipped; columns are not (the border holds zeros).
// Reads the weights before conv2d_backward_weight updates them.
@compute @workgroup_size(64)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let GH = OH + 2u * PAD;
  let GW = OW + 2u * PAD;
  let TILES = (W + TILE - 1u) / TILE;
  let i = gid.x;
  let n = gid.y;
  if (i >= (IC + 3u) / 4u * H * TILES || n >= B) { return; }
  let col0 = i % TILES * TILE;
  let row = i / TILES % H;
  let ic0 = i / (TILES * H) * 4u;
  let g_last = B * OC * GH * GW - 1u;
  let w_last = OC * IC * K * K - 1u;
  let kh_first = select(0u, row + 1u - OH, row + 1u > OH);
  let kh_end = min(K, row + 1u);
  var acc = array<vec4f, TILE>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var oc = 0u; oc < OC; oc++) {
    for (var kh = kh_first; kh < kh_end; kh++) {
      let at = ((n * OC + oc) * GH + row + PAD - kh) * GW + col0;
      var g0 = g[at];
      var g1 = g[min(at + 1u, g_last)];
      var g2 = g[min(at + 2u, g_last)];
      for (var u = 0u; u < K; u++) {
        let g3 = g[min(at + u + 3u, g_last)];
        let wv = w4(((oc * IC + ic0) * K + kh) * K + K - 1u - u, K * K, w_last);
        acc[0] += g0 * wv;
        acc[1] += g1 * wv;
        acc[2] += g2 * wv;
        acc[3] += g3 * wv;
        g0 = g1;
        g1 = g2;
        g2 = g3;
      }
    }
  }
  for (var t = 0u; t < TILE; t++) {
    for (var q = 0u; q < 4u; q++) {
      if (col0 + t < W && ic0 + q < IC) {
        dx[((n * IC + ic0 + q) * H + row) * W + col0 + t] = acc[t][q];
      }
    }
  }
}

@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

// One invocation: chunk r of ROWS output rows (n, oh), input channel ic, kernel row kh, channels
// oc0 .. oc0 + 3. Sums g * x over the chunk for the K taps kw of that kernel row, into
// partial [R, IC * K * K + 1, OC] (the last row of each chunk is the bias'; the ic = kh = 0
// invocations write it). Each tile of TILE positions loads 4 TILE of g and TILE + K - 1 of x.
@compute @workgroup_size(64)
fn conv2d_weight_partials(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let GH = OH + 2u * PAD;
  let GW = OW + 2u * PAD;
  let KK = IC * K * K;
  let R = (B * OH + ROWS - 1u) / ROWS;
  let i = gid.x;
  if (i >= (OC + 3u) / 4u * K * IC * R) { return; }
  let oc0 = i % ((OC + 3u) / 4u) * 4u;
  let kh = i / ((OC + 3u) / 4u) % K;
  let ic = i / ((OC + 3u) / 4u * K) % IC;
  let r = i / ((OC + 3u) / 4u * K * IC);
  let x_last = B * IC * H * W - 1u;
  let g_last = B * OC * GH * GW - 1u;
  var acc: array<vec4f, MAX_K>;
  var bias = vec4f(0.0);
  for (var row = r * ROWS; row < min(r * ROWS + ROWS, B * OH); row++) {
    let n = row / OH;
    let oh = row % OH;
    let x_row = ((n * IC + ic) * H + oh + kh) * W;
    let g_row = ((n * OC + oc0) * GH + oh + PAD) * GW + PAD;
    let g_stride = GH * GW;
    for (var ow0 = 0u; ow0 < OW; ow0 += TILE) {
      // Channels past OC and positions past OW contribute zero.
      let valid = vec4<bool>(oc0 < OC, oc0 + 1u < OC, oc0 + 2u < OC, oc0 + 3u < OC);
      let g0 = select(vec4f(0.0), gv(g_row + ow0, g_stride, g_last), valid);
      let g1 = select(vec4f(0.0), gv(g_row + ow0 + 1u, g_stride, g_last), valid & vec4(ow0 + 1u < OW));
      let g2 = select(vec4f(0.0), gv(g_row + ow0 + 2u, g_stride, g_last), valid & vec4(ow0 + 2u < OW));
      let g3 = select(vec4f(0.0), gv(g_row + ow0 + 3u, g_stride, g_last), valid & vec4(ow0 + 3u < OW));
      bias += g0 + g1 + g2 + g3;
      var x0 = x[x_row + ow0];
      var x1 = x[min(x_row + ow0 + 1u, x_last)];
      var x2 = x[min(x_row + ow0 + 2u, x_last)];
      for (var kw = 0u; kw < K; kw++) {
        let x3 = x[min(x_row + ow0 + kw + 3u, x_last)];
        acc[kw] += g0 * x0 + g1 * x1 + g2 * x2 + g3 * x3;
        x0 = x1;
        x1 = x2;
        x2 = x3;
      }
    }
  }
  let chunk = r * (KK + 1u) * OC;
  for (var kw = 0u; kw < K; kw++) {
    for (var q = 0u; q < 4u; q++) {
      if (oc0 + q < OC) { partial[chunk + ((ic * K + kh) * K + kw) * OC + oc0 + q] = acc[kw][q]; }
    }
  }
  if (ic == 0u && kh == 0u) {
    for (var q = 0u; q < 4u; q++) {
      if (oc0 + q < OC) { partial[chunk + KK * OC + oc0 + q] = bias[q]; }
    }
  }
}

fn gv(base: u32, stride: u32, last: u32) -> vec4f {
  return vec4f(g[min(base, last)], g[min(base + stride, last)], g[min(base + 2u * stride, last)],
    g[min(base + 3u * stride, last)]);
}

@group(0) @binding(8) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(9) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(10) var<storage, read_write> grad_w: array<f32>;
@group(0) @binding(11) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(12) var<storage, read> learning_rate: array<f32>;

// One invocation: weight k = (ic, kh, kw) of output channel oc, or for k == IC * K * K the bias of
// oc. Adds up the chunks' partial sums, keeps the gradient in grad_*, and takes the plain SGD step
// in place (fused: no second pass).
@compute @workgroup_size(64)
fn conv2d_backward_weight(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let KK = IC * K * K;
  let R = (B * OH + ROWS - 1u) / ROWS;
  let k = gid.x;
  let oc = gid.y;
  if (k > KK || oc >= OC) { return; }
  var sum = 0.0;
  for (var r = 0u; r < R; r++) { sum += partial[(r * (KK + 1u) + k) * OC + oc]; }
  let lr = learning_rate[0];
  if (k < KK) {
    grad_w[oc * KK + k] = sum;
    w_train[oc * KK + k] -= lr * sum;
  } else {
    grad_b[oc] = sum;
    b_train[oc] -= lr * sum;
  }
}
