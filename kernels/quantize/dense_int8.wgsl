// Integer dense layer, y = x W^T + bias with int32 accumulation, four int8 to a u32 (lane 0 lowest):
// x [B, IN4] words (activations, signed int8 with a zero point), w [OUT, IN4] words (signed,
// symmetric; the padding lanes of a row's last word hold 0, so x's padding lanes never count).
// This file unpacks with shifts; dense_int8_dot4.wgsl is the same kernels with dot4I8Packed, for
// adapters with the packed_4x8_integer_dot_product language feature. The convolution is this GEMM
// over im2col_int8's patches.
//
// dense_int8: the next layer's int8. bias [OUT] is int32 at scale x_scale * w_scale[o] with the input
// zero point folded in (bias - x_zp * sum_k w[o, k]); requant [2 * OUT] is each row's fixed-point
// multiplier and shift; y [B, OUT4] gets requantize_word's bytes (ReLU fused when RELU = 1).
// dense_int8_float: float out, for dynamic quantization: the input's scale and zero point come from
// x_qparams [scale, 1 / scale, zero point] (written per batch by int8_range_qparams), w_sums [OUT] is
// each row's sum of weights (an i32's bits), y_float = act(f32(acc - x_zp * w_sums) * x_scale * w_scale + b).
//
// One invocation: one output word (rows o0 .. o0+3) of samples n0 .. n0+3; edge indices clamped.

override B: u32;
override IN4: u32;
override OUT: u32;
override Y_ZP: i32 = 0;
override RELU: u32 = 0u;
override ACT: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> bias: array<u32>;
@group(0) @binding(3) var<storage, read> requant: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;
@group(0) @binding(5) var<storage, read> x_qparams: array<f32>;
@group(0) @binding(6) var<storage, read> w_scale: array<f32>;
@group(0) @binding(7) var<storage, read> w_sums: array<u32>;
@group(0) @binding(8) var<storage, read> b: array<f32>;
@group(0) @binding(9) var<storage, read_write> y_float: array<f32>;

// acc[j][i]: sample n0 + j, row o0 + i.
fn dense_int8_tile(o0: u32, n0: u32) -> array<vec4i, 4> {
  let rows = clamped4(o0, OUT - 1u) * IN4;
  let samples = clamped4(n0, B - 1u) * IN4;
  var acc: array<vec4i, 4>;
  for (var k = 0u; k < IN4; k++) {
    let wk = vec4u(w[rows.x + k], w[rows.y + k], w[rows.z + k], w[rows.w + k]);
    for (var j = 0u; j < 4u; j++) {
      let xj = x[samples[j] + k];
      acc[j] += vec4i(dot4_int8_shifts(xj, wk.x), dot4_int8_shifts(xj, wk.y), dot4_int8_shifts(xj, wk.z),
        dot4_int8_shifts(xj, wk.w));
    }
  }
  return acc;
}

@compute @workgroup_size(64)
fn dense_int8(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.x * 4u;
  let n0 = gid.y * 4u;
  if (o0 >= OUT || n0 >= B) { return; }
  let acc = dense_int8_tile(o0, n0);
  let r = clamped4(o0, OUT - 1u);
  let bias4 = bitcast<vec4i>(vec4u(bias[r.x], bias[r.y], bias[r.z], bias[r.w]));
  let multiplier = vec4u(requant[2u * r.x], requant[2u * r.y], requant[2u * r.z], requant[2u * r.w]);
  let shift = vec4u(requant[2u * r.x + 1u], requant[2u * r.y + 1u], requant[2u * r.z + 1u], requant[2u * r.w + 1u]);
  let low = select(-128, Y_ZP, RELU == 1u);
  let out4 = (OUT + 3u) / 4u;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < B) {
      y[(n0 + j) * out4 + gid.x] = requantize_word(acc[j] + bias4, multiplier, shift, o0, OUT, Y_ZP, low);
    }
  }
}

@compute @workgroup_size(64)
fn dense_int8_float(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.x * 4u;
  let n0 = gid.y * 4u;
  if (o0 >= OUT || n0 >= B) { return; }
  let acc = dense_int8_tile(o0, n0);
  let x_scale = x_qparams[0];
  let x_zp = i32(x_qparams[2]);
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) {
      let o = o0 + i;
      if (n0 + j < B && o < OUT) {
        let exact = acc[j][i] - x_zp * bitcast<i32>(w_sums[o]);
        y_float[(n0 + j) * OUT + o] = activation(ACT, f32(exact) * (x_scale * w_scale[o]) + b[o]);
      }
    }
  }
}
