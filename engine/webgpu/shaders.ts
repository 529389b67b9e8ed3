/**
 * Shaders are data: WGSL files in shaders/, shipped as the generated module wgsl.generated.ts
 * (`deno task shaders`), so the engine reads no file and loads wherever WGSL runs. wgsl_reflect reads
 * each entry point's bindings, workgroup size and override constants, so bind group layouts are built,
 * and bindings checked, from the shader itself.
 */
// Inline, not the import map's bare name: a module loaded from a URL has no import map.
// deno-lint-ignore no-import-prefix
import { WgslReflect } from "npm:wgsl_reflect@1.6.0/wgsl_reflect.module.js";
import { WGSL } from "./wgsl.generated.ts";

export interface EntryReflection {
  readonly workgroupSize: readonly [number, number, number];
  readonly bindings: ReadonlyMap<string, { binding: number; access: "read" | "read_write"; element: string }>;
  readonly overrides: ReadonlySet<string>;
}

const sources = new Map<string, string>();
const reflections = new Map<string, EntryReflection>();

/** A shader's WGSL, with kernels/common.wgsl (helpers every kernel shares) in front of it. */
export function shaderSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    const own = WGSL[file];
    if (own === undefined) throw new Error(`no shader ${file} in kernels/ (run deno task shaders)`);
    source = `${WGSL["common.wgsl"]}\n${own}`;
    sources.set(file, source);
  }
  return source;
}

interface ReflectedResource {
  name: string;
  binding: number;
  access: string;
  type: { name: string; format?: { name: string } };
}

export function reflectEntry(file: string, entry: string): EntryReflection {
  const key = `${file}:${entry}`;
  const known = reflections.get(key);
  if (known) return known;
  const reflect = new WgslReflect(shaderSource(file));
  const found = reflect.entry.compute.find((e: { name: string }) => e.name === entry);
  if (!found) throw new Error(`shader ${file} has no compute entry point ${entry}`);
  const bindings = new Map<string, { binding: number; access: "read" | "read_write"; element: string }>();
  for (const resource of found.resources as ReflectedResource[]) {
    bindings.set(resource.name, {
      binding: resource.binding,
      access: resource.access === "read" ? "read" : "read_write",
      element: scalarOf(resource.type.format?.name ?? resource.type.name),
    });
  }
  const [x, y, z] = found.workgroupSize as number[];
  const reflection: EntryReflection = {
    workgroupSize: [x ?? 1, y ?? 1, z ?? 1],
    bindings,
    overrides: new Set((reflect.overrides as { name: string }[]).map((o) => o.name)),
  };
  reflections.set(key, reflection);
  return reflection;
}

/** A vector of f32 (an array<vec4f> binding) binds an f32 tensor: only its scalar type matters. */
function scalarOf(element: string): string {
  if (/^vec[234]f$/.test(element) || /^vec[234]<f32>$/.test(element)) return "f32";
  if (/^vec[234]u$/.test(element) || /^vec[234]<u32>$/.test(element)) return "u32";
  return element;
}
