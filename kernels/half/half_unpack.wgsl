// half.wgsl's kernels for devices without shader-f16: the same bindings, packing and float32
// sum, the halves read with unpack2x16float and the result rounded and written with pack2x16float.

override B: u32;
override IN: u32;
override OUT: u32;
override IC: u32;
override OC: u32;
override H: u32;
override W: u32;
override K: u32;
override ACT: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

fn x_at(e: u32) -> f32 { return unpack2x16float(x[e >> 1u])[e & 1u]; }
fn w_at(e: u32) -> f32 { return unpack2x16float(w[e >> 1u])[e & 1u]; }
fn b_at(e: u32) -> f32 { return unpack2x16float(b[e >> 1u])[e & 1u]; }

fn half_output(e: u32) -> f32 {
  let n = e / OUT;
  let o = e % OUT;
  var acc = 0.0;
  for (var k = 0u; k < IN; k++) {
    acc += x_at(n * IN + k) * w_at(o * IN + k);
  }
  return activation(ACT, acc + b_at(o));
}

@compute @workgroup_size(64)
fn half_dense_forward_unpack(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let e = 2u * i;
  if (e >= B * OUT) { return; }
  var second = 0.0;
  if (e + 1u < B * OUT) { second = half_output(e + 1u); }
  y[i] = pack2x16float(vec2f(half_output(e), second));
}

// half.wgsl's convolution forward, unpacking.
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

@compute @workgroup_size(64)
fn half_conv2d_forward_unpack(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let e = 2u * i;
  let total = B * OC * (H - K + 1u) * (W - K + 1u);
  if (e >= total) { return; }
  var second = 0.0;
  if (e + 1u < total) { second = conv_output(e + 1u); }
  y[i] = pack2x16float(vec2f(conv_output(e), second));
}
