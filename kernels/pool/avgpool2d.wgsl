// 2x2 average pooling with stride 2 as PyTorch's avg_pool2d(kernel 2, stride 2) (nn.AvgPool2d(2),
// LeNet-5's original subsampling without its trainable scale): NCHW, x [B, C, H, W],
// y [B, C, OH, OW] with OH = H / 2, OW = W / 2 rounded down (an odd last row or column belongs to
// no window). A window's four values are summed in row-major order, then divided by 4, as PyTorch
// sums them.

override B: u32;
override C: u32;
override H: u32;
override W: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// One invocation: output position p = (oh, ow) of channel ch of sample n.
@compute @workgroup_size(64)
fn avgpool2d_forward(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H / 2u;
  let OW = W / 2u;
  let p = gid.x;
  let ch = gid.y;
  let n = gid.z;
  if (p >= OH * OW || ch >= C || n >= B) { return; }
  let oh = p / OW;
  let ow = p % OW;
  let base = ((n * C + ch) * H + 2u * oh) * W + 2u * ow;
  let sum = ((x[base] + x[base + 1u]) + x[base + W]) + x[base + W + 1u];
  y[((n * C + ch) * OH + oh) * OW + ow] = sum / 4.0;
}

// One invocation: input position p = (row, col) of channel ch of sample n. It takes a quarter of
// its window's gradient, or 0 in a row or column that belongs to no window.
@compute @workgroup_size(64)
fn avgpool2d_backward(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H / 2u;
  let OW = W / 2u;
  let p = gid.x;
  let ch = gid.y;
  let n = gid.z;
  if (p >= H * W || ch >= C || n >= B) { return; }
  let row = p / W;
  let col = p % W;
  let oh = row / 2u;
  let ow = col / 2u;
  var gradient = 0.0;
  if (oh < OH && ow < OW) {
    gradient = dy[((n * C + ch) * OH + oh) * OW + ow] / 4.0;
  }
  dx[((n * C + ch) * H + row) * W + col] = gradient;
}
