/**
 * The kernel contract: what one registry entry says about one WGSL entry point. Each family declares
 * its entries beside its WGSL and twins (kernels/FAMILY/registry.ts); engine/kernels.ts gathers them.
 */
import type { Constants } from "./backend.ts";
import type { Twin } from "./cpu/twin.ts";

/** One kernel's contract: shader, entry point, twin, op, grid, workgroup geometry, defaults. */
export interface Kernel {
  /** Its WGSL file, by name (kernels/FAMILY/NAME.wgsl). */
  readonly shader: string;
  /** WGSL entry point, and the twin's function name. */
  readonly entry: string;
  /** The TypeScript twin. */
  readonly twin: Twin;
  /** What it computes; kernels with the same op are variants of one another. */
  readonly op: string;
  /** Invocations along x, y, z, for the constants with the defaults filled in. */
  grid(c: Constants): readonly [number, number, number];
  /** The shader's @workgroup_size. */
  readonly workgroup: readonly [number, number, number];
  /** Constants a caller may leave out. */
  readonly defaults?: Constants;
  /** Whether the kernel computes this shape (a vec4 kernel needs IN % 4 == 0); all if absent. */
  supports?(c: Constants): boolean;
  /** A 1-D kernel that indexes with num_workgroups, so a long grid may fold into y. */
  readonly folds?: boolean;
}

/** The constants with the kernel's defaults filled in. */
export function withDefaults(kernel: Kernel, constants: Constants): Constants {
  return kernel.defaults ? { ...kernel.defaults, ...constants } : constants;
}

/** Workgroups of 64 invocations in a row, the shape most kernels take. */
export const WG64 = [64, 1, 1] as const;
