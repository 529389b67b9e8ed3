// TypeScript twin of kernels/prune/prune.wgsl: same name, same index arithmetic.
import type { Constants } from "../../engine/backend.ts";
import type { TwinBindings } from "../../engine/cpu/twin.ts";

/** Whether weight `i` is kept by a mask of one bit per weight, 32 to a u32 word. */
export function isKept(mask: ArrayLike<number>, i: number): boolean {
  return ((mask[Math.floor(i / 32)] >>> (i % 32)) & 1) === 1;
}

export function prune_apply_mask(t: TwinBindings, c: Constants): void {
  const { w } = t.f32;
  const { mask } = t.u32;
  for (let i = 0; i < c.N; i++) w[i] = isKept(mask, i) ? w[i] : 0;
}
