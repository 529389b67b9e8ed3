// Shared by every shader: the loader puts this file in front of each one (WGSL has no include).

// tanh to float32 accuracy (within ~2 ulp), whatever the driver's tanh: llvmpipe's is off by 1%
// relative near 0. An odd Taylor polynomial where 1 - 2 / (exp(2x) + 1) would lose bits to
// cancellation, that formula elsewhere; clamped because some drivers' exp overflows to NaN.
fn tanh_accurate(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.55) {
    let z = v * v;
    // 1, -1/3, 2/15, -17/315, 62/2835, -1382/155925, 21844/6081075, -929569/638512875, 6404582/10854718875
    return v * (1.0 + z * (-0.33333334 + z * (0.13333334 + z * (-0.053968254 + z * (0.021869488 +
      z * (-0.008863235 + z * (0.003592128 + z * (-0.0014558344 + z * 0.00059002744))))))));
  }
  let t = 1.0 - 2.0 / (exp(2.0 * min(a, 20.0)) + 1.0);
  return select(t, -t, v < 0.0);
}

// The activations that layers fuse. act: 0 identity, 1 ReLU, 2 tanh (an override constant at
// each call, so the choice is folded away when the pipeline is built).
fn activation(act: u32, pre: f32) -> f32 {
  if (act == 1u) { return max(pre, 0.0); }
  if (act == 2u) { return tanh_accurate(pre); }
  return pre;
}

// d act / d pre, in terms of the activation's output. (Parameter names here avoid the shaders'
// binding names: wgsl_reflect would take a parameter for the binding of the same name.)
fn activation_slope(act: u32, post: f32) -> f32 {
  if (act == 1u) { return select(0.0, 1.0, post > 0.0); }
  if (act == 2u) { return 1.0 - post * post; }
  return 1.0;
}

// Four consecutive indices from `first`, each clamped to `last`: tiles read valid memory past an
// edge and do not store what they computed there.
fn clamped4(first: u32, last: u32) -> vec4u {
  return min(vec4u(first, first + 1u, first + 2u, first + 3u), vec4u(last));
}
