// TypeScript twins of kernels/fake_quant/fake_quant.wgsl: same names, same index arithmetic, float32
// rounding after each operation as the shader computes. fake_quant_observe: one iteration of the
// outer loop is one workgroup, its lanes an inner loop meeting in the shader's tree order.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";
import { scratch } from "../../engine/cpu/twin.ts";
import { roundHalfEven, SCALE_EPSILON } from "../../engine/quantization.ts";

const LANES = 64;
const f = Math.fround;

/** The shader's constants with their defaults filled in. */
function shape(c: Constants) {
  return {
    N: c.N,
    CHANNELS: c.CHANNELS ?? 1,
    INNER: c.INNER ?? 1,
    QMIN: c.QMIN,
    QMAX: c.QMAX,
    SYMMETRIC: c.SYMMETRIC ?? 0,
    OBSERVER: c.OBSERVER ?? 0,
    AVERAGING: f(c.AVERAGING ?? 0.01),
  };
}

export function fake_quant_observe(t: TwinBindings, c: Constants): void {
  const { x, observer, observing } = t.f32;
  const { N, CHANNELS, INNER, QMIN, QMAX, SYMMETRIC, OBSERVER, AVERAGING } = shape(c);
  const laneMin = scratch("fake_quant.lane_min", LANES), laneMax = scratch("fake_quant.lane_max", LANES);
  const perChannel = Math.floor(N / CHANNELS);
  for (let ch = 0; ch < CHANNELS; ch++) {
    for (let lane = 0; lane < LANES; lane++) {
      let lo = x[ch * INNER], hi = lo;
      for (let e = lane; e < perChannel; e += LANES) {
        const v = x[Math.floor(e / INNER) * CHANNELS * INNER + ch * INNER + e % INNER];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      laneMin[lane] = lo;
      laneMax[lane] = hi;
    }
    for (let stride = LANES / 2; stride > 0; stride = Math.floor(stride / 2)) {
      for (let lane = 0; lane < stride; lane++) {
        laneMin[lane] = Math.min(laneMin[lane], laneMin[lane + stride]);
        laneMax[lane] = Math.max(laneMax[lane], laneMax[lane + stride]);
      }
    }
    if (observing[0] === 0) continue;
    const at = ch * 4;
    let low = laneMin[0], high = laneMax[0];
    const seenLow = observer[at], seenHigh = observer[at + 1];
    if (seenLow <= seenHigh) {
      if (OBSERVER === 0) {
        low = f(seenLow + f(AVERAGING * f(low - seenLow)));
        high = f(seenHigh + f(AVERAGING * f(high - seenHigh)));
      } else {
        low = Math.min(seenLow, low);
        high = Math.max(seenHigh, high);
      }
    }
    observer[at] = low;
    observer[at + 1] = high;
    const neg = Math.min(low, 0), pos = Math.max(high, 0);
    const steps = QMAX - QMIN;
    if (SYMMETRIC === 1) {
      observer[at + 2] = Math.max(f(Math.max(-neg, pos) / f(steps / 2)), f(SCALE_EPSILON));
      observer[at + 3] = QMIN < 0 ? 0 : Math.floor((QMIN + QMAX + 1) / 2);
    } else {
      const scale = Math.max(f(f(pos - neg) / steps), f(SCALE_EPSILON));
      observer[at + 2] = scale;
      observer[at + 3] = Math.min(QMAX, Math.max(QMIN, QMIN - roundHalfEven(f(neg / scale))));
    }
  }
}

export function fake_quant_forward(t: TwinBindings, c: Constants): void {
  const { x, observer, y } = t.f32;
  const { mask } = t.u32;
  const { N, CHANNELS, INNER, QMIN, QMAX } = shape(c);
  for (let i = 0; i < N; i++) {
    const at = (Math.floor(i / INNER) % CHANNELS) * 4;
    const scale = observer[at + 2], zeroPoint = observer[at + 3];
    const q = roundHalfEven(f(x[i] * f(1 / scale))) + zeroPoint;
    mask[i] = q >= QMIN && q <= QMAX ? 1 : 0;
    y[i] = f(f(Math.min(QMAX, Math.max(QMIN, q)) - zeroPoint) * scale);
  }
}

export function fake_quant_backward(t: TwinBindings, c: Constants): void {
  const { dy, dx } = t.f32;
  const { mask } = t.u32;
  for (let i = 0; i < c.N; i++) dx[i] = dy[i] * mask[i];
}

export function fake_quant_sgd(t: TwinBindings, c: Constants): void {
  const { w_train, grad_w, learning_rate } = t.f32;
  const { mask } = t.u32;
  for (let i = 0; i < c.N; i++) {
    if (mask[i] === 1) w_train[i] -= f(learning_rate[0] * grad_w[i]);
  }
}

export function fake_quant_copy(t: TwinBindings, c: Constants): void {
  const { x, y } = t.f32;
  for (let i = 0; i < c.N; i++) y[i] = x[i];
}
