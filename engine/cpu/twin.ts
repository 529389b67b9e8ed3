/** What a twin receives: its bindings as typed arrays (views of slices where the GPU binds a slice). */
export interface TwinBindings {
  /** The f32 bindings by name. */
  readonly f32: Record<string, Float32Array>;
  /** The u32 bindings by name. */
  readonly u32: Record<string, Uint32Array>;
}

const scratchArrays = new Map<string, Float32Array>();

/**
 * A reusable Float32Array of at least `length` elements for a twin's registers, so that running a
 * step allocates nothing once the first step has run.
 */
export function scratch(name: string, length: number): Float32Array {
  let array = scratchArrays.get(name);
  if (!array || array.length < length) {
    array = new Float32Array(length);
    scratchArrays.set(name, array);
  }
  return array;
}

/** A kernel's TypeScript twin: one call runs the whole grid. */
export type Twin = (bindings: TwinBindings, constants: Record<string, number>) => void;
