// Shared by every shader: the loader puts this file in front of each one (WGSL has no include).

// tanh to within a few float32 ulp (at most 4e-7 relative), whatever the driver's tanh:
// llvmpipe's is 1% off near 0. A branch-free rational approximation, x P(x^2) / Q(x^2) on
// |x| <= 7.9 (beyond it tanh is +-1 in float32), with the coefficients Eigen uses for float.
fn tanh_accurate(v: f32) -> f32 {
  let t = clamp(v, -7.9053111, 7.9053111);
  let z = t * t;
  let p = t * (4.8935246e-3 + z * (6.3726193e-4 + z * (1.4857224e-5 + z * (5.1222971e-8 +
    z * (-8.6046715e-11 + z * (2.0001879e-13 + z * -2.7607685e-16))))));
  let q = 4.8935252e-3 + z * (2.2684346e-3 + z * (1.1853471e-4 + z * 1.1982584e-6));
  return p / q;
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

// Chris Wellons' lowbias32: a counter-based hash for stochastic rounding, the same bits on every
// adapter and in its twin (kernels/fixed_point/int64.ts mix32).
fn mix32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}
