/**
 * safetensors beyond float32: F16, I8, U8, I16 and I32 tensors written and read back exactly beside F32
 * ones, float32-only files unchanged byte for byte, and the half-precision bit conversions they use.
 */
import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "../../engine/safetensors.ts";
import { halfBits, halfFromBits } from "../../engine/quantization.ts";

Deno.test("halfBits and halfFromBits agree with Float16Array on every half and round as it does", () => {
  const halves = new Float16Array(Uint16Array.from({ length: 65536 }, (_, i) => i).buffer);
  for (let bits = 0; bits < 65536; bits++) {
    const value = halves[bits];
    if (Number.isNaN(value)) {
      assert.ok(Number.isNaN(halfFromBits(bits)));
      assert.ok(Number.isNaN(halfFromBits(halfBits(value))));
      continue;
    }
    assert.ok(Object.is(halfFromBits(bits), value), `bits ${bits}`);
    assert.equal(halfBits(value), bits, `value ${value}`);
  }
  // Ties to even, overflow to infinity, subnormals, underflow to zero.
  for (
    const x of [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 65519.99, 2 ** -25, 3 * 2 ** -26, -1e-9, 0.1, 1e6]
  ) {
    assert.equal(halfBits(x), new Uint16Array(Float16Array.of(x).buffer)[0], `${x}`);
  }
});

const STORED: StoredTensor[] = [
  { name: "w8", shape: [2, 3], dtype: "I8", data: Int8Array.of(-128, -1, 0, 1, 127, 5) },
  { name: "u8", shape: [3], dtype: "U8", data: Uint8Array.of(0, 128, 255) },
  { name: "q16", shape: [1, 3], dtype: "I16", data: Int16Array.of(-32768, 12345, 32767) },
  { name: "q32", shape: [3], dtype: "I32", data: Int32Array.of(-(2 ** 31), 7, 2 ** 31 - 1) },
  { name: "h", shape: [2], dtype: "F16", data: Uint16Array.of(halfBits(-0.5), halfBits(65504)) },
];

Deno.test("stored tensors of every dtype round-trip exactly beside F32 ones, in order, odd byte offsets included", () => {
  const floats = { name: "bias", shape: [3], data: Float32Array.of(0.1, -2, 3e38) };
  // A one-byte tensor first puts every later tensor at an odd offset.
  const first: StoredTensor = { name: "first", shape: [1], dtype: "I8", data: Int8Array.of(-3) };
  const bytes = encodeSafetensors([first, floats, ...STORED], { model: "mlp-8" });
  const decoded = decodeSafetensors(bytes, "mixed.safetensors");
  assert.deepEqual([...decoded.tensors.keys()], ["bias"]);
  assert.deepEqual([...decoded.stored!.keys()], ["first", ...STORED.map((t) => t.name)]);
  assert.deepEqual(decoded.tensors.get("bias")!.data, floats.data);
  for (const tensor of STORED) {
    const read = decoded.stored!.get(tensor.name)!;
    assert.equal(read.dtype, tensor.dtype);
    assert.deepEqual(read.shape, tensor.shape);
    assert.deepEqual(read.data, tensor.data, tensor.name);
  }
  assert.equal(halfFromBits(decoded.stored!.get("h")!.data[1]), 65504);
});

Deno.test("a float32-only file is laid out exactly as before stored dtypes existed", () => {
  const bytes = encodeSafetensors([{ name: "a", shape: [2], data: Float32Array.of(1, -2) }], { model: "x" });
  const header = '{"__metadata__":{"model":"x"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const padded = header.padEnd(Math.ceil(header.length / 8) * 8, " ");
  const expected = new Uint8Array(8 + padded.length + 8);
  const view = new DataView(expected.buffer);
  view.setBigUint64(0, BigInt(padded.length), true);
  expected.set(new TextEncoder().encode(padded), 8);
  view.setFloat32(8 + padded.length, 1, true);
  view.setFloat32(12 + padded.length, -2, true);
  assert.deepEqual(bytes, expected);
  assert.equal(decodeSafetensors(bytes, "a.safetensors").stored!.size, 0);
});
