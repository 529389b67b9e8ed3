/**
 * The safetensors checkpoint format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header, then the tensor bytes back to back.
 * Float32 tensors (F32) are the models' parameters; quantized checkpoints add F16, I8, U8, I16 and
 * I32 tensors (`StoredTensor`), whose formats and scales live in the header's metadata
 * (models/checkpoint.ts). A file of F32 tensors only is written byte for byte as before.
 */
import { UserError } from "./errors.ts";

/** A float32 tensor under its name. */
export interface NamedTensor {
  /** Its name in the file (PyTorch's state_dict key). */
  name: string;
  /** Its shape, outermost first. */
  shape: number[];
  /** Its values, row-major. */
  data: Float32Array;
}

/** The stored dtypes besides F32: float16 (its bits), and integers of 8, 16 and 32 bits. */
export type StoredDType = "F16" | "I8" | "U8" | "I16" | "I32";

/** The array type each stored dtype is held in (F16 as its 16-bit patterns). */
export interface StoredArrays {
  /** float16 bit patterns. */
  F16: Uint16Array;
  /** Signed bytes: intB (B <= 8) and Qm.n up to 8 bits. */
  I8: Int8Array;
  /** Unsigned bytes: uintB. */
  U8: Uint8Array;
  /** Qm.n of 9 to 16 bits. */
  I16: Int16Array;
  /** Qm.n of 17 to 32 bits. */
  I32: Int32Array;
}

/** A tensor stored in another dtype than float32 (a quantized checkpoint's). */
export type StoredTensor = {
  [D in StoredDType]: {
    /** Its name in the file. */
    name: string;
    /** Its shape, outermost first. */
    shape: number[];
    /** Its dtype in the file. */
    dtype: D;
    /** Its values (F16: bit patterns), row-major. */
    data: StoredArrays[D];
  };
}[StoredDType];

/** What a safetensors file holds: its tensors by name and its string metadata. */
export interface DecodedSafetensors {
  /** The float32 tensors, by name. */
  tensors: Map<string, NamedTensor>;
  /** The file's `__metadata__`. */
  metadata: Record<string, string>;
  /** The tensors of other dtypes (a quantized checkpoint's), by name; absent or empty in a float file. */
  stored?: Map<string, StoredTensor>;
}

const HEADER_LENGTH_BYTES = 8;
const BYTES_PER_F32 = 4;
/** Bytes per value of every dtype read and written. */
const BYTES_PER_VALUE: Readonly<Record<"F32" | StoredDType, number>> = {
  F32: 4,
  F16: 2,
  I8: 1,
  U8: 1,
  I16: 2,
  I32: 4,
};
/** The reference implementation refuses larger headers too; it guards against absurd allocations. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

function elementCount(shape: number[]): number {
  return shape.reduce((count, size) => count * size, 1);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Tensors are laid out in the order given; the header is padded with spaces to a multiple of 8 bytes.
 * What decodeSafetensors would refuse is refused here (a metadata value that is not a string, a header
 * over 100 MB), so an encoded file always decodes.
 */
export function encodeSafetensors(
  tensors: (NamedTensor | StoredTensor)[],
  metadata: Record<string, string>,
): Uint8Array {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new UserError(
        `metadata ${JSON.stringify(key)} is ${
          value === null ? "null" : `a ${typeof value}`
        }, not a string: ` +
          `safetensors metadata holds strings only, convert it with String()`,
      );
    }
  }
  // Built by hand rather than with one JSON.stringify so that keys keep the layout order
  // (JavaScript objects move integer-like keys such as "0" to the front).
  const entries: string[] = [];
  if (Object.keys(metadata).length > 0) {
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const names = new Set<string>();
  let offset = 0;
  for (const tensor of tensors) {
    const { name, shape, data } = tensor;
    const dtype = dtypeOf(tensor);
    if (name === METADATA_KEY || names.has(name)) {
      throw new Error(`tensor name ${JSON.stringify(name)} is taken`);
    }
    if (!shape.every(isNonNegativeInteger) || elementCount(shape) !== data.length) {
      throw new Error(`tensor ${JSON.stringify(name)}: shape [${shape}] does not hold ${data.length} values`);
    }
    names.add(name);
    const end = offset + data.length * BYTES_PER_VALUE[dtype];
    const info = { dtype, shape, data_offsets: [offset, end] };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${entries.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new UserError(
      `the safetensors header would be ${headerLength} bytes, over the 100 MB readers take`,
    );
  }

  const bytes = new Uint8Array(HEADER_LENGTH_BYTES + headerLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, HEADER_LENGTH_BYTES);
  bytes.fill(0x20, HEADER_LENGTH_BYTES + json.length, HEADER_LENGTH_BYTES + headerLength);
  let position = HEADER_LENGTH_BYTES + headerLength;
  for (const tensor of tensors) {
    const write = WRITERS[dtypeOf(tensor)];
    for (const value of tensor.data) {
      write(view, position, value);
      position += BYTES_PER_VALUE[dtypeOf(tensor)];
    }
  }
  return bytes;
}

function dtypeOf(tensor: NamedTensor | StoredTensor): "F32" | StoredDType {
  return "dtype" in tensor ? tensor.dtype : "F32";
}

type Writer = (view: DataView, at: number, value: number) => void;
type Reader = (view: DataView, at: number) => number;

/** Little-endian, value by value: the data section need not be aligned. */
const WRITERS: Readonly<Record<"F32" | StoredDType, Writer>> = {
  F32: (view, at, value) => view.setFloat32(at, value, true),
  F16: (view, at, value) => view.setUint16(at, value, true),
  I8: (view, at, value) => view.setInt8(at, value),
  U8: (view, at, value) => view.setUint8(at, value),
  I16: (view, at, value) => view.setInt16(at, value, true),
  I32: (view, at, value) => view.setInt32(at, value, true),
};

const READERS: Readonly<Record<StoredDType, Reader>> = {
  F16: (view, at) => view.getUint16(at, true),
  I8: (view, at) => view.getInt8(at),
  U8: (view, at) => view.getUint8(at),
  I16: (view, at) => view.getInt16(at, true),
  I32: (view, at) => view.getInt32(at, true),
};

const STORED_ARRAYS: { readonly [D in StoredDType]: new (length: number) => StoredArrays[D] } = {
  F16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  I16: Int16Array,
  I32: Int32Array,
};

interface TensorEntry {
  name: string;
  dtype: "F32" | StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Checks one header entry; returns the reason it is malformed, or the entry. */
function parseTensorEntry(name: string, info: unknown): TensorEntry | string {
  const label = `tensor ${JSON.stringify(name)}`;
  if (typeof info !== "object" || info === null || Array.isArray(info)) return `${label} is not an object`;
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    return `${label} lacks dtype, shape or data_offsets`;
  }
  if (typeof dtype !== "string" || !Object.hasOwn(BYTES_PER_VALUE, dtype)) {
    return `${label} has dtype ${JSON.stringify(dtype)}; supported: ${
      Object.keys(BYTES_PER_VALUE).join(", ")
    }`;
  }
  const known = dtype as "F32" | StoredDType;
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    return `${label} has shape ${JSON.stringify(shape)}, expected a list of non-negative integers`;
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    return `${label} has data_offsets ${JSON.stringify(offsets)}, expected [begin, end]`;
  }
  const [begin, end] = offsets as number[];
  const expectedBytes = elementCount(shape) * BYTES_PER_VALUE[known];
  if (end < begin || end - begin !== expectedBytes) {
    return `${label} has data_offsets [${begin}, ${end}] but shape [${shape}] needs ${expectedBytes} bytes`;
  }
  return { name, dtype: known, shape, begin, end };
}

function malformed(source: string, reason: string): UserError {
  return new UserError(`${source} is not a valid float32 safetensors file: ${reason}; re-save or replace it`);
}

/** Reads a safetensors file held in memory; `source` names it in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source: string): DecodedSafetensors {
  const fail = (reason: string) => malformed(source, reason);
  if (bytes.length < HEADER_LENGTH_BYTES) {
    throw fail(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLength} is over 100 MB`);
  const dataStart = HEADER_LENGTH_BYTES + Number(headerLength);
  if (dataStart > bytes.length) {
    throw fail(`header length ${headerLength} runs past the end (${bytes.length} bytes)`);
  }

  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(HEADER_LENGTH_BYTES, dataStart),
    );
    header = JSON.parse(text);
  } catch {
    throw fail("the header is not valid UTF-8 JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw fail("the header is not a JSON object");
  }

  const metadataPairs: [string, string][] = [];
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw fail("__metadata__ is not an object");
      }
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== "string") throw fail(`metadata ${JSON.stringify(key)} is not a string`);
        metadataPairs.push([key, text]);
      }
      continue;
    }
    const entry = parseTensorEntry(name, value);
    if (typeof entry === "string") throw fail(entry);
    entries.push(entry);
  }

  // The format forbids holes: sorted by offset, each tensor starts where the previous one ends.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataLength = bytes.length - dataStart;
  let expectedBegin = 0;
  for (const { name, begin, end } of entries) {
    if (end > dataLength) {
      throw fail(`tensor ${JSON.stringify(name)} ends at ${end}, past the ${dataLength} data bytes`);
    }
    if (begin !== expectedBegin) {
      throw fail(
        `tensor ${JSON.stringify(name)} starts at ${begin}, expected ${expectedBegin} (overlap or gap)`,
      );
    }
    expectedBegin = end;
  }
  if (expectedBegin !== dataLength) {
    throw fail(`${dataLength - expectedBegin} data bytes after the last tensor`);
  }

  const tensors = new Map<string, NamedTensor>();
  const stored = new Map<string, StoredTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // Read value by value: the data section need not be aligned, and the file is little-endian.
    if (dtype === "F32") {
      const data = new Float32Array((end - begin) / BYTES_PER_F32);
      for (let i = 0; i < data.length; i++) {
        data[i] = view.getFloat32(dataStart + begin + i * BYTES_PER_F32, true);
      }
      tensors.set(name, { name, shape, data });
      continue;
    }
    const data = new STORED_ARRAYS[dtype]((end - begin) / BYTES_PER_VALUE[dtype]);
    const read = READERS[dtype];
    for (let i = 0; i < data.length; i++) {
      data[i] = read(view, dataStart + begin + i * BYTES_PER_VALUE[dtype]);
    }
    stored.set(name, { name, shape, dtype, data } as StoredTensor);
  }
  // fromEntries defines own properties, so even a key named "__proto__" survives.
  return { tensors, metadata: Object.fromEntries(metadataPairs), stored };
}
