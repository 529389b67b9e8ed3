// Convolution kernels shaped for a discrete GPU: the same functions as conv2d.wgsl's, with the
// same bindings and constants, one thread per output element, parallel over positions, channels
// and the batch (grid [positions, channels, samples]), where conv2d.wgsl's register tiles launch
// a thread per 4 channels x 4 positions.

override B: u32;
override IC: u32;
override OC: u32;
override H: u32;
override W: u32;
override K: u32 = 5u;
override ACT: u32 = 0u;
override PAD: u32 = 0u;
override ROWS: u32 = 1u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Thread (p, oc, n): output position p = (oh, ow) of channel oc of sample n.
@compute @workgroup_size(64)
fn conv2d_forward_flat(@builtin(global_invocation_id) gid: vec3u) {
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
      let row = ((n * IC + ic) * H + oh + kh) * W + ow;
      let taps = ((oc * IC + ic) * K + kh) * K;
      for (var kw = 0u; kw < K; kw++) { sum += x[row + kw] * w[taps + kw]; }
    }
  }
  y[((n * OC + oc) * OH + oh) * OW + ow] = activation(ACT, sum);
}

@group(0) @binding(5) var<storage, read_write> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

// Thread (p, ic, n): input position p = (row, col) of channel ic of sample n, from g with its zero
// border of PAD = K - 1: input (row, col) fed output (row - kh, col - kw), at
// (row + PAD - kh, col + PAD - kw) in g. Reads the weights before they are updated.
@compute @workgroup_size(64)
fn conv2d_backward_input_flat(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let GH = OH + 2u * PAD;
  let GW = OW + 2u * PAD;
  let p = gid.x;
  let ic = gid.y;
  let n = gid.z;
  if (p >= H * W || ic >= IC || n >= B) { return; }
  let row = p / W;
  let col = p % W;
  var sum = 0.0;
  for (var oc = 0u; oc < OC; oc++) {
    for (var kh = 0u; kh < K; kh++) {
      let at = ((n * OC + oc) * GH + row + PAD - kh) * GW + col + PAD;
      let taps = ((oc * IC + ic) * K + kh) * K;
      for (var kw = 0u; kw < K; kw++) { sum += g[at - kw] * w[taps + kw]; }
    }
  }
  dx[((n * IC + ic) * H + row) * W + col] = sum;
}
