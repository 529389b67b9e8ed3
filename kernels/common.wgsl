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

// ---------- int8 helpers (kernels/quantize): four int8 to a u32, lane 0 in the lowest byte ----------

// Lane `lane` (0 .. 3) of a word of four int8, sign-extended by an arithmetic shift.
fn int8_lane(word: u32, lane: u32) -> i32 {
  return bitcast<i32>(word << (24u - 8u * lane)) >> 24u;
}

// Four values in [-128, 127] packed into one word, lane 0 lowest.
fn pack_int8(v: vec4i) -> u32 {
  let b = bitcast<vec4u>(v) & vec4u(0xffu);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// The sum of the four lane products, by unpacking with shifts: dot4I8Packed without the language feature.
// (Parameter names here avoid the shaders' binding names, as above.)
fn dot4_int8_shifts(lhs: u32, rhs: u32) -> i32 {
  return int8_lane(lhs, 0u) * int8_lane(rhs, 0u) + int8_lane(lhs, 1u) * int8_lane(rhs, 1u) +
    int8_lane(lhs, 2u) * int8_lane(rhs, 2u) + int8_lane(lhs, 3u) * int8_lane(rhs, 3u);
}

// gemmlowp's SaturatingRoundingDoublingHighMul(a, m) for a multiplier m in [2^30, 2^31): a * m / 2^31
// rounded to nearest, ties away from zero. WGSL has no i64: |a| * m is formed from 16-bit halves as a
// 64-bit (hi, lo) pair of u32. (m < 2^31 rules out gemmlowp's one saturating case, a = m = -2^31.)
fn rounding_high_mul(value: i32, multiplier: u32) -> i32 {
  let a = value;
  let ua = bitcast<u32>(a);
  let magnitude = select(ua, 0u - ua, a < 0);
  let a0 = magnitude & 0xffffu;
  let a1 = magnitude >> 16u;
  let b0 = multiplier & 0xffffu;
  let b1 = multiplier >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (p00 & 0xffffu) | (mid << 16u);
  let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  // The nudge: 2^30 rounds half away from zero once the sign is put back (gemmlowp's 1 - 2^30 below 0).
  let nudged = lo + select(0x40000000u, 0x3fffffffu, a < 0);
  let carried = hi + select(0u, 1u, nudged < lo);
  let r = bitcast<i32>((carried << 1u) | (nudged >> 31u));
  return select(r, -r, a < 0);
}

// gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero.
fn rounding_divide_by_pot(value: i32, exponent: u32) -> i32 {
  let mask = bitcast<i32>((1u << exponent) - 1u);
  let remainder = value & mask;
  let threshold = (mask >> 1u) + select(0, 1, value < 0);
  return (value >> exponent) + select(0, 1, remainder > threshold);
}

// An int32 accumulator times multiplier * 2^-31 * 2^-shift (a negative shift shifts left first), as
// TFLite's MultiplyByQuantizedMultiplier.
fn requantize(acc: i32, multiplier: u32, shift: i32) -> i32 {
  let left = u32(max(-shift, 0));
  let right = u32(max(shift, 0));
  return rounding_divide_by_pot(rounding_high_mul(acc << left, multiplier), right);
}

// Four accumulators of output rows o0 .. o0+3 to one word of int8: requantized, plus the output's
// zero point, clamped to [low, 127] (low = the zero point fuses ReLU, else -128); lanes at or past
// `rows` hold 0. params[2 * o] is row o's multiplier, params[2 * o + 1] its shift (an i32's bits).
fn requantize_word(acc: vec4i, multiplier: vec4u, shift: vec4u, o0: u32, rows: u32, zero: i32, low: i32) -> u32 {
  var out = vec4i(0);
  for (var i = 0u; i < 4u; i++) {
    if (o0 + i < rows) {
      out[i] = clamp(requantize(acc[i], multiplier[i], bitcast<i32>(shift[i])) + zero, low, 127);
    }
  }
  return pack_int8(out);
}

// A 1-D kernel's index when its grid folds into y past the adapter's workgroup limit (the registry's `folds`).
fn folded_index(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
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
