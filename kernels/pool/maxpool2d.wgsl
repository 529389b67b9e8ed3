// 2x2 max pooling with stride 2 as PyTorch's max_pool2d(kernel 2, stride 2): NCHW,
// x [B, C, H, W], y [B, C, OH, OW] with OH = H / 2, OW = W / 2 rounded down (an odd last row or
// column belongs to no window). A window's maximum is its first largest element in row-major
// order, as PyTorch picks among ties.

override B: u32;
override C: u32;
override H: u32;
override W: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Offset (0 .. 3, row-major) of the first maximum of the window whose top-left element is at base.
fn window_argmax(base: u32) -> u32 {
  var best = 0u;
  var top = x[base];
  for (var i = 1u; i < 4u; i++) {
    let v = x[base + (i / 2u) * W + i % 2u];
    if (v > top) {
      top = v;
      best = i;
    }
  }
  return best;
}

// One invocation: output position p = (oh, ow) of channel ch of sample n.
@compute @workgroup_size(64)
fn maxpool2d_forward(@builtin(global_invocation_id) gid: vec3u) {
  let OH = H / 2u;
  let OW = W / 2u;
  let p = gid.x;
  let ch = gid.y;
  let n = gid.z;
  if (p >= OH * OW || ch >= C || n >= B) { return; }
  let oh = p / OW;
  let ow = p % OW;
  let base = ((n * C + ch) * H + 2u * oh) * W + 2u * ow;
  let i = window_argmax(base);
  y[((n * C + ch) * OH + oh) * OW + ow] = x[base + (i / 2u) * W + i % 2u];
}

// One invocation: input position p = (row, col) of channel ch of sample n. It takes its window's
// gradient if it is that window's maximum, else 0 (gather form: no atomics, every dx written).
@compute @workgroup_size(64)
fn maxpool2d_backward(@builtin(global_invocation_id) gid: vec3u) {
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
    let base = ((n * C + ch) * H + 2u * oh) * W + 2u * ow;
    if (window_argmax(base) == (row % 2u) * 2u + col % 2u) {
      gradient = dy[((n * C + ch) * OH + oh) * OW + ow];
    }
  }
  dx[((n * C + ch) * H + row) * W + col] = gradient;
}
