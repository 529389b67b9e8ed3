// Fake quantization as PyTorch's FakeQuantize: an observer tracks the range of what it sees and
// turns it into a scale and zero point (torch.ao.quantization's _calculate_qparams); the forward
// quantises and dequantises, y = (clamp(round(x * (1 / scale)) + zero_point, QMIN, QMAX) - zero_point)
// * scale (torch.fake_quantize_per_tensor_affine / _per_channel_affine, same operations in float32);
// the backward is the straight-through estimator, dx = dy where round(x / scale) + zero_point fell
// inside [QMIN, QMAX] and 0 where it was clipped (PyTorch's cachemask).
//
// x is viewed as [N / (CHANNELS * INNER), CHANNELS, INNER]: one scale and zero point per channel
// (CHANNELS = 1: per tensor; a weight [OC, ...]: CHANNELS = OC, INNER = the rest; an activation
// [B, C, H, W] per channel: CHANNELS = C, INNER = H * W).
//
// observer: 4 floats per channel, [min, max, scale, zero_point]; min > max means nothing observed
// yet (the host writes [1, -1, 1, 0], PyTorch's initial scale 1 and zero point 0).

override N: u32;
override CHANNELS: u32 = 1u;
override INNER: u32 = 1u;
override QMIN: i32;
override QMAX: i32;
// 1: symmetric (zero point 0 for signed formats, the middle for unsigned); 0: affine.
override SYMMETRIC: u32 = 0u;
// 0: moving average of each batch's min and max (MovingAverageMinMaxObserver); 1: running min-max (MinMaxObserver).
override OBSERVER: u32 = 0u;
override AVERAGING: f32 = 0.01;

// float32's epsilon: PyTorch's observers never let a scale fall below it (engine/quantization.ts SCALE_EPSILON).
const EPSILON: f32 = 1.1920928955078125e-7;
const LANES = 64u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> observer: array<f32>;
// [1]: 1 while training (observers update), 0 when evaluating (the last scale stays).
@group(0) @binding(2) var<storage, read> observing: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// 1 where the value fell inside the clipping range: the backward's straight-through mask.
@group(0) @binding(4) var<storage, read_write> mask: array<u32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> w_train: array<f32>;
@group(0) @binding(8) var<storage, read> grad_w: array<f32>;
@group(0) @binding(9) var<storage, read> learning_rate: array<f32>;

var<workgroup> lane_min: array<f32, 64>;
var<workgroup> lane_max: array<f32, 64>;

fn index_of(gid: vec3u, groups: vec3u) -> u32 { return gid.x + gid.y * groups.x * 64u; }

// Workgroup c observes channel c: lane l takes the channel's elements l, l + 64, ... (min and max
// are exact in any order), the lanes meet in a tree, and lane 0 updates the observer.
@compute @workgroup_size(64)
fn fake_quant_observe(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
  let c = group.x;
  let per_channel = N / CHANNELS;
  var lo = x[c * INNER];
  var hi = lo;
  for (var t = lane; t < per_channel; t += LANES) {
    let v = x[(t / INNER) * CHANNELS * INNER + c * INNER + t % INNER];
    lo = min(lo, v);
    hi = max(hi, v);
  }
  lane_min[lane] = lo;
  lane_max[lane] = hi;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      lane_min[lane] = min(lane_min[lane], lane_min[lane + stride]);
      lane_max[lane] = max(lane_max[lane], lane_max[lane + stride]);
    }
    workgroupBarrier();
  }
  if (lane != 0u || observing[0] == 0.0) { return; }
  let at = c * 4u;
  var low = lane_min[0];
  var high = lane_max[0];
  let seen_low = observer[at];
  let seen_high = observer[at + 1u];
  if (seen_low <= seen_high) {
    if (OBSERVER == 0u) {
      low = seen_low + AVERAGING * (low - seen_low);
      high = seen_high + AVERAGING * (high - seen_high);
    } else {
      low = min(seen_low, low);
      high = max(seen_high, high);
    }
  }
  observer[at] = low;
  observer[at + 1u] = high;
  // The range always holds 0, so that zero is exact.
  let neg = min(low, 0.0);
  let pos = max(high, 0.0);
  let steps = f32(QMAX - QMIN);
  if (SYMMETRIC == 1u) {
    observer[at + 2u] = max(max(-neg, pos) / (steps / 2.0), EPSILON);
    observer[at + 3u] = select(f32((QMIN + QMAX + 1) / 2), 0.0, QMIN < 0);
  } else {
    let scale = max((pos - neg) / steps, EPSILON);
    observer[at + 2u] = scale;
    observer[at + 3u] = clamp(f32(QMIN) - round(neg / scale), f32(QMIN), f32(QMAX));
  }
}

// One invocation per element: y = x quantised and dequantised with its channel's scale and zero point.
@compute @workgroup_size(64)
fn fake_quant_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  let at = ((i / INNER) % CHANNELS) * 4u;
  let scale = observer[at + 2u];
  let zero_point = observer[at + 3u];
  // PyTorch multiplies by 1 / scale too; WGSL rounds `*` correctly, and round() is to nearest even.
  let q = round(x[i] * (1.0 / scale)) + zero_point;
  mask[i] = select(0u, 1u, q >= f32(QMIN) && q <= f32(QMAX));
  y[i] = (clamp(q, f32(QMIN), f32(QMAX)) - zero_point) * scale;
}

// The straight-through estimator: the gradient passes where the forward did not clip. dy times the
// mask, as PyTorch computes it (a negative dy that is stopped gives -0).
@compute @workgroup_size(64)
fn fake_quant_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  dx[i] = dy[i] * f32(mask[i]);
}

// A fake-quantised weight's SGD step on its float weights: the layer's fused step computed the
// gradient with respect to the fake-quantised copy (grad_w); through the straight-through
// estimator it is the float weight's gradient where the weight was not clipped, 0 where it was.
@compute @workgroup_size(64)
fn fake_quant_sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  if (mask[i] == 1u) { w_train[i] -= learning_rate[0] * grad_w[i]; }
}

// y = x: the float weights start as the layer's initial weights.
@compute @workgroup_size(64)
fn fake_quant_copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  y[i] = x[i];
}
