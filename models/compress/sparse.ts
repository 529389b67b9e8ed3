/**
 * The stored size of a pruned model: each weight dense (float32) and in the smaller of two sparse
 * encodings, actually built here so that their sizes are the bytes of real arrays:
 * - CSR over the weight as a matrix [rows = shape[0], cols = the rest]: the kept values (float32),
 *   their column indices (u16 where cols <= 65,536, else u32) and rows + 1 row offsets (u32);
 * - a bitmask (one bit per weight, 1 kept, bytes rounded up) and the kept values (float32).
 * A bitmask costs n / 8 bytes whatever the sparsity, CSR 2 or 4 bytes per kept value: the bitmask
 * wins at moderate sparsity, CSR at high sparsity. Biases are stored dense. Zeros count as pruned.
 */
import type { CompiledModel } from "../model.ts";

/** A weight in CSR form. */
export interface Csr {
  /** The kept values, row by row. */
  readonly values: Float32Array;
  /** Each kept value's column. */
  readonly columns: Uint16Array | Uint32Array;
  /** rows + 1 offsets into values: row r is values[rowStarts[r] .. rowStarts[r + 1]). */
  readonly rowStarts: Uint32Array;
}

/** A weight as a bitmask and its kept values. */
export interface Bitmask {
  /** Bit i % 8 of byte i / 8: 1 where weight i is kept. */
  readonly bits: Uint8Array;
  /** The kept values in order. */
  readonly values: Float32Array;
}

/** Encodes `w` viewed as [rows, w.length / rows] in CSR, keeping its nonzero values. */
export function toCsr(w: Float32Array, rows: number): Csr {
  const cols = w.length / rows;
  const kept: number[] = [], columns: number[] = [];
  const rowStarts = new Uint32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c];
      if (v !== 0) {
        kept.push(v);
        columns.push(c);
      }
    }
    rowStarts[r + 1] = kept.length;
  }
  return {
    values: Float32Array.from(kept),
    columns: cols <= 65536 ? Uint16Array.from(columns) : Uint32Array.from(columns),
    rowStarts,
  };
}

/** A CSR weight back to its dense values. */
export function fromCsr(csr: Csr, rows: number, cols: number): Float32Array {
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let k = csr.rowStarts[r]; k < csr.rowStarts[r + 1]; k++) {
      w[r * cols + csr.columns[k]] = csr.values[k];
    }
  }
  return w;
}

/** Encodes `w` as a bitmask of its nonzero values and those values. */
export function toBitmask(w: Float32Array): Bitmask {
  const bits = new Uint8Array(Math.ceil(w.length / 8));
  const kept: number[] = [];
  for (let i = 0; i < w.length; i++) {
    if (w[i] !== 0) {
      bits[i >>> 3] |= 1 << (i & 7);
      kept.push(w[i]);
    }
  }
  return { bits, values: Float32Array.from(kept) };
}

/** A bitmask weight back to its dense values. */
export function fromBitmask(mask: Bitmask, count: number): Float32Array {
  const w = new Float32Array(count);
  let k = 0;
  for (let i = 0; i < count; i++) if ((mask.bits[i >>> 3] >>> (i & 7)) & 1) w[i] = mask.values[k++];
  return w;
}

/** Which encoding a tensor is stored in. */
export type Encoding = "dense" | "csr-u16" | "csr-u32" | "bitmask";

/** One tensor's stored size. */
export interface TensorSize {
  /** Its state_dict name. */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Values in all. */
  readonly count: number;
  /** Values not zero (kept). */
  readonly nonzero: number;
  /** float32, every value. */
  readonly denseBytes: number;
  /** In CSR; undefined for a bias (always dense). */
  readonly csrBytes?: number;
  /** As a bitmask and values; undefined for a bias. */
  readonly bitmaskBytes?: number;
  /** The smallest of dense, CSR and bitmask, and which it is. */
  readonly storedBytes: number;
  /** The encoding storedBytes counts. */
  readonly encoding: Encoding;
}

/** A layer's stored size: its tensors together. */
export interface LayerSize {
  /** e.g. "conv1": the state_dict names' prefix. */
  readonly name: string;
  /** float32, every value. */
  readonly denseBytes: number;
  /** Each tensor in its smallest encoding. */
  readonly storedBytes: number;
}

/** A model's stored size, per tensor, per layer and whole. */
export interface ModelSize {
  /** Per parameter, in order. */
  readonly tensors: TensorSize[];
  /** Per layer, in order. */
  readonly layers: LayerSize[];
  /** The whole model, float32. */
  readonly denseBytes: number;
  /** The whole model, each tensor in its smallest encoding. */
  readonly storedBytes: number;
  /** Of the weights only (biases excluded): zeros over all. */
  readonly weightSparsity: number;
}

/** One tensor's sizes; `sparse` false (biases) stores it dense. */
export function tensorSize(
  name: string,
  shape: readonly number[],
  w: Float32Array,
  sparse: boolean,
): TensorSize {
  let nonzero = 0;
  for (const v of w) if (v !== 0) nonzero++;
  const denseBytes = w.length * 4;
  const base = { name, shape, count: w.length, nonzero, denseBytes };
  if (!sparse) return { ...base, storedBytes: denseBytes, encoding: "dense" };
  const csr = toCsr(w, shape[0]);
  const csrBytes = csr.values.byteLength + csr.columns.byteLength + csr.rowStarts.byteLength;
  const bitmask = toBitmask(w);
  const bitmaskBytes = bitmask.bits.byteLength + bitmask.values.byteLength;
  const choices: [Encoding, number][] = [
    ["dense", denseBytes],
    [csr.columns instanceof Uint16Array ? "csr-u16" : "csr-u32", csrBytes],
    ["bitmask", bitmaskBytes],
  ];
  const [encoding, storedBytes] = choices.reduce((best, c) => c[1] < best[1] ? c : best);
  return { ...base, csrBytes, bitmaskBytes, storedBytes, encoding };
}

/**
 * The stored size of parameters (state_dict names, shapes and values): weights (*.weight) in their
 * smallest encoding, biases dense; per tensor, per layer (the name before the last dot) and whole.
 */
export function storedSize(
  parameters: readonly { name: string; shape: readonly number[]; values: Float32Array }[],
): ModelSize {
  const tensors = parameters.map((p) => tensorSize(p.name, p.shape, p.values, p.name.endsWith(".weight")));
  const layers = new Map<string, { denseBytes: number; storedBytes: number }>();
  for (const t of tensors) {
    const layer = t.name.slice(0, t.name.lastIndexOf("."));
    const sum = layers.get(layer) ?? { denseBytes: 0, storedBytes: 0 };
    layers.set(layer, {
      denseBytes: sum.denseBytes + t.denseBytes,
      storedBytes: sum.storedBytes + t.storedBytes,
    });
  }
  const weights = tensors.filter((t) => t.name.endsWith(".weight"));
  const weightCount = weights.reduce((s, t) => s + t.count, 0);
  const weightZeros = weights.reduce((s, t) => s + t.count - t.nonzero, 0);
  return {
    tensors,
    layers: [...layers].map(([name, sizes]) => ({ name, ...sizes })),
    denseBytes: tensors.reduce((s, t) => s + t.denseBytes, 0),
    storedBytes: tensors.reduce((s, t) => s + t.storedBytes, 0),
    weightSparsity: weightCount === 0 ? 0 : weightZeros / weightCount,
  };
}

/** A compiled model's stored size, its parameters read back from its backend. */
export async function modelStoredSize(model: CompiledModel): Promise<ModelSize> {
  const parameters = [];
  for (const p of model.parameters) {
    parameters.push({
      name: p.name,
      shape: p.shape,
      values: (await model.backend.read(p.value)) as Float32Array,
    });
  }
  return storedSize(parameters);
}
