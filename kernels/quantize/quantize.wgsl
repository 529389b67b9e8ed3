// Between float32 and int8 (four to a u32, lane 0 lowest), and the per-batch range of a float tensor.
// qparams [scale, 1 / scale, zero point] (float32; the zero point an integer), written once at
// conversion (static quantization) or per batch by int8_range_qparams (dynamic).
//
// Layouts: float activations are NCHW, [B, C, HW] (HW = 1 for a dense layer's features); int8 ones are
// NHWC packed along channels, [B, HW, C4] words with C4 = ceil(C / 4), padding lanes 0, so that a
// convolution's patch and a pool's window take whole words.

override B: u32;
override C: u32;
override HW: u32;
override N: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> qparams: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<u32>;
@group(0) @binding(3) var<storage, read> q_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// q = clamp(round(x * (1 / scale)) + zero point, -128, 127), ties to even, as quantizeValue; one
// invocation per output word (sample n, position p, channels 4 * c4 .. 4 * c4 + 3).
@compute @workgroup_size(64)
fn quantize_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let words = (C + 3u) / 4u;
  let at = folded_index(gid, groups);
  if (at >= B * HW * words) { return; }
  let c4 = at % words;
  let p = (at / words) % HW;
  let n = at / (words * HW);
  let inverse = qparams[1];
  let zero = qparams[2];
  var v = vec4i(0);
  for (var i = 0u; i < 4u; i++) {
    let c = 4u * c4 + i;
    if (c < C) { v[i] = i32(clamp(round(x[(n * C + c) * HW + p] * inverse) + zero, -128.0, 127.0)); }
  }
  q[at] = pack_int8(v);
}

// y = f32(q - zero point) * scale, back to NCHW float; one invocation per output value.
@compute @workgroup_size(64)
fn dequantize_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let at = folded_index(gid, groups);
  if (at >= B * C * HW) { return; }
  let p = at % HW;
  let c = (at / HW) % C;
  let n = at / (HW * C);
  let words = (C + 3u) / 4u;
  let value = int8_lane(q_in[(n * HW + p) * words + c / 4u], c % 4u);
  y[at] = f32(value - i32(qparams[2])) * qparams[0];
}

@group(0) @binding(5) var<storage, read_write> range_qparams: array<f32>;

const RANGE_THREADS = 64u;
var<workgroup> lows: array<f32, RANGE_THREADS>;
var<workgroup> highs: array<f32, RANGE_THREADS>;

// Dynamic quantization: the range of x's first N values (widened to hold 0), and from it the
// asymmetric int8 scale and zero point as PyTorch's MinMaxObserver computes them
// (affineParamsFromRange). One workgroup; each thread strides over x, then a tree halves the threads.
// Minimum and maximum do not depend on the order, so the result is exact.
@compute @workgroup_size(64)
fn int8_range_qparams(@builtin(local_invocation_index) t: u32) {
  var low = 0.0;
  var high = 0.0;
  for (var i = t; i < N; i += RANGE_THREADS) {
    low = min(low, x[i]);
    high = max(high, x[i]);
  }
  lows[t] = low;
  highs[t] = high;
  for (var half = RANGE_THREADS / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (t < half) {
      lows[t] = min(lows[t], lows[t + half]);
      highs[t] = max(highs[t], highs[t + half]);
    }
  }
  if (t == 0u) {
    let scale = max((highs[0] - lows[0]) / 255.0, 1.1920928955078125e-7);
    range_qparams[0] = scale;
    range_qparams[1] = 1.0 / scale;
    range_qparams[2] = clamp(-128.0 - round(lows[0] / scale), -128.0, 127.0);
  }
}

@group(0) @binding(6) var<storage, read> scales: array<f32>;
@group(0) @binding(7) var<storage, read_write> w_float: array<f32>;

// Weight-only quantization: int8 weights [OUT, IN4] words (values of 2 to 8 bits, symmetric) back to
// float32 [OUT, IN] for a float kernel, w = q * scales[o] (per output channel; per tensor: all equal).
// B is OUT, C is IN here. One invocation per weight.
@compute @workgroup_size(64)
fn dequantize_weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let at = folded_index(gid, groups);
  if (at >= B * C) { return; }
  let k = at % C;
  let o = at / C;
  let words = (C + 3u) / 4u;
  w_float[at] = f32(int8_lane(q_in[o * words + k / 4u], k % 4u)) * scales[o];
}
