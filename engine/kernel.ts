/**
 * The kernel contract: what one registry entry says about one WGSL entry point. Each family declares
 * its entries beside its WGSL and twins (kernels/FAMILY/registry.ts); engine/kernels.ts gathers them.
 *
 * A kernel's constants are its shader's `override`s, typed by name from the generated module: a
 * misspelled or missing constant is a compile error at `backend.dispatch(...)`, and, for callers
 * the compiler does not see, a refusal in one line naming the kernel and the constant.
 */
import type { Constants } from "./backend.ts";
import type { Twin } from "./cpu/twin.ts";
import { UserError } from "./errors.ts";
import { entryFacts, shaderFacts } from "./webgpu/shaders.ts";
import type { ShaderEntries, ShaderFile, ShaderOverrides } from "./webgpu/wgsl.generated.ts";

/** Every constant of a kernel, its defaults filled in. */
export type ConstantValues<Name extends string> = { readonly [N in Name]: number };

/** What a caller passes: every constant without a default, and any of those with one. */
export type KernelConstants<Name extends string, Optional extends Name> =
  & { readonly [N in Exclude<Name, Optional>]: number }
  & { readonly [N in Optional]?: number };

/** A default: a number, or the name of another constant whose value it takes (as WGSL's `OUT_TOTAL = OUT`). */
export type ConstantDefault<Name extends string> = number | Name;

/**
 * One kernel's contract: shader, entry point, twin, op, grid, workgroup geometry, constants and
 * their defaults. `Name` are its constants (its shader's overrides), `Optional` those with a default.
 */
export interface Kernel<Name extends string = string, Optional extends Name = Name> {
  /** Its WGSL file, by name (kernels/FAMILY/NAME.wgsl). */
  readonly shader: string;
  /** WGSL entry point, and the twin's function name. */
  readonly entry: string;
  /** The TypeScript twin. */
  readonly twin: Twin;
  /** What it computes; kernels with the same op are variants of one another. */
  readonly op: string;
  /** Its constants: every override its shader declares (a pipeline takes no other). */
  readonly constants: readonly Name[];
  /** Constants a caller may leave out, with their values. */
  readonly defaults: { readonly [N in Optional]: ConstantDefault<Name> };
  /** Invocations along x, y, z, for the constants with the defaults filled in. */
  grid(c: ConstantValues<Name>): readonly [number, number, number];
  /** The shader's @workgroup_size (from the generated reflection facts). */
  readonly workgroup: readonly [number, number, number];
  /** Whether the kernel computes this shape (a vec4 kernel needs IN % 4 == 0); all if absent. */
  supports?(c: ConstantValues<Name>): boolean;
  /**
   * Whether, untuned, this variant is its op's default at a shape it supports; if absent, it is.
   * The registry's default is the first variant listed that supports the shape and is preferred.
   */
  preferred?(c: ConstantValues<Name>): boolean;
  /** A 1-D kernel that indexes with num_workgroups, so a long grid may fold into y. */
  readonly folds?: boolean;
}

/** What a family writes for one entry; the constants and workgroup come from the generated facts. */
export interface KernelSpec<File extends ShaderFile, Optional extends ShaderOverrides[File]> {
  readonly shader: File;
  readonly entry: ShaderEntries[File];
  readonly twin: Twin;
  readonly op: string;
  readonly defaults?: { readonly [N in Optional]: ConstantDefault<ShaderOverrides[File]> };
  grid(c: ConstantValues<ShaderOverrides[File]>): readonly [number, number, number];
  supports?(c: ConstantValues<ShaderOverrides[File]>): boolean;
  preferred?(c: ConstantValues<ShaderOverrides[File]>): boolean;
  readonly folds?: boolean;
}

/** For a variant shaped for another kind of adapter: never the untuned default, only the tuner's choice. */
export const tunedOnly = (): boolean => false;

/** A registry entry: the family's spec, with its shader's overrides and the entry's workgroup size filled in. */
export function defineKernel<File extends ShaderFile, Optional extends ShaderOverrides[File] = never>(
  spec: KernelSpec<File, Optional>,
): Kernel<ShaderOverrides[File], Optional> {
  const { workgroupSize } = entryFacts(spec.shader, spec.entry);
  return {
    ...spec,
    // The generated module lists these names as ShaderOverrides[File]: they are the same.
    constants: shaderFacts(spec.shader).overrides as readonly ShaderOverrides[File][],
    defaults: spec.defaults ?? {} as { readonly [N in Optional]: ConstantDefault<ShaderOverrides[File]> },
    workgroup: workgroupSize,
  };
}

/**
 * The constants a kernel runs with: the caller's, with the kernel's defaults filled in. Refuses, in
 * one line naming the kernel and the constant, a name its shader does not declare (a misspelling
 * would otherwise be dropped) and a constant left out that has no default.
 */
export function withDefaults(kernel: Kernel, given: Constants): Constants {
  const values: Record<string, number> = {};
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!kernel.constants.includes(name)) {
      throw new UserError(
        `${kernel.entry} has no constant ${name}: its constants are ${kernel.constants.join(", ")}`,
      );
    }
    values[name] = value;
  }
  for (const [name, value] of Object.entries(kernel.defaults)) {
    values[name] ??= typeof value === "number" ? value : values[value];
  }
  for (const name of kernel.constants) {
    if (values[name] === undefined) throw new UserError(`${kernel.entry}: constant ${name} is missing`);
  }
  return values;
}
