// Element-wise activations, forward and backward. Dense and convolution layers fuse these
// (their ACT constant); these stand-alone kernels serve an activation that follows anything else.
// The backward kernels take the activation's output y, as PyTorch's do.

override N: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> y_saved: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

fn index_of(gid: vec3u, groups: vec3u) -> u32 { return gid.x + gid.y * groups.x * 64u; }

@compute @workgroup_size(64)
fn relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  y[i] = max(x[i], 0.0);
}

@compute @workgroup_size(64)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  dx[i] = select(0.0, dy[i], y_saved[i] > 0.0);
}

@compute @workgroup_size(64)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  y[i] = tanh_accurate(x[i]);
}

@compute @workgroup_size(64)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  let t = y_saved[i];
  dx[i] = dy[i] * (1.0 - t * t);
}

override ACT: u32 = 0u;
@group(0) @binding(5) var<storage, read_write> g: array<f32>;

// In place, dy becomes g = dy * act'(y): the gradient before a fused activation, computed once
// for both backward kernels of the layer that fused it. ACT: 1 ReLU, 2 tanh.
@compute @workgroup_size(64)
fn activation_gradient(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  g[i] = g[i] * activation_slope(ACT, y_saved[i]);
}
