// Pruning masks kept through retraining. The fused SGD steps (dense_backward_weight*,
// conv2d_backward_weight) update every weight in place, pruned ones too; this kernel runs right
// after them and puts the pruned weights back to exactly zero. For plain SGD (no momentum, no
// weight decay) that is PyTorch's torch.nn.utils.prune: a pruned weight is zero in every forward
// and backward, and the kept weights see the same updates.

override N: u32;

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
// One bit per weight, 32 to a word: bit i % 32 of word i / 32 is 1 where weight i is kept.
@group(0) @binding(1) var<storage, read> mask: array<u32>;

fn index_of(gid: vec3u, groups: vec3u) -> u32 { return gid.x + gid.y * groups.x * 64u; }

@compute @workgroup_size(64)
fn prune_apply_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = index_of(gid, groups);
  if (i >= N) { return; }
  let kept = (mask[i / 32u] >> (i % 32u)) & 1u;
  // select, not w * mask: a negative weight times 0 is -0, and a pruned weight is +0 exactly.
  w[i] = select(0.0, w[i], kept == 1u);
}
