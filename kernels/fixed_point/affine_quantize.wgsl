// Quantization and dequantization between float32 and integers: q = clamp(round(x / scale) + zero_point,
// QMIN, QMAX) and x = (q - zero_point) * scale, per tensor (CHANNELS = 1) or per channel (the channel of
// element i is (i / INNER) % CHANNELS: for a [OUT, IN] weight, INNER = IN). One kernel pair for every
// format: intB (scale and zero point from a range) and fixed point Qm.n (scale 2^-n, zero point 0).
// Each integer sits in one u32 word (its i32 bits).
//
// The kernels multiply by inverse scales made on the host (WGSL's `/` may be 2.5 ULP off, `*` is
// correctly rounded) and round to nearest, ties to even (WGSL's round), or stochastically
// (ROUNDING = 1: floor(x / scale + u), u in [0, 1) from a hash of the element's index and SEED).
// The result saturates at QMIN and QMAX; NaN becomes the zero point.

override N: u32;
override CHANNELS: u32 = 1u;
override INNER: u32 = 1u;
override QMIN: i32;
override QMAX: i32;
override ROUNDING: u32 = 0u;
override SEED: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<u32>;
@group(0) @binding(2) var<storage, read> inverse_scales: array<f32>;
@group(0) @binding(3) var<storage, read> zero_points: array<u32>;

fn element_index(gid: vec3u, groups: vec3u) -> u32 { return gid.x + gid.y * groups.x * 64u; }

fn channel_of(i: u32) -> u32 { return (i / INNER) % CHANNELS; }

@compute @workgroup_size(64)
fn quantize_affine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = element_index(gid, groups);
  if (i >= N) { return; }
  let channel = channel_of(i);
  let zero_point = i32(zero_points[channel]);
  let scaled = x[i] * inverse_scales[channel];
  var rounded: f32;
  if (ROUNDING == 1u) {
    // 24 random bits: u is exact in float32.
    let u = f32(mix32(i + mix32(SEED)) >> 8u) * (1.0 / 16777216.0);
    rounded = floor(scaled + u);
  } else {
    rounded = round(scaled);
  }
  let shifted = rounded + f32(zero_point);
  // QMAX + 1 is a power of two, exact in float32 even where QMAX is not (2^31 - 1).
  // NaN by its bits: a compiler may assume `v != v` is false.
  var value: i32;
  if ((bitcast<u32>(x[i]) & 0x7fffffffu) > 0x7f800000u) {
    value = zero_point;
  } else if (shifted >= f32(QMAX) + 1.0) {
    value = QMAX;
  } else if (shifted < f32(QMIN)) {
    value = QMIN;
  } else {
    value = i32(shifted);
  }
  q[i] = u32(value);
}

@group(0) @binding(4) var<storage, read> codes: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
@group(0) @binding(6) var<storage, read> scales: array<f32>;

// An i32 to float32 rounded once, to nearest even, whatever the adapter's conversion does with more
// than 24 significant bits: its two 16-bit halves are exact in float32, their sum is rounded once.
fn exact_f32(v: i32) -> f32 {
  return f32(v >> 16u) * 65536.0 + f32(u32(v) & 0xffffu);
}

@compute @workgroup_size(64)
fn dequantize_affine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = element_index(gid, groups);
  if (i >= N) { return; }
  let channel = channel_of(i);
  values[i] = exact_f32(i32(codes[i]) - i32(zero_points[channel])) * scales[channel];
}
