enable f16;

// Dense and convolution forward in half precision. Dense: y = act(x W^T + b) with x [B, IN],
// W [OUT, IN] (PyTorch's layout), b [OUT] and y [B, OUT] all float16, packed two to a u32 word in flat order (element e in
// the low half of word e / 2 when e is even, the high half when odd; a last odd element's word is
// padded with zero). Compiled only where the device has shader-f16; half_unpack.wgsl computes the
// same without it.
//
// Products of two halves are exact in float32 (11 + 11 significant bits), so the sum runs in float32
// and is rounded to f16 once, after the bias and the activation: what a GPU's half GEMM with float32
// accumulation gives, and an answer that does not depend on the order of the sum's terms as much.
// ACT: 0 identity, 1 ReLU, 2 tanh (common.wgsl).

override B: u32;
override IN: u32;
override OUT: u32;
override IC: u32;
override OC: u32;
override H: u32;
override W: u32;
override K: u32;
override ACT: u32 = 0u;

// The tensors hold u32 words; here each word is read as the pair of halves it packs (vec2h: the
// spelling scripts/shaders.ts maps to a u32 tensor).
@group(0) @binding(0) var<storage, read> x: array<vec2h>;
@group(0) @binding(1) var<storage, read> w: array<vec2h>;
@group(0) @binding(2) var<storage, read> b: array<vec2h>;
@group(0) @binding(3) var<storage, read_write> y: array<vec2h>;

fn x_at(e: u32) -> f32 { return f32(x[e >> 1u][e & 1u]); }
fn w_at(e: u32) -> f32 { return f32(w[e >> 1u][e & 1u]); }
fn b_at(e: u32) -> f32 { return f32(b[e >> 1u][e & 1u]); }

// Output element e (sample e / OUT, row e % OUT), in float32 before the rounding to f16.
fn half_output(e: u32) -> f32 {
  let n = e / OUT;
  let o = e % OUT;
  var acc = 0.0;
  for (var k = 0u; k < IN; k++) {
    acc += x_at(n * IN + k) * w_at(o * IN + k);
  }
  return activation(ACT, acc + b_at(o));
}

// One invocation: output word i, elements 2i and 2i + 1 of y.
@compute @workgroup_size(64)
fn half_dense_forward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let e = 2u * i;
  if (e >= B * OUT) { return; }
  var second = 0.0h;
  if (e + 1u < B * OUT) { second = f16(half_output(e + 1u)); }
  y[i] = vec2h(f16(half_output(e)), second);
}

// 2-D convolution forward in half precision, as conv2d.wgsl's (nn.Conv2d: stride 1, no padding, NCHW):
// x [B, IC, H, W], w [OC, IC, K, K], b [OC], y [B, OC, H - K + 1, W - K + 1], all packed halves as above,
// the sum in float32, one rounding to f16.
fn conv_output(e: u32) -> f32 {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let ow = e % OW;
  let oh = (e / OW) % OH;
  let oc = (e / (OW * OH)) % OC;
  let n = e / (OW * OH * OC);
  var acc = 0.0;
  for (var ic = 0u; ic < IC; ic++) {
    for (var kh = 0u; kh < K; kh++) {
      for (var kw = 0u; kw < K; kw++) {
        acc += x_at(((n * IC + ic) * H + oh + kh) * W + ow + kw) * w_at(((oc * IC + ic) * K + kh) * K + kw);
      }
    }
  }
  return activation(ACT, acc + b_at(oc));
}

// One invocation: output word i of y, elements 2i and 2i + 1.
@compute @workgroup_size(64)
fn half_conv2d_forward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let e = 2u * i;
  let total = B * OC * (H - K + 1u) * (W - K + 1u);
  if (e >= total) { return; }
  var second = 0.0h;
  if (e + 1u < total) { second = f16(conv_output(e + 1u)); }
  y[i] = vec2h(f16(conv_output(e)), second);
}
