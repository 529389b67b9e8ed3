// half_dense.wgsl's forward for devices without shader-f16: the same bindings, packing and float32
// sum, the halves read with unpack2x16float and the result rounded and written with pack2x16float.

override B: u32;
override IN: u32;
override OUT: u32;
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
