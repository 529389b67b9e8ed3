// Fixed point Qm.n: a neuron layer (fixed_dense_forward) and tanh (fixed_tanh) on int32 values (m integer bits including the sign, n
// fraction bits, BITS = m + n from 2 to 32, FRAC = n; a value q stands for q * 2^-n). Each i32 value
// sits in one u32 word (its two's complement bits): tensors hold f32 or u32.
//
// WGSL has no 64-bit integers, so a product of two 32-bit values and the running sum are 64-bit
// pairs vec2u(lo, hi) in two's complement. Where BITS <= 16 a product fits in an i32 (|q| <= 2^15)
// and is one multiply; wider formats split each magnitude into 16-bit halves, four 16 x 16 products
// that fit a u32, recombined with their carries (mul_wide). The sum saturates at +-2^63 (an
// overflow no trained model comes near, but defined). Every function here has a twin of the same
// name in int64.ts or fixed_point.ts.

override B: u32;
override IN: u32;
override OUT: u32;
override FRAC: u32;
override BITS: u32;
override ACT: u32 = 0u;
override ROUNDING: u32 = 0u;
override SEED: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

const INT64_MAX = vec2u(0xffffffffu, 0x7fffffffu);
const INT64_MIN = vec2u(0u, 0x80000000u);

// An i32 sign-extended to 64 bits.
fn wide_from_i32(v: i32) -> vec2u {
  return vec2u(u32(v), select(0u, 0xffffffffu, v < 0));
}

fn negate_wide(v: vec2u) -> vec2u {
  let lo = ~v.x + 1u;
  return vec2u(lo, ~v.y + select(0u, 1u, lo == 0u));
}

// lhs + rhs with wrap-around; the carry out of the low word goes into the high one.
fn add_wide(lhs: vec2u, rhs: vec2u) -> vec2u {
  let lo = lhs.x + rhs.x;
  return vec2u(lo, lhs.y + rhs.y + select(0u, 1u, lo < lhs.x));
}

// lhs + rhs, saturated at INT64_MIN and INT64_MAX: an overflow is two operands of one sign and a sum of
// the other. (Parameters are not named after bindings: wgsl_reflect would count the binding as used.)
fn add_wide_saturating(lhs: vec2u, rhs: vec2u) -> vec2u {
  let sum = add_wide(lhs, rhs);
  let sign = lhs.y >> 31u;
  if (sign == (rhs.y >> 31u) && sign != (sum.y >> 31u)) {
    return select(INT64_MAX, INT64_MIN, sign == 1u);
  }
  return sum;
}

// The exact 64-bit product of two u32 from 16-bit halves: p = p1 2^16 + p0, r = r1 2^16 + r0.
fn mul_wide_unsigned(p: u32, r: u32) -> vec2u {
  let a0 = p & 0xffffu;
  let a1 = p >> 16u;
  let b0 = r & 0xffffu;
  let b1 = r >> 16u;
  let low = a0 * b0;
  let cross_a = a0 * b1;
  let middle = cross_a + a1 * b0; // may carry out: that carry weighs 2^48
  let middle_carry = select(0u, 0x10000u, middle < cross_a);
  let lo = low + (middle << 16u);
  let lo_carry = select(0u, 1u, lo < low);
  return vec2u(lo, a1 * b1 + (middle >> 16u) + middle_carry + lo_carry);
}

// The exact 64-bit product of two i32: magnitudes multiplied, the sign applied after. abs(-2^31) is
// -2^31, whose bits as a u32 are 2^31, the right magnitude.
fn mul_wide(p: i32, r: i32) -> vec2u {
  if (BITS <= 16u) { return wide_from_i32(p * r); }
  let product = mul_wide_unsigned(u32(abs(p)), u32(abs(r)));
  return select(product, negate_wide(product), (p < 0) != (r < 0));
}

// v * 2^s for s in 0 .. 31 (v below 2^(63 - s) in magnitude: no overflow).
fn shift_left_wide(v: vec2u, s: u32) -> vec2u {
  if (s == 0u) { return v; }
  return vec2u(v.x << s, (v.y << s) | (v.x >> (32u - s)));
}

// floor(v / 2^s) for s in 0 .. 31: an arithmetic shift of the pair.
fn shift_right_wide(v: vec2u, s: u32) -> vec2u {
  if (s == 0u) { return v; }
  return vec2u((v.x >> s) | (v.y << (32u - s)), u32(i32(v.y) >> s));
}

// v / 2^s rounded to nearest, ties to even (s in 0 .. 31). The result is at most 2^63 / 2, so adding 1 never overflows.
fn round_shift_wide(v: vec2u, s: u32) -> vec2u {
  if (s == 0u) { return v; }
  let floor = shift_right_wide(v, s);
  let remainder = v.x & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (remainder > half || (remainder == half && (floor.x & 1u) == 1u)) {
    return add_wide(floor, vec2u(1u, 0u));
  }
  return floor;
}

// v / 2^s rounded up with probability equal to its fraction: floor((v + r) / 2^s) for r uniform in [0, 2^s),
// the top s bits of a hash.
fn round_shift_stochastic(v: vec2u, s: u32, random: u32) -> vec2u {
  if (s == 0u) { return v; }
  return shift_right_wide(add_wide_saturating(v, vec2u(random >> (32u - s), 0u)), s);
}

// The largest value of a BITS-bit two's complement integer (BITS from 2 to 32).
fn format_max(bits: u32) -> i32 {
  return i32((1u << (bits - 1u)) - 1u);
}

// A 64-bit value saturated to the BITS-bit range [-2^(BITS-1), 2^(BITS-1) - 1].
fn saturate_wide(v: vec2u, bits: u32) -> i32 {
  let qmax = format_max(bits);
  let qmin = -qmax - 1;
  let fits_i32 = (v.y == 0u && v.x < 0x80000000u) || (v.y == 0xffffffffu && v.x >= 0x80000000u);
  if (!fits_i32) { return select(qmax, qmin, (v.y >> 31u) == 1u); }
  return clamp(i32(v.x), qmin, qmax);
}

// 32 random bits for element `index` of a kernel call seeded with SEED.
fn random_bits(index: u32) -> u32 {
  return mix32(index + mix32(SEED));
}

// One invocation: output o of sample n. y = saturate(round((b 2^n + sum_k x_k w_k) / 2^n)), then ReLU
// if ACT = 1. The bias enters the sum at the products' scale (2^-2n), so the result is rounded once.
// ROUNDING: 0 to nearest, ties to even; 1 stochastic (a hash of the output's index and SEED).
@compute @workgroup_size(64)
fn fixed_dense_forward(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let n = gid.y;
  if (o >= OUT || n >= B) { return; }
  // b < 2^31 shifted by n <= 31 stays below 2^62.
  var acc = shift_left_wide(wide_from_i32(i32(b[o])), FRAC);
  for (var k = 0u; k < IN; k++) {
    acc = add_wide_saturating(acc, mul_wide(i32(x[n * IN + k]), i32(w[o * IN + k])));
  }
  let index = n * OUT + o;
  var rounded: vec2u;
  if (ROUNDING == 1u) {
    rounded = round_shift_stochastic(acc, FRAC, random_bits(index));
  } else {
    rounded = round_shift_wide(acc, FRAC);
  }
  var value = saturate_wide(rounded, BITS);
  if (ACT == 1u) { value = max(value, 0); }
  y[index] = u32(value);
}

// tanh by a table and linear interpolation, in integers: tanh_table[i] = tanh(i / 64) in Q1.30 for
// i = 0 .. 512 (built on the host, fixedTanhTable), odd symmetry for x < 0, tanh(8) beyond 8.
// Interpolation between points 1/64 apart is within 2.4e-5 of tanh (h^2/8 max|tanh''|); the result is
// then rounded to Qm.n, to nearest, ties to even. Integer arithmetic, so the GPU and the twin agree bit
// for bit, which tanh on dequantised floats would not promise (WGSL allows its tanh and division ULPs of error).
const TANH_STEP_BITS = 6u;
const TANH_SEGMENTS = 512u;
const TANH_TABLE_BITS = 30u;

@group(0) @binding(4) var<storage, read> tanh_table: array<u32>;

// tanh of a magnitude (a Qm.n bit pattern read as unsigned: |-2^31| is 2^31) in Q1.30.
// FRAC comes in as a parameter: an expression of an override (even through a let), such as a shift by
// 30 - FRAC, is evaluated when the pipeline is made, in the branch not taken too, and refused there.
fn tanh_magnitude(magnitude: u32, frac: u32) -> u32 {
  if (frac < TANH_STEP_BITS) {
    // Every value is a table point: no interpolation.
    let shift = TANH_STEP_BITS - frac;
    if (magnitude >= (TANH_SEGMENTS >> shift)) { return tanh_table[TANH_SEGMENTS]; }
    return tanh_table[magnitude << shift];
  }
  let fraction_bits = frac - TANH_STEP_BITS;
  let index = magnitude >> fraction_bits;
  if (index >= TANH_SEGMENTS) { return tanh_table[TANH_SEGMENTS]; }
  let fraction = magnitude & ((1u << fraction_bits) - 1u);
  let rise = tanh_table[index + 1u] - tanh_table[index]; // tanh increases: never negative
  return tanh_table[index] + round_shift_wide(mul_wide_unsigned(rise, fraction), fraction_bits).x;
}

// One invocation: element o of sample n of a [B, OUT] tensor of Qm.n values.
@compute @workgroup_size(64)
fn fixed_tanh(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let n = gid.y;
  if (o >= OUT || n >= B) { return; }
  let index = n * OUT + o;
  y[index] = u32(tanh_fixed(i32(x[index]), FRAC, BITS));
}

// tanh of a Qm.n value q (frac = n, bits = m + n).
fn tanh_fixed(q: i32, frac: u32, bits: u32) -> i32 {
  let t = tanh_magnitude(u32(abs(q)), frac);
  // Q1.30 to Qm.n: n <= 30 shifts right (rounding), n = 31 shifts left by one.
  var result: vec2u;
  if (frac <= TANH_TABLE_BITS) {
    result = round_shift_wide(vec2u(t, 0u), TANH_TABLE_BITS - frac);
  } else {
    result = shift_left_wide(vec2u(t, 0u), frac - TANH_TABLE_BITS);
  }
  return saturate_wide(select(result, negate_wide(result), q < 0), bits);
}
