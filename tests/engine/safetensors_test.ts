import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { ensureWritableDir, writeFileAtomic } from "../../io/files.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../../engine/safetensors.ts";
import { loadSafetensors, saveSafetensors } from "../../io/checkpoint_file.ts";
import { loadCheckpoint } from "../../io/checkpoint_file.ts";
import { CompiledModel } from "../../models/model.ts";
import { modelByName } from "../../models/zoo.ts";

const SOURCE = "test.safetensors";

/** A file with a raw header string (no padding) followed by `dataBytes` zero bytes. */
function rawFile(header: string, dataBytes = 0, declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + json.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  bytes.set(json, 8);
  return bytes;
}

function assertRejected(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, SOURCE), (error: unknown) => {
    assert.ok(error instanceof UserError, `expected a UserError, got ${error}`);
    assert.ok(error.message.includes(SOURCE), error.message);
    assert.ok(!error.message.includes("\n"), error.message);
    assert.match(error.message, reason);
    return true;
  });
}

function sampleTensors(): NamedTensor[] {
  return [
    { name: "conv1.weight", shape: [2, 1, 3], data: new Float32Array([1, -2, 0.5, -0, Infinity, NaN]) },
    { name: "scale", shape: [], data: new Float32Array([3.25]) },
    { name: "empty", shape: [0, 4], data: new Float32Array(0) },
    // Integer-like names would jump to the front of a plain JavaScript object: the order must survive.
    { name: "10", shape: [3], data: new Float32Array([1e-30, 3e38, -7]) },
    { name: "0", shape: [1, 1], data: new Float32Array([42]) },
  ];
}

function bitsOf(data: Float32Array): number[] {
  return Array.from(new Uint32Array(data.slice().buffer));
}

Deno.test("safetensors round trip keeps names, order, shapes, exact bits and metadata", () => {
  const tensors = sampleTensors();
  const metadata = { format: "pt", model: "lenet5", note: "naïve ✓" };
  const bytes = encodeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);

  const decoded = decodeSafetensors(bytes, SOURCE);
  assert.deepEqual(decoded.metadata, metadata);
  assert.deepEqual([...decoded.tensors.keys()], tensors.map((t) => t.name));
  for (const tensor of tensors) {
    const read = decoded.tensors.get(tensor.name)!;
    assert.equal(read.name, tensor.name);
    assert.deepEqual(read.shape, tensor.shape);
    assert.deepEqual(bitsOf(read.data), bitsOf(tensor.data));
  }
});

Deno.test("safetensors round trip without tensors or metadata", () => {
  const decoded = decodeSafetensors(encodeSafetensors([], {}), SOURCE);
  assert.equal(decoded.tensors.size, 0);
  assert.deepEqual(decoded.metadata, {});
});

Deno.test("safetensors encodes a tiny file byte for byte as the spec says", () => {
  const bytes = encodeSafetensors([{ name: "a", shape: [2], data: new Float32Array([1, -2]) }], { k: "v" });
  // 26 chars of metadata part + 53 chars of tensor part = 79, padded with one space to 80.
  const header = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} ';
  assert.equal(header.length, 80);
  const expected = [
    ...[80, 0, 0, 0, 0, 0, 0, 0], // header length, u64 little-endian
    ...Array.from(header, (char) => char.charCodeAt(0)),
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f  = 0x3f800000, little-endian
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f = 0xc0000000, little-endian
  ];
  assert.deepEqual(Array.from(bytes), expected);
});

Deno.test("safetensors reads data that is not 4-byte aligned", () => {
  // Unpadded header of 79 bytes: the data starts at byte 87 of the file.
  const file = rawFile('{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8);
  new DataView(file.buffer).setFloat32(87, 1.5, true);
  new DataView(file.buffer).setFloat32(91, -4, true);
  // And the file itself sits at an odd offset inside a larger buffer.
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 1);
  for (const bytes of [file, shifted.subarray(1, 1 + file.length)]) {
    const a = decodeSafetensors(bytes, SOURCE).tensors.get("a")!;
    assert.deepEqual(Array.from(a.data), [1.5, -4]);
  }
});

Deno.test("safetensors rejects malformed files with one line naming the file", () => {
  const entry = (info: string) => `{"t":${info}}`;
  const f32 = (shape: string, offsets: string) =>
    entry(`{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}`);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /shorter than the 8-byte/],
    ["7 bytes", new Uint8Array(7), /shorter than the 8-byte/],
    ["header past the end", rawFile("{}", 0, 3), /runs past the end/],
    ["absurd header length", rawFile("{}", 0, 100_000_001), /over 100 MB/],
    ["header length over 2^53", rawFile("{}", 0, 2 ** 60), /over 100 MB/],
    ["invalid JSON", rawFile('{"t":'), /not valid UTF-8 JSON/],
    ["empty header", rawFile(""), /not valid UTF-8 JSON/],
    [
      "invalid UTF-8",
      (() => {
        const bytes = rawFile('{"\u00ff":{}}');
        bytes[11] = 0xff; // turn the 2-byte sequence c3 bf into c3 ff
        return bytes;
      })(),
      /not valid UTF-8 JSON/,
    ],
    ["header an array", rawFile("[]"), /not a JSON object/],
    ["header a string", rawFile('"x"'), /not a JSON object/],
    ["header null", rawFile("null"), /not a JSON object/],
    ["entry not an object", rawFile(entry("[1]")), /"t" is not an object/],
    ["missing dtype", rawFile(entry('{"shape":[1],"data_offsets":[0,4]}'), 4), /lacks dtype/],
    ["missing shape", rawFile(entry('{"dtype":"F32","data_offsets":[0,4]}'), 4), /lacks dtype/],
    ["missing data_offsets", rawFile(entry('{"dtype":"F32","shape":[1]}'), 4), /lacks dtype/],
    [
      "dtype F16 of the wrong size",
      rawFile(entry('{"dtype":"F16","shape":[2],"data_offsets":[0,8]}'), 8),
      /needs 4 bytes/,
    ],
    [
      "dtype F64",
      rawFile(entry('{"dtype":"F64","shape":[1],"data_offsets":[0,8]}'), 8),
      /"F64"; supported: F32, F16/,
    ],
    ["negative shape", rawFile(f32("[-1]", "[0,4]"), 4), /has shape/],
    ["fractional shape", rawFile(f32("[1.5]", "[0,4]"), 4), /has shape/],
    ["string shape entry", rawFile(f32('["1"]', "[0,4]"), 4), /has shape/],
    ["shape not a list", rawFile(f32("1", "[0,4]"), 4), /has shape/],
    ["offsets not a pair", rawFile(f32("[1]", "[0]"), 4), /expected \[begin, end\]/],
    ["negative offset", rawFile(f32("[1]", "[-4,0]"), 4), /expected \[begin, end\]/],
    ["offsets too short for shape", rawFile(f32("[2]", "[0,4]"), 8), /needs 8 bytes/],
    ["offsets reversed", rawFile(f32("[1]", "[4,0]"), 4), /needs 4 bytes/],
    ["offsets past the data", rawFile(f32("[2]", "[0,8]"), 4), /past the 4 data bytes/],
    ["gap before the first tensor", rawFile(f32("[1]", "[4,8]"), 8), /starts at 4, expected 0/],
    [
      "overlapping tensors",
      rawFile(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        12,
      ),
      /overlap or gap/,
    ],
    [
      "gap between tensors",
      rawFile(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
        12,
      ),
      /overlap or gap/,
    ],
    ["bytes after the last tensor", rawFile(f32("[1]", "[0,4]"), 8), /4 data bytes after the last tensor/],
    ["metadata value a number", rawFile('{"__metadata__":{"epoch":3}}'), /metadata "epoch" is not a string/],
    ["metadata not an object", rawFile('{"__metadata__":"x"}'), /__metadata__ is not an object/],
  ];
  for (const [, bytes, reason] of cases) assertRejected(bytes, reason);
});

/** Deterministic so that a failing fuzz case can be replayed. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  -1,
  0,
  1,
  1.5,
  4,
  2 ** 53,
  1e300,
  "F32",
  "F16",
  null,
  true,
  [],
  [0],
  [0, 4],
  [4, 0],
  [0, 1e20],
  {},
];

/** Replaces one field of the header with an odd value, keeping the header length right. */
function structuralMutation(valid: Uint8Array, random: () => number): Uint8Array {
  const headerLength = Number(new DataView(valid.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + headerLength)));
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const name = pick(Object.keys(header));
  const odd = pick(ODD_VALUES);
  if (name === "__metadata__" || random() < 0.2) header[name] = odd;
  else header[name][pick(["dtype", "shape", "data_offsets", "shape"])] = odd;
  return rawFile(JSON.stringify(header), valid.length - 8 - headerLength);
}

function byteMutation(valid: Uint8Array, random: () => number): Uint8Array {
  const kind = Math.floor(random() * 4);
  if (kind === 0) return valid.slice(0, Math.floor(random() * valid.length));
  const bytes = valid.slice();
  if (kind === 1) {
    // Header lengths near the true one, or anything at all.
    const view = new DataView(bytes.buffer);
    const nearby = Number(view.getBigUint64(0, true)) + Math.floor(random() * 33) - 16;
    view.setBigUint64(0, BigInt(random() < 0.8 ? Math.max(0, nearby) : Math.floor(random() * 2 ** 52)), true);
    return bytes;
  }
  const headerEnd = Math.min(bytes.length, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)));
  const alphabet = '{}[]",:0123456789-.e \u00ff';
  for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
    const at = Math.floor(random() * (kind === 2 ? headerEnd : bytes.length));
    bytes[at] = kind === 2 ? alphabet.charCodeAt(Math.floor(random() * alphabet.length)) : random() * 256;
  }
  return bytes;
}

Deno.test("safetensors fuzz: mutated files decode or throw UserError, never anything else", () => {
  const valid = encodeSafetensors(sampleTensors(), { epoch: "3", model: "lenet5" });
  const random = mulberry32(20240601);
  let decoded = 0;
  let rejected = 0;
  // A fixed number of trials from a fixed seed: the same test on every machine, however fast.
  for (let trial = 0; trial < 3000; trial++) {
    const bytes = random() < 0.4 ? structuralMutation(valid, random) : byteMutation(valid, random);
    try {
      decodeSafetensors(bytes, SOURCE);
      decoded++;
    } catch (error) {
      if (!(error instanceof UserError)) throw new Error(`trial ${trial}: non-UserError ${error}`);
      rejected++;
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the checks.
  assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
});

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listFolder(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("saveSafetensors and loadSafetensors round trip through a file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    await saveSafetensors(path, sampleTensors(), { model: "mlp" });
    const loaded = await loadSafetensors(path);
    assert.deepEqual(loaded.metadata, { model: "mlp" });
    assert.deepEqual(bitsOf(loaded.tensors.get("conv1.weight")!.data), bitsOf(sampleTensors()[0].data));
    assert.deepEqual(await listFolder(dir), ["model.safetensors"]);
  });
});

Deno.test("loadSafetensors on a missing file throws a UserError naming it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/absent.safetensors`;
    await assert.rejects(loadSafetensors(path), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.ok(error.message.includes(path) && !error.message.includes("\n"), error.message);
      return true;
    });
  });
});

Deno.test("writeFileAtomic replaces the target whole and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/out.txt`;
    await writeFileAtomic(path, "a much longer first version of the file");
    await writeFileAtomic(path, "short");
    assert.equal(await Deno.readTextFile(path), "short");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(Array.from(await Deno.readFile(path)), [1, 2, 3]);
    assert.deepEqual(await listFolder(dir), ["out.txt"]);
  });
});

Deno.test("writeFileAtomic into an unusable folder throws a UserError and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/plain-file`, "x");
    // A path under a file fails even for root, unlike a chmod'ed folder.
    for (const path of [`${dir}/plain-file/out.txt`, `${dir}/missing/out.txt`]) {
      await assert.rejects(writeFileAtomic(path, "data"), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.ok(error.message.includes(path) && !error.message.includes("\n"), error.message);
        return true;
      });
    }
    assert.deepEqual(await listFolder(dir), ["plain-file"]);
  });
});

Deno.test("writeFileAtomic onto a folder fails and removes its temp file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/taken`);
    await assert.rejects(writeFileAtomic(`${dir}/taken`, "data"), UserError);
    assert.deepEqual(await listFolder(dir), ["taken"]);
  });
});

Deno.test("ensureWritableDir creates nested folders and rejects a path under a file", async () => {
  await withTempDir(async (dir) => {
    await ensureWritableDir(`${dir}/a/b`);
    assert.ok((await Deno.stat(`${dir}/a/b`)).isDirectory);
    assert.deepEqual(await listFolder(`${dir}/a/b`), []);
    await Deno.writeTextFile(`${dir}/file`, "x");
    for (const bad of [`${dir}/file`, `${dir}/file/sub`]) {
      await assert.rejects(ensureWritableDir(bad), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.ok(error.message.includes(bad) && !error.message.includes("\n"), error.message);
        return true;
      });
    }
  });
});

/** Changes what a checkpoint says rather than how it is encoded: its model's name, its values, a tensor. */
function checkpointMutation(valid: Uint8Array, random: () => number): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(valid, SOURCE);
  const list = [...tensors.values()].map((tensor) => ({ ...tensor, data: tensor.data.slice() }));
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const tensor = pick(list);
  switch (Math.floor(random() * 6)) {
    case 0:
      metadata.model = pick(["mlp-8-8", "lenet5", "", "constructor", "__proto__", "mlp-8 "]);
      break;
    case 1:
      tensor.data[Math.floor(random() * tensor.data.length)] = pick([NaN, Infinity, -Infinity, 3e38, -0]);
      break;
    case 2: // another shape holding the same values
      tensor.shape = [tensor.data.length];
      break;
    case 3:
      list.splice(list.indexOf(tensor), 1);
      break;
    case 4:
      list.push({
        name: pick(["fc3.weight", "fc1.weight.extra", "__proto__", "constructor"]),
        shape: [1],
        data: new Float32Array(1),
      });
      break;
    default:
      tensor.name = `${tensor.name}x`;
  }
  try {
    return encodeSafetensors(list, metadata);
  } catch {
    return valid;
  }
}

Deno.test("checkpoint fuzz: mutated checkpoints load a sound model or raise a one-line UserError", async () => {
  // Each case goes the whole way a user's file goes: a file, loadSafetensors, loadCheckpoint, the model.
  const backend = new CpuBackend();
  const model = new CompiledModel(backend, modelByName("mlp-8"), 4, 0);
  const random = mulberry32(1414);
  const tensors = model.parameters.map((p) => ({
    name: p.name,
    shape: [...p.shape],
    data: Float32Array.from({ length: p.value.length }, () => random() - 0.5),
  }));
  const valid = encodeSafetensors(tensors, { model: "mlp-8", epochs: "1" });
  const counts = { loaded: 0, refused: 0 };
  await withTempDir(async (dir) => {
    const path = `${dir}/fuzz.safetensors`;
    for (let trial = 0; trial < 400; trial++) {
      const kind = random();
      const bytes = kind < 0.3
        ? structuralMutation(valid, random)
        : kind < 0.6
        ? byteMutation(valid, random)
        : checkpointMutation(valid, random);
      await Deno.writeFile(path, bytes);
      try {
        await loadCheckpoint(model, path);
        counts.loaded++;
      } catch (error) {
        if (!(error instanceof UserError)) throw new Error(`trial ${trial}: not a UserError: ${error}`);
        assert.doesNotMatch(error.message, /\n/, `trial ${trial}`);
        counts.refused++;
        continue;
      }
      // Loaded: the model must be sound, every weight finite and of its own length.
      for (const parameter of model.parameters) {
        const values = await backend.read(parameter.value);
        assert.equal(values.length, parameter.value.length, `trial ${trial}: ${parameter.name}`);
        assert.ok(values.every(Number.isFinite), `trial ${trial}: ${parameter.name} is not finite`);
      }
    }
  });
  // Both outcomes must occur, or the mutations are not exercising the checks.
  assert.ok(counts.loaded > 0 && counts.refused > 0, JSON.stringify(counts));
});
