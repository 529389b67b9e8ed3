// Layers between the integer GEMMs, on int8 activations NHWC packed along channels ([B, H, W, C4]
// words, C4 = ceil(C / 4), lane 0 lowest, padding lanes 0). Each invocation writes one whole word:
// WGSL cannot store a byte.

override B: u32;
override H: u32;
override W: u32;
override C: u32;
override K: u32 = 1u;
override N: u32 = 1u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> patches: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<u32>;

// A K x K convolution's input patches, stride 1, no padding (nn.Conv2d's default), as the rows of a
// GEMM: patches [B * OH * OW, ceil(K * K * C / 4)] words, patch element e = (kh * K + kw) * C + c
// (the weights are laid out [OC, K, K, C] to match). One invocation per patch word.
@compute @workgroup_size(64)
fn im2col_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let OH = H - K + 1u;
  let OW = W - K + 1u;
  let length = K * K * C;
  let words = (length + 3u) / 4u;
  let at = folded_index(gid, groups);
  if (at >= B * OH * OW * words) { return; }
  let word = at % words;
  let row = at / words;
  let n = row / (OH * OW);
  let oh = (row / OW) % OH;
  let ow = row % OW;
  let c4 = (C + 3u) / 4u;
  var v = vec4i(0);
  for (var i = 0u; i < 4u; i++) {
    let e = 4u * word + i;
    if (e < length) {
      let c = e % C;
      let kw = (e / C) % K;
      let kh = e / (C * K);
      v[i] = int8_lane(x[((n * H + oh + kh) * W + ow + kw) * c4 + c / 4u], c % 4u);
    }
  }
  patches[at] = pack_int8(v);
}

// 2x2 max pooling with stride 2 (an odd last row or column dropped), lane by lane: one scale and
// zero point in and out, so the largest integer is the largest value. One invocation per output word.
@compute @workgroup_size(64)
fn maxpool2d_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c4 = (C + 3u) / 4u;
  let OH = H / 2u;
  let OW = W / 2u;
  let at = folded_index(gid, groups);
  if (at >= B * OH * OW * c4) { return; }
  let word = at % c4;
  let p = (at / c4) % (OH * OW);
  let n = at / (c4 * OH * OW);
  let oh = p / OW;
  let ow = p % OW;
  let top = ((n * H + 2u * oh) * W + 2u * ow) * c4 + word;
  let window = vec4u(x[top], x[top + c4], x[top + W * c4], x[top + (W + 1u) * c4]);
  var v = vec4i(0);
  for (var i = 0u; i < 4u; i++) {
    v[i] = max(max(int8_lane(window.x, i), int8_lane(window.y, i)), max(int8_lane(window.z, i), int8_lane(window.w, i)));
  }
  y[at] = pack_int8(v);
}

// An int8 -> int8 function by its 256-entry table, table[q + 128] = the output for input q (e.g.
// tanh, computed once in float64 at conversion). N words; padding lanes stay 0 (table[128] need not be).
// C is the channel count whose padding lanes to keep at 0 (the words are rows of ceil(C / 4)).
@compute @workgroup_size(64)
fn lookup_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = folded_index(gid, groups);
  if (i >= N) { return; }
  let c4 = (C + 3u) / 4u;
  let word = x[i];
  var v = vec4i(0);
  for (var lane = 0u; lane < 4u; lane++) {
    if ((i % c4) * 4u + lane < C) { v[lane] = bitcast<i32>(table[int8_lane(word, lane) + 128]); }
  }
  y[i] = pack_int8(v);
}
