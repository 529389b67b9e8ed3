// Dense layer kernels for layers whose input width IN is a multiple of 4 (all but a few small
// layers of the study's models): the same functions as dense.wgsl, with the same bindings and
// constants, read four floats at a time (array<vec4f>) and multiplied as 4x4 matrices.
// On llvmpipe a load costs far more than arithmetic: here each load feeds 16 multiply-adds,
// where dense.wgsl's 4x4 scalar tiles feed 4. Indices past an edge are clamped to valid memory
// and their results are not stored.
//
// Matrices are column-major: mat4x4f(a, b, c, d) has columns a..d and m[column][row].

override B: u32;
override IN: u32;
override OUT: u32;
override OUT_TOTAL: u32 = OUT;
override O0: u32 = 0u;
override ACT: u32 = 0u;
override ACCUMULATE: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> w: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// One invocation: rows o0 .. o0+15 of samples n0 .. n0+3. With X the 4 samples' next 4 inputs
// (a row per sample) and W_q four weight rows' (a column per row), X * W_q adds
// dot(x_sample, w_row) at [row][sample] of acc_q.
@compute @workgroup_size(16)
fn dense_forward_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.x * 16u;
  let n0 = gid.y * 4u;
  if (o0 >= OUT || n0 >= B) { return; }
  let K4 = IN / 4u;
  let r0 = clamped4(o0, OUT - 1u) * K4;
  let r1 = clamped4(o0 + 4u, OUT - 1u) * K4;
  let r2 = clamped4(o0 + 8u, OUT - 1u) * K4;
  let r3 = clamped4(o0 + 12u, OUT - 1u) * K4;
  let s = clamped4(n0, B - 1u) * K4;
  var acc0 = mat4x4f();
  var acc1 = mat4x4f();
  var acc2 = mat4x4f();
  var acc3 = mat4x4f();
  for (var k = 0u; k < K4; k++) {
    let xk = transpose(mat4x4f(x[s.x + k], x[s.y + k], x[s.z + k], x[s.w + k]));
    acc0 += xk * mat4x4f(w[r0.x + k], w[r0.y + k], w[r0.z + k], w[r0.w + k]);
    acc1 += xk * mat4x4f(w[r1.x + k], w[r1.y + k], w[r1.z + k], w[r1.w + k]);
    acc2 += xk * mat4x4f(w[r2.x + k], w[r2.y + k], w[r2.z + k], w[r2.w + k]);
    acc3 += xk * mat4x4f(w[r3.x + k], w[r3.y + k], w[r3.z + k], w[r3.w + k]);
  }
  store_outputs(o0, n0, acc0);
  store_outputs(o0 + 4u, n0, acc1);
  store_outputs(o0 + 8u, n0, acc2);
  store_outputs(o0 + 12u, n0, acc3);
}

// Rows o0 .. o0+3 of samples n0 .. n0+3: column i of acc is row o0 + i. Written out, not looped:
// llvmpipe keeps a dynamically indexed matrix in memory.
fn store_outputs(o0: u32, n0: u32, acc: mat4x4f) {
  store_output(o0, n0, acc[0]);
  store_output(o0 + 1u, n0, acc[1]);
  store_output(o0 + 2u, n0, acc[2]);
  store_output(o0 + 3u, n0, acc[3]);
}

// Row o of samples n0 .. n0+3, before bias and activation.
fn store_output(o: u32, n0: u32, sums: vec4f) {
  if (o >= OUT) { return; }
  let at = n0 * OUT_TOTAL + O0 + o;
  if (n0 < B) { y[at] = activation(ACT, sums.x + b[o]); }
  if (n0 + 1u < B) { y[at + OUT_TOTAL] = activation(ACT, sums.y + b[o]); }
  if (n0 + 2u < B) { y[at + 2u * OUT_TOTAL] = activation(ACT, sums.z + b[o]); }
  if (n0 + 3u < B) { y[at + 3u * OUT_TOTAL] = activation(ACT, sums.w + b[o]); }
}

// The same for batches of 16 or more: 16 rows x 16 samples per invocation, so each weight loaded
// feeds 16 samples too (dense_forward_vec4 reuses it 4 times).
@compute @workgroup_size(16)
fn dense_forward_vec4_batch16(@builtin(global_invocation_id) gid: vec3u) {
  let o0 = gid.x * 16u;
  let n0 = gid.y * 16u;
  if (o0 >= OUT || n0 >= B) { return; }
  let K4 = IN / 4u;
  let r0 = clamped4(o0, OUT - 1u) * K4;
  let r1 = clamped4(o0 + 4u, OUT - 1u) * K4;
  let r2 = clamped4(o0 + 8u, OUT - 1u) * K4;
  let r3 = clamped4(o0 + 12u, OUT - 1u) * K4;
  let s0 = clamped4(n0, B - 1u) * K4;
  let s1 = clamped4(n0 + 4u, B - 1u) * K4;
  let s2 = clamped4(n0 + 8u, B - 1u) * K4;
  let s3 = clamped4(n0 + 12u, B - 1u) * K4;
  // acc_sr: samples 4s .. 4s+3 of rows 4r .. 4r+3.
  var acc00 = mat4x4f(); var acc01 = mat4x4f(); var acc02 = mat4x4f(); var acc03 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f(); var acc12 = mat4x4f(); var acc13 = mat4x4f();
  var acc20 = mat4x4f(); var acc21 = mat4x4f(); var acc22 = mat4x4f(); var acc23 = mat4x4f();
  var acc30 = mat4x4f(); var acc31 = mat4x4f(); var acc32 = mat4x4f(); var acc33 = mat4x4f();
  for (var k = 0u; k < K4; k++) {
    let w0 = mat4x4f(w[r0.x + k], w[r0.y + k], w[r0.z + k], w[r0.w + k]);
    let w1 = mat4x4f(w[r1.x + k], w[r1.y + k], w[r1.z + k], w[r1.w + k]);
    let w2 = mat4x4f(w[r2.x + k], w[r2.y + k], w[r2.z + k], w[r2.w + k]);
    let w3 = mat4x4f(w[r3.x + k], w[r3.y + k], w[r3.z + k], w[r3.w + k]);
    let x0 = transpose(mat4x4f(x[s0.x + k], x[s0.y + k], x[s0.z + k], x[s0.w + k]));
    let x1 = transpose(mat4x4f(x[s1.x + k], x[s1.y + k], x[s1.z + k], x[s1.w + k]));
    let x2 = transpose(mat4x4f(x[s2.x + k], x[s2.y + k], x[s2.z + k], x[s2.w + k]));
    let x3 = transpose(mat4x4f(x[s3.x + k], x[s3.y + k], x[s3.z + k], x[s3.w + k]));
    acc00 += x0 * w0; acc01 += x0 * w1; acc02 += x0 * w2; acc03 += x0 * w3;
    acc10 += x1 * w0; acc11 += x1 * w1; acc12 += x1 * w2; acc13 += x1 * w3;
    acc20 += x2 * w0; acc21 += x2 * w1; acc22 += x2 * w2; acc23 += x2 * w3;
    acc30 += x3 * w0; acc31 += x3 * w1; acc32 += x3 * w2; acc33 += x3 * w3;
  }
  store_outputs(o0, n0, acc00); store_outputs(o0 + 4u, n0, acc01);
  store_outputs(o0 + 8u, n0, acc02); store_outputs(o0 + 12u, n0, acc03);
  store_outputs(o0, n0 + 4u, acc10); store_outputs(o0 + 4u, n0 + 4u, acc11);
  store_outputs(o0 + 8u, n0 + 4u, acc12); store_outputs(o0 + 12u, n0 + 4u, acc13);
  store_outputs(o0, n0 + 8u, acc20); store_outputs(o0 + 4u, n0 + 8u, acc21);
  store_outputs(o0 + 8u, n0 + 8u, acc22); store_outputs(o0 + 12u, n0 + 8u, acc23);
  store_outputs(o0, n0 + 12u, acc30); store_outputs(o0 + 4u, n0 + 12u, acc31);
  store_outputs(o0 + 8u, n0 + 12u, acc32); store_outputs(o0 + 12u, n0 + 12u, acc33);
}

@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// One invocation: input features k0 .. k0+15 of samples n0 .. n0+3; acc_q[sample][feature] over
// features k0+4q .. k0+4q+3. Each row o adds the outer product of its 4 weights and 4 gradients.
@compute @workgroup_size(16)
fn dense_backward_input_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 16u;
  let n0 = gid.y * 4u;
  if (k0 >= IN || n0 >= B) { return; }
  let K4 = IN / 4u;
  let quads = clamped4(k0 / 4u, K4 - 1u);
  let s = clamped4(n0, B - 1u) * OUT_TOTAL + vec4u(O0);
  var acc0 = mat4x4f();
  var acc1 = mat4x4f();
  var acc2 = mat4x4f();
  var acc3 = mat4x4f();
  for (var o = 0u; o < OUT; o++) {
    let go = vec4f(g[s.x + o], g[s.y + o], g[s.z + o], g[s.w + o]);
    let row = o * K4;
    let w0 = w[row + quads.x];
    let w1 = w[row + quads.y];
    let w2 = w[row + quads.z];
    let w3 = w[row + quads.w];
    acc0 += mat4x4f(w0 * go.x, w0 * go.y, w0 * go.z, w0 * go.w);
    acc1 += mat4x4f(w1 * go.x, w1 * go.y, w1 * go.z, w1 * go.w);
    acc2 += mat4x4f(w2 * go.x, w2 * go.y, w2 * go.z, w2 * go.w);
    acc3 += mat4x4f(w3 * go.x, w3 * go.y, w3 * go.z, w3 * go.w);
  }
  store_input_gradients(k0, n0, acc0);
  store_input_gradients(k0 + 4u, n0, acc1);
  store_input_gradients(k0 + 8u, n0, acc2);
  store_input_gradients(k0 + 12u, n0, acc3);
}

// The same for batches of 16 or more: 16 features x 16 samples per invocation, so each weight loaded
// feeds 16 samples (dense_backward_input_vec4 feeds 4): per row o, 16 loads of g and 16 of w for 256
// multiply-adds. acc_qs[sample][feature]: features k0+4q .. k0+4q+3 of samples n0+4s .. n0+4s+3.
@compute @workgroup_size(16)
fn dense_backward_input_vec4_batch16(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 16u;
  let n0 = gid.y * 16u;
  if (k0 >= IN || n0 >= B) { return; }
  let K4 = IN / 4u;
  let quads = clamped4(k0 / 4u, K4 - 1u);
  let s0 = clamped4(n0, B - 1u) * OUT_TOTAL + vec4u(O0);
  let s1 = clamped4(n0 + 4u, B - 1u) * OUT_TOTAL + vec4u(O0);
  let s2 = clamped4(n0 + 8u, B - 1u) * OUT_TOTAL + vec4u(O0);
  let s3 = clamped4(n0 + 12u, B - 1u) * OUT_TOTAL + vec4u(O0);
  var acc00 = mat4x4f(); var acc01 = mat4x4f(); var acc02 = mat4x4f(); var acc03 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f(); var acc12 = mat4x4f(); var acc13 = mat4x4f();
  var acc20 = mat4x4f(); var acc21 = mat4x4f(); var acc22 = mat4x4f(); var acc23 = mat4x4f();
  var acc30 = mat4x4f(); var acc31 = mat4x4f(); var acc32 = mat4x4f(); var acc33 = mat4x4f();
  for (var o = 0u; o < OUT; o++) {
    let g0 = g4(s0 + vec4u(o));
    let g1 = g4(s1 + vec4u(o));
    let g2 = g4(s2 + vec4u(o));
    let g3 = g4(s3 + vec4u(o));
    let row = o * K4;
    let w0 = w[row + quads.x];
    let w1 = w[row + quads.y];
    let w2 = w[row + quads.z];
    let w3 = w[row + quads.w];
    acc00 += outer(w0, g0); acc01 += outer(w0, g1); acc02 += outer(w0, g2); acc03 += outer(w0, g3);
    acc10 += outer(w1, g0); acc11 += outer(w1, g1); acc12 += outer(w1, g2); acc13 += outer(w1, g3);
    acc20 += outer(w2, g0); acc21 += outer(w2, g1); acc22 += outer(w2, g2); acc23 += outer(w2, g3);
    acc30 += outer(w3, g0); acc31 += outer(w3, g1); acc32 += outer(w3, g2); acc33 += outer(w3, g3);
  }
  store_input_gradients(k0, n0, acc00); store_input_gradients(k0, n0 + 4u, acc01);
  store_input_gradients(k0, n0 + 8u, acc02); store_input_gradients(k0, n0 + 12u, acc03);
  store_input_gradients(k0 + 4u, n0, acc10); store_input_gradients(k0 + 4u, n0 + 4u, acc11);
  store_input_gradients(k0 + 4u, n0 + 8u, acc12); store_input_gradients(k0 + 4u, n0 + 12u, acc13);
  store_input_gradients(k0 + 8u, n0, acc20); store_input_gradients(k0 + 8u, n0 + 4u, acc21);
  store_input_gradients(k0 + 8u, n0 + 8u, acc22); store_input_gradients(k0 + 8u, n0 + 12u, acc23);
  store_input_gradients(k0 + 12u, n0, acc30); store_input_gradients(k0 + 12u, n0 + 4u, acc31);
  store_input_gradients(k0 + 12u, n0 + 8u, acc32); store_input_gradients(k0 + 12u, n0 + 12u, acc33);
}

// Four elements of g, one per lane of `at`.
fn g4(at: vec4u) -> vec4f {
  return vec4f(g[at.x], g[at.y], g[at.z], g[at.w]);
}

// The outer product u v^T: column j is u * v[j]. (Not named b: the reflection would take it for
// the binding b.)
fn outer(u: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(u * v.x, u * v.y, u * v.z, u * v.w);
}

// Features k .. k+3 of samples n0 .. n0+3: column j of acc is sample n0 + j.
fn store_input_gradients(k: u32, n0: u32, acc: mat4x4f) {
  store_input_gradient(k, n0, acc[0]);
  store_input_gradient(k, n0 + 1u, acc[1]);
  store_input_gradient(k, n0 + 2u, acc[2]);
  store_input_gradient(k, n0 + 3u, acc[3]);
}

// Features k .. k+3 of sample n; slices after the first add to what earlier ones wrote.
fn store_input_gradient(k: u32, n: u32, sums: vec4f) {
  if (n >= B) { return; }
  let at = n * IN + k;
  let add = select(vec4f(0.0), vec4f(dx[at], dx[at + 1u], dx[at + 2u], dx[at + 3u]), ACCUMULATE == 1u);
  let value = sums + add;
  if (k < IN) { dx[at] = value.x; }
  if (k + 1u < IN) { dx[at + 1u] = value.y; }
  if (k + 2u < IN) { dx[at + 2u] = value.z; }
  if (k + 3u < IN) { dx[at + 3u] = value.w; }
}

@group(0) @binding(6) var<storage, read_write> w_train: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> b_train: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_w: array<vec4f>;
@group(0) @binding(9) var<storage, read_write> grad_b: array<f32>;
@group(0) @binding(10) var<storage, read> learning_rate: array<f32>;

// One invocation: weights of rows o0 .. o0+3 x features k0 .. k0+15 (acc_q[row] holds features
// k0+4q .. k0+4q+3), or, in the last column of invocations, the biases of the 4 rows. Sums over
// the batch, keeps the gradient in grad_*, and takes the SGD step in place.
@compute @workgroup_size(16)
fn dense_backward_weight_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 16u;
  let o0 = gid.y * 4u;
  if (o0 >= OUT || k0 >= IN + 16u) { return; }
  let K4 = IN / 4u;
  let rows = clamped4(o0, OUT - 1u) + vec4u(O0);
  let lr = learning_rate[0];
  if (k0 >= IN) {
    var sum = vec4f(0.0);
    for (var n = 0u; n < B; n++) {
      let at = n * OUT_TOTAL;
      sum += vec4f(g[at + rows.x], g[at + rows.y], g[at + rows.z], g[at + rows.w]);
    }
    for (var i = 0u; i < 4u; i++) {
      if (o0 + i < OUT) {
        grad_b[o0 + i] = sum[i];
        b_train[o0 + i] -= lr * sum[i];
      }
    }
    return;
  }
  let quads = clamped4(k0 / 4u, K4 - 1u);
  var acc0 = mat4x4f();
  var acc1 = mat4x4f();
  var acc2 = mat4x4f();
  var acc3 = mat4x4f();
  for (var n = 0u; n < B; n++) {
    let at = n * OUT_TOTAL;
    let gn = vec4f(g[at + rows.x], g[at + rows.y], g[at + rows.z], g[at + rows.w]);
    let x0 = x[n * K4 + quads.x];
    let x1 = x[n * K4 + quads.y];
    let x2 = x[n * K4 + quads.z];
    let x3 = x[n * K4 + quads.w];
    acc0 += mat4x4f(x0 * gn.x, x0 * gn.y, x0 * gn.z, x0 * gn.w);
    acc1 += mat4x4f(x1 * gn.x, x1 * gn.y, x1 * gn.z, x1 * gn.w);
    acc2 += mat4x4f(x2 * gn.x, x2 * gn.y, x2 * gn.z, x2 * gn.w);
    acc3 += mat4x4f(x3 * gn.x, x3 * gn.y, x3 * gn.z, x3 * gn.w);
  }
  let quad0 = k0 / 4u;
  update_weights(o0, quad0, acc0, lr);
  update_weights(o0, quad0 + 1u, acc1, lr);
  update_weights(o0, quad0 + 2u, acc2, lr);
  update_weights(o0, quad0 + 3u, acc3, lr);
}

// The same for 16 rows: rows o0 .. o0+15 x features k0 .. k0+15 per invocation (or, in the last
// column of invocations, the biases of the 16 rows), so each input loaded feeds 16 rows
// (dense_backward_weight_vec4 feeds 4): per sample, 16 loads of g and 16 of x for 256 multiply-adds.
// acc_qr[row][feature]: features k0+4q .. k0+4q+3 of rows o0+4r .. o0+4r+3.
@compute @workgroup_size(16)
fn dense_backward_weight_vec4_rows16(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 16u;
  let o0 = gid.y * 16u;
  if (o0 >= OUT || k0 >= IN + 16u) { return; }
  let K4 = IN / 4u;
  let r0 = clamped4(o0, OUT - 1u) + vec4u(O0);
  let r1 = clamped4(o0 + 4u, OUT - 1u) + vec4u(O0);
  let r2 = clamped4(o0 + 8u, OUT - 1u) + vec4u(O0);
  let r3 = clamped4(o0 + 12u, OUT - 1u) + vec4u(O0);
  let lr = learning_rate[0];
  if (k0 >= IN) {
    var sum0 = vec4f(0.0); var sum1 = vec4f(0.0); var sum2 = vec4f(0.0); var sum3 = vec4f(0.0);
    for (var n = 0u; n < B; n++) {
      let at = n * OUT_TOTAL;
      sum0 += g4(r0 + vec4u(at));
      sum1 += g4(r1 + vec4u(at));
      sum2 += g4(r2 + vec4u(at));
      sum3 += g4(r3 + vec4u(at));
    }
    update_biases(o0, sum0, lr);
    update_biases(o0 + 4u, sum1, lr);
    update_biases(o0 + 8u, sum2, lr);
    update_biases(o0 + 12u, sum3, lr);
    return;
  }
  let quads = clamped4(k0 / 4u, K4 - 1u);
  var acc00 = mat4x4f(); var acc01 = mat4x4f(); var acc02 = mat4x4f(); var acc03 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f(); var acc12 = mat4x4f(); var acc13 = mat4x4f();
  var acc20 = mat4x4f(); var acc21 = mat4x4f(); var acc22 = mat4x4f(); var acc23 = mat4x4f();
  var acc30 = mat4x4f(); var acc31 = mat4x4f(); var acc32 = mat4x4f(); var acc33 = mat4x4f();
  for (var n = 0u; n < B; n++) {
    let at = n * OUT_TOTAL;
    let g0 = g4(r0 + vec4u(at));
    let g1 = g4(r1 + vec4u(at));
    let g2 = g4(r2 + vec4u(at));
    let g3 = g4(r3 + vec4u(at));
    let x0 = x[n * K4 + quads.x];
    let x1 = x[n * K4 + quads.y];
    let x2 = x[n * K4 + quads.z];
    let x3 = x[n * K4 + quads.w];
    acc00 += outer(x0, g0); acc01 += outer(x0, g1); acc02 += outer(x0, g2); acc03 += outer(x0, g3);
    acc10 += outer(x1, g0); acc11 += outer(x1, g1); acc12 += outer(x1, g2); acc13 += outer(x1, g3);
    acc20 += outer(x2, g0); acc21 += outer(x2, g1); acc22 += outer(x2, g2); acc23 += outer(x2, g3);
    acc30 += outer(x3, g0); acc31 += outer(x3, g1); acc32 += outer(x3, g2); acc33 += outer(x3, g3);
  }
  let quad0 = k0 / 4u;
  update_weights(o0, quad0, acc00, lr); update_weights(o0 + 4u, quad0, acc01, lr);
  update_weights(o0 + 8u, quad0, acc02, lr); update_weights(o0 + 12u, quad0, acc03, lr);
  update_weights(o0, quad0 + 1u, acc10, lr); update_weights(o0 + 4u, quad0 + 1u, acc11, lr);
  update_weights(o0 + 8u, quad0 + 1u, acc12, lr); update_weights(o0 + 12u, quad0 + 1u, acc13, lr);
  update_weights(o0, quad0 + 2u, acc20, lr); update_weights(o0 + 4u, quad0 + 2u, acc21, lr);
  update_weights(o0 + 8u, quad0 + 2u, acc22, lr); update_weights(o0 + 12u, quad0 + 2u, acc23, lr);
  update_weights(o0, quad0 + 3u, acc30, lr); update_weights(o0 + 4u, quad0 + 3u, acc31, lr);
  update_weights(o0 + 8u, quad0 + 3u, acc32, lr); update_weights(o0 + 12u, quad0 + 3u, acc33, lr);
}

// The biases of rows o0 .. o0+3 (those below OUT), from their gradients summed over the batch.
fn update_biases(o0: u32, sums: vec4f, lr: f32) {
  if (o0 < OUT) { grad_b[o0] = sums.x; b_train[o0] -= lr * sums.x; }
  if (o0 + 1u < OUT) { grad_b[o0 + 1u] = sums.y; b_train[o0 + 1u] -= lr * sums.y; }
  if (o0 + 2u < OUT) { grad_b[o0 + 2u] = sums.z; b_train[o0 + 2u] -= lr * sums.z; }
  if (o0 + 3u < OUT) { grad_b[o0 + 3u] = sums.w; b_train[o0 + 3u] -= lr * sums.w; }
}

// Four weights (one quad of inputs) of each of rows o0 .. o0+3: column i of acc is row o0 + i.
// Written out, not looped: llvmpipe keeps a dynamically indexed matrix in memory.
fn update_weights(o0: u32, quad: u32, acc: mat4x4f, lr: f32) {
  let K4 = IN / 4u;
  if (quad >= K4) { return; }
  if (o0 < OUT) { grad_w[o0 * K4 + quad] = acc[0]; w_train[o0 * K4 + quad] -= lr * acc[0]; }
  if (o0 + 1u < OUT) { grad_w[(o0 + 1u) * K4 + quad] = acc[1]; w_train[(o0 + 1u) * K4 + quad] -= lr * acc[1]; }
  if (o0 + 2u < OUT) { grad_w[(o0 + 2u) * K4 + quad] = acc[2]; w_train[(o0 + 2u) * K4 + quad] -= lr * acc[2]; }
  if (o0 + 3u < OUT) { grad_w[(o0 + 3u) * K4 + quad] = acc[3]; w_train[(o0 + 3u) * K4 + quad] -= lr * acc[3]; }
}
