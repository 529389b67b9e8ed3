/**
 * Shaders are data: WGSL files in kernels/, shipped as the generated module wgsl.generated.ts
 * (`deno task shaders`) together with what wgsl_reflect found in them when the module was generated:
 * each entry point's bindings, workgroup size and override constants. Bind group layouts are built,
 * and bindings checked, from those facts; the engine parses no WGSL at run time.
 */
import { SHADER_FACTS, type ShaderFile, WGSL } from "./wgsl.generated.ts";

/** One binding of an entry point: its @binding, its access and its scalar element type. */
export interface BindingFacts {
  readonly binding: number;
  readonly access: "read" | "read_write";
  readonly element: "f32" | "u32";
}

/** One compute entry point: its @workgroup_size, its bindings by name, the overrides it uses. */
export interface EntryFacts {
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: Readonly<Record<string, BindingFacts>>;
  readonly overrides: readonly string[];
}

/** One shader file: every override it declares (what a pipeline accepts) and its entry points. */
export interface ShaderFacts {
  readonly overrides: readonly string[];
  readonly entries: Readonly<Record<string, EntryFacts>>;
}

const sources = new Map<string, string>();

/** A shader's WGSL, with kernels/common.wgsl (helpers every kernel shares) in front of it. */
export function shaderSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    const own = WGSL[file];
    if (own === undefined) throw new Error(`no shader ${file} in kernels/ (run deno task shaders)`);
    source = withCommon(WGSL["common.wgsl"], own);
    sources.set(file, source);
  }
  return source;
}

const ENABLE = /^\s*enable\s+[\w\s,]+;[^\S\n]*\n?/gm;

/**
 * `common` in front of `own`, but after `own`'s `enable` directives: WGSL wants them before any
 * declaration (kernels/half's shaders begin with `enable f16;`).
 */
export function withCommon(common: string, own: string): string {
  const directives = own.match(ENABLE) ?? [];
  return `${directives.join("")}${common}\n${own.replace(ENABLE, "")}`;
}

/** The adapter features a shader needs: `shader-f16` where it enables f16. */
export function shaderFeatures(file: string): GPUFeatureName[] {
  const own = WGSL[file] ?? "";
  return (own.match(ENABLE) ?? []).some((d) => /\bf16\b/.test(d)) ? ["shader-f16"] : [];
}

/** The facts of a shader file, generated with it. */
export function shaderFacts(file: string): ShaderFacts {
  const facts = (SHADER_FACTS as Readonly<Record<string, ShaderFacts>>)[file];
  if (!facts) throw new Error(`no shader ${file} in kernels/ (run deno task shaders)`);
  return facts;
}

/** The facts of one entry point of a shader file. */
export function entryFacts(file: ShaderFile | string, entry: string): EntryFacts {
  const facts = shaderFacts(file).entries[entry];
  if (!facts) throw new Error(`shader ${file} has no compute entry point ${entry}`);
  return facts;
}
