/** What a twin receives: its bindings as typed arrays (views of slices where the GPU binds a slice). */
export interface TwinBindings {
  /** The f32 bindings by name. */
  readonly f32: Record<string, Float32Array>;
  /** The u32 bindings by name. */
  readonly u32: Record<string, Uint32Array>;
}

/** A backend's scratch arrays by name, and what to tell its memory ledger when one grows. */
export interface ScratchPool {
  readonly arrays: Map<string, Float32Array>;
  readonly grew: (allocated: number, freed: number) => void;
}

/** Used when no backend has set its own (a twin called directly, as the tests do). */
const sharedPool: ScratchPool = { arrays: new Map(), grew: () => {} };
let currentPool = sharedPool;

/** Makes `pool` the one `scratch` draws from until the next call; the CPU backend sets its own before it runs. */
export function useScratchPool(pool: ScratchPool | undefined): void {
  currentPool = pool ?? sharedPool;
}

/**
 * A reusable Float32Array of at least `length` elements for a twin's registers, so that running a
 * step allocates nothing once the first step has run. Its bytes go to the running backend's ledger.
 */
export function scratch(name: string, length: number): Float32Array {
  const { arrays, grew } = currentPool;
  let array = arrays.get(name);
  if (!array || array.length < length) {
    const freed = array?.byteLength ?? 0;
    array = new Float32Array(length);
    arrays.set(name, array);
    grew(array.byteLength, freed);
  }
  return array;
}

/** A kernel's TypeScript twin: one call runs the whole grid. */
export type Twin = (bindings: TwinBindings, constants: Record<string, number>) => void;
