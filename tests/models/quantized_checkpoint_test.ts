/**
 * Quantized checkpoints: a float checkpoint converted to every kind of format (intB per tensor and per
 * channel, Qm.n in I8 / I16 / I32, f16), its stored codes and dequantised values against the formats'
 * definitions, loaded into a float model (dequantised on the way), bad files and requests refused in one
 * line, and PyTorch reading the result (where torch is installed): the same floats bit for bit, and
 * torch quantized tensors for the intB ones.
 */
import assert from "node:assert/strict";
import { CpuBackend } from "../../engine/cpu/backend.ts";
import { UserError } from "../../engine/errors.ts";
import {
  affineParamsFromRange,
  fixedPointFormat,
  integerFormat,
  integerRange,
  parseQuantFormat,
  type QuantFormat,
  quantizeValue,
  roundHalfEven,
} from "../../engine/quantization.ts";
import { type DecodedSafetensors, decodeSafetensors, encodeSafetensors } from "../../engine/safetensors.ts";
import {
  decodeCheckpoint,
  dequantizeCheckpoint,
  encodeCheckpoint,
  QUANTIZATION_KEY,
  quantizeCheckpoint,
} from "../../models/checkpoint.ts";
import { CompiledModel } from "../../models/model.ts";
import { modelByName } from "../../models/zoo.ts";
import { Random, randomArray } from "../helpers.ts";
import { pytorchForTests } from "../pytorch_tests.ts";

/** A small float checkpoint with a conv weight, a dense weight, biases, and values past Q3.5's range. */
function floatCheckpoint(): DecodedSafetensors {
  const random = new Random(19);
  const conv = randomArray(random, 3 * 1 * 3 * 3, 0.5);
  const dense = randomArray(random, 5 * 7, 2);
  dense[3] = 9.3; // past Q3.5's 3.97: saturates there
  dense[4] = -0.015625 * 3; // a tie in Q3.5 (-1.5 steps)
  const tensors = [
    { name: "conv1.weight", shape: [3, 1, 3, 3], data: conv },
    { name: "conv1.bias", shape: [3], data: randomArray(random, 3, 0.1) },
    { name: "fc1.weight", shape: [5, 7], data: dense },
    { name: "fc1.bias", shape: [5], data: randomArray(random, 5, 0.1) },
  ];
  return decodeSafetensors(encodeSafetensors(tensors, { model: "test-net", pixelMean: "0.1307" }), "float");
}

/** Each stored code by the format's definition: scales from the min-max range, round to nearest even, saturate. */
function expectedCodes(
  data: Float32Array,
  shape: number[],
  format: QuantFormat,
  perChannel: boolean,
): number[] {
  if (format.kind === "fixed") {
    const { min, max } = integerRange(format);
    return Array.from(data, (x) => Math.min(max, Math.max(min, roundHalfEven(x * 2 ** format.fractionBits))));
  }
  if (format.kind !== "integer") throw new Error("integer or fixed formats only");
  const channels = perChannel ? shape[0] : 1, inner = data.length / channels;
  const codes: number[] = [];
  for (let c = 0; c < channels; c++) {
    const slice = data.subarray(c * inner, (c + 1) * inner);
    const { scale, zeroPoint } = affineParamsFromRange(Math.min(...slice), Math.max(...slice), format);
    for (const x of slice) codes.push(quantizeValue(x, scale, zeroPoint, integerRange(format)));
  }
  return codes;
}

const CONVERSIONS: [string, QuantFormat, boolean, string][] = [
  ["int8 per tensor", integerFormat(8), false, "I8"],
  ["int8 per channel", integerFormat(8), true, "I8"],
  ["uint8 affine", integerFormat(8, false), false, "U8"],
  ["int4 per channel", integerFormat(4), true, "I8"],
  ["int2", integerFormat(2), false, "I8"],
  ["Q3.5", fixedPointFormat(3, 5), false, "I8"],
  ["Q6.10", fixedPointFormat(6, 10), false, "I16"],
  ["Q12.20", fixedPointFormat(12, 20), false, "I32"],
  ["f16", parseQuantFormat("f16"), false, "F16"],
];

for (const [what, format, perChannel, dtype] of CONVERSIONS) {
  Deno.test(`a float checkpoint converts to ${what} (${dtype}) and back`, () => {
    const float = floatCheckpoint();
    const bytes = quantizeCheckpoint(float, format, { perChannel });
    const quantized = decodeSafetensors(bytes, `${what}.safetensors`);
    assert.equal(quantized.metadata.model, "test-net");
    const entries = JSON.parse(quantized.metadata[QUANTIZATION_KEY]);
    const restored = dequantizeCheckpoint(quantized, what);
    assert.equal(restored.metadata[QUANTIZATION_KEY], undefined);
    assert.deepEqual(restored.metadata, float.metadata);
    for (const tensor of float.tensors.values()) {
      const back = restored.tensors.get(tensor.name)!.data;
      // intB keeps biases in float32, as PyTorch's quantized layers do.
      if (format.kind === "integer" && tensor.shape.length === 1) {
        assert.ok(quantized.tensors.has(tensor.name) && !quantized.stored!.has(tensor.name));
        assert.deepEqual(back, tensor.data);
        continue;
      }
      const stored = quantized.stored!.get(tensor.name)!;
      assert.equal(stored.dtype, dtype, tensor.name);
      assert.deepEqual(stored.shape, tensor.shape);
      const info = entries[tensor.name];
      if (format.kind === "f16") {
        assert.deepEqual(back, Float32Array.from(tensor.data, Math.f16round));
        continue;
      }
      assert.deepEqual(Array.from(stored.data), expectedCodes(tensor.data, tensor.shape, format, perChannel));
      assert.equal(info.scales.length, perChannel ? tensor.shape[0] : 1);
      const inner = tensor.data.length / info.scales.length;
      for (let i = 0; i < back.length; i++) {
        const c = Math.floor(i / inner);
        assert.equal(back[i], Math.fround((stored.data[i] - info.zero_points[c]) * info.scales[c]));
      }
    }
  });
}

Deno.test("Q3.5 saturates 9.3 at 127/32 and rounds the tie -1.5 steps to -2", () => {
  const quantized = decodeSafetensors(quantizeCheckpoint(floatCheckpoint(), fixedPointFormat(3, 5)), "q");
  const codes = quantized.stored!.get("fc1.weight")!.data;
  assert.equal(codes[3], 127);
  assert.equal(codes[4], -2);
});

Deno.test("a quantized checkpoint loads into a float model dequantised, and reloads as it saved", async () => {
  const backend = new CpuBackend();
  const model = new CompiledModel(backend, modelByName("mlp-8"), 4, 0);
  const float = decodeSafetensors(await encodeCheckpoint(model), "mlp-8");
  const bytes = quantizeCheckpoint(float, fixedPointFormat(6, 10));
  const metadata = decodeCheckpoint(model, bytes, "mlp-8-q6.10.safetensors");
  assert.equal(metadata.model, "mlp-8");
  const expected = dequantizeCheckpoint(decodeSafetensors(bytes, "q"), "q");
  for (const parameter of model.parameters) {
    assert.deepEqual(await backend.read(parameter.value), expected.tensors.get(parameter.name)!.data);
  }
});

function assertRefused(action: () => unknown, pattern: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof UserError, `expected a UserError, got ${error}`);
    assert.ok(!error.message.includes("\n"));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("refused in one line: a quantized checkpoint quantized again, per-channel Qm.n, a tensor without its entry, an unknown format", () => {
  const bytes = quantizeCheckpoint(floatCheckpoint(), integerFormat(8));
  const quantized = decodeSafetensors(bytes, "q");
  assertRefused(() => quantizeCheckpoint(quantized, integerFormat(4)), /quantized already/);
  assertRefused(
    () => quantizeCheckpoint(floatCheckpoint(), fixedPointFormat(6, 10), { perChannel: true }),
    /per-channel scales apply to intB formats, not q6\.10/,
  );
  const withEntries = (entries: object) =>
    decodeSafetensors(
      encodeSafetensors([...quantized.tensors.values(), ...quantized.stored!.values()], {
        [QUANTIZATION_KEY]: JSON.stringify(entries),
      }),
      "edited.safetensors",
    );
  const entries = JSON.parse(quantized.metadata[QUANTIZATION_KEY]);
  assertRefused(
    () => dequantizeCheckpoint(withEntries({}), "edited.safetensors"),
    /conv1\.weight is I8 without a quantization entry/,
  );
  assertRefused(
    () =>
      dequantizeCheckpoint(
        withEntries({ ...entries, "fc1.weight": { ...entries["fc1.weight"], format: "int9" } }),
        "e",
      ),
    /fc1\.weight: integer quantization takes 2 to 8 bits, not 9/,
  );
  assertRefused(
    () =>
      dequantizeCheckpoint(
        withEntries({ ...entries, "fc1.weight": { ...entries["fc1.weight"], scales: [1, 2] } }),
        "e",
      ),
    /fc1\.weight: its scales and zero points do not fit 1 channel/,
  );
});

Deno.test("PyTorch reads a quantized checkpoint: the same floats bit for bit, torch quantized tensors for intB", async (t) => {
  const torch = await pytorchForTests();
  if (!torch.ok || !torch.python) {
    return void t.step({ name: `skipped: ${torch.why}`, ignore: true, fn: () => {} });
  }
  const dir = await Deno.makeTempDir();
  const script = new URL("../../lab/peers/pytorch_quantized_load.py", import.meta.url).pathname;
  // One python process for every conversion: importing torch takes seconds.
  const requests = await Promise.all(CONVERSIONS.map(async ([, format, perChannel], i) => {
    const checkpoint = `${dir}/checkpoint-${i}.safetensors`;
    await Deno.writeFile(checkpoint, quantizeCheckpoint(floatCheckpoint(), format, { perChannel }));
    return { checkpoint, floatOut: `${dir}/float-${i}.safetensors` };
  }));
  const child = new Deno.Command(torch.python, {
    args: [script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(requests)));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  assert.equal(lines.length, CONVERSIONS.length);
  for (const [i, [what, format, perChannel]] of CONVERSIONS.entries()) {
    const described = JSON.parse(lines[i]);
    const ours = dequantizeCheckpoint(
      decodeSafetensors(await Deno.readFile(requests[i].checkpoint), what),
      what,
    );
    const theirs = decodeSafetensors(await Deno.readFile(requests[i].floatOut), "PyTorch's floats");
    assert.deepEqual([...theirs.tensors.keys()].sort(), [...ours.tensors.keys()].sort());
    for (const [name, tensor] of ours.tensors) {
      assert.deepEqual(theirs.tensors.get(name)!.data, tensor.data, `${what} ${name}`);
      assert.deepEqual(theirs.tensors.get(name)!.shape, tensor.shape);
    }
    const weight = described.tensors["fc1.weight"];
    if (format.kind === "integer") {
      const scheme = perChannel ? "per_channel_affine" : "per_tensor_affine";
      assert.equal(weight.torch, `torch.${format.signed ? "qint8" : "quint8"} ${scheme}`, what);
      // torch's own dequantize() of the quantized tensor: the same values (to float32 rounding).
      assert.ok(weight.dequantizeMaxDifference <= 1e-6, `${what}: ${weight.dequantizeMaxDifference}`);
    } else {
      assert.equal(weight.torch, undefined);
    }
    assert.equal(described.metadata.model, "test-net");
  }
  await Deno.remove(dir, { recursive: true });
});
