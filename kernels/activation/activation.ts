// TypeScript twins of kernels/activation/activation.wgsl, and the activations that dense and convolution fuse.
import type { Constants } from "../../engine/backend.ts";
import { ACT } from "../../engine/constants.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

export function activate(act: number, s: number): number {
  if (act === ACT.relu) return s > 0 ? s : 0;
  if (act === ACT.tanh) return Math.tanh(s);
  return s;
}

/** d act / d s, written in terms of the output y = act(s). */
export function activationSlope(act: number, y: number): number {
  if (act === ACT.relu) return y > 0 ? 1 : 0;
  if (act === ACT.tanh) return 1 - y * y;
  return 1;
}

export function relu_forward(t: TwinBindings, c: Constants): void {
  const { x, y } = t.f32;
  for (let i = 0; i < c.N; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

export function relu_backward(t: TwinBindings, c: Constants): void {
  const { y_saved, dy, dx } = t.f32;
  for (let i = 0; i < c.N; i++) dx[i] = y_saved[i] > 0 ? dy[i] : 0;
}

export function tanh_forward(t: TwinBindings, c: Constants): void {
  const { x, y } = t.f32;
  for (let i = 0; i < c.N; i++) y[i] = Math.tanh(x[i]);
}

export function tanh_backward(t: TwinBindings, c: Constants): void {
  const { y_saved, dy, dx } = t.f32;
  for (let i = 0; i < c.N; i++) dx[i] = dy[i] * (1 - y_saved[i] * y_saved[i]);
}

export function activation_gradient(t: TwinBindings, c: Constants): void {
  const { y_saved, g } = t.f32;
  for (let i = 0; i < c.N; i++) {
    if (c.ACT === ACT.relu) g[i] = y_saved[i] > 0 ? g[i] : 0;
    if (c.ACT === ACT.tanh) g[i] = g[i] * (1 - y_saved[i] * y_saved[i]);
  }
}
