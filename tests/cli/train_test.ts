/**
 * Bad input at the door (issue 7's table): each case gets one line that says what is wrong, a
 * non-zero exit, no stack trace, and no half-written file.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { encodeSafetensors } from "../../engine/safetensors.ts";
import { gpuBackend, runCli } from "../helpers.ts";
import { assertRefused, mlp8Checkpoint, runTask, shortRun, tinyMnistDir } from "../refusals.ts";

const tiny = await tinyMnistDir();
const refusalTmp = await Deno.makeTempDir({ prefix: "train-refusals-" });

const TRAIN = new URL("../../cli/train.ts", import.meta.url).pathname;

/** An IDX file: magic 0x0803 (images) or 0x0801 (labels), big-endian dimensions, bytes. */
function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const bytes = new Uint8Array(header.byteLength + data.length);
  bytes.set(new Uint8Array(header.buffer));
  bytes.set(data, header.byteLength);
  return bytes;
}

const IMAGES = 0x803, LABELS = 0x801;
type Files = Record<string, Uint8Array>;

/** A tiny valid data set: 8 training and 4 test images of 28x28. */
function validFiles(): Files {
  const pixels = (n: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37) % 256);
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  return {
    "train-images-idx3-ubyte": idx(IMAGES, [8, 28, 28], pixels(8)),
    "train-labels-idx1-ubyte": idx(LABELS, [8], labels(8)),
    "t10k-images-idx3-ubyte": idx(IMAGES, [4, 28, 28], pixels(4)),
    "t10k-labels-idx1-ubyte": gzipSync(idx(LABELS, [4], labels(4))),
  };
}

async function dataDir(change: (files: Files) => void): Promise<string> {
  const dir = await Deno.makeTempDir();
  const files = validFiles();
  change(files);
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.writeFile(`${dir}/${name}${name.startsWith("t10k-labels") ? ".gz" : ""}`, bytes);
  }
  return dir;
}

const tmp = await Deno.makeTempDir();
const otherModel = `${tmp}/mlp-16.safetensors`;
await Deno.writeFile(
  otherModel,
  encodeSafetensors([{ name: "fc1.weight", shape: [16, 784], data: new Float32Array(16 * 784) }], {
    model: "mlp-16",
  }),
);
const truncated = `${tmp}/truncated.safetensors`;
await Deno.writeFile(truncated, (await Deno.readFile(otherModel)).slice(0, 100));
await Deno.writeFile(`${tmp}/a-file`, new Uint8Array(1));
const gpu = await gpuBackend();

const cases: [string, () => Promise<string[]>, RegExp][] = [
  ["a truncated IDX file", async () => [
    "mlp-30",
    "--data",
    await dataDir((f) => {
      f["train-images-idx3-ubyte"] = f["train-images-idx3-ubyte"].slice(0, 1000);
    }),
  ], /train-images-idx3-ubyte.*(truncated|short|bytes)/i],
  ["a wrong magic number", async () => [
    "mlp-30",
    "--data",
    await dataDir((f) => {
      f["train-labels-idx1-ubyte"][3] = 0x03;
    }),
  ], /train-labels-idx1-ubyte.*magic/i],
  ["image and label counts that differ", async () => [
    "mlp-30",
    "--data",
    await dataDir((f) => {
      f["train-labels-idx1-ubyte"] = idx(LABELS, [7], new Uint8Array(7));
    }),
  ], /8 images.*7 labels|7 labels.*8 images|count/i],
  ["a label above 9", async () => [
    "mlp-30",
    "--data",
    await dataDir((f) => {
      f["train-labels-idx1-ubyte"] = idx(LABELS, [8], Uint8Array.of(1, 2, 3, 12, 4, 5, 6, 7));
    }),
  ], /label.*12|12.*label/i],
  [
    "a missing data folder",
    () => Promise.resolve(["mlp-30", "--data", "/nonexistent/mnist"]),
    /\/nonexistent\/mnist/,
  ],
  ["an unknown model name", () => Promise.resolve(["resnet50"]), /unknown model "resnet50"/],
  ["a hidden size of 0", () => Promise.resolve(["mlp-0"]), /hidden size "0" must be a positive integer/],
  ["a negative hidden size", () => Promise.resolve(["mlp--5"]), /hidden size "" must be a positive integer/],
  ["a hidden size that is not an integer", () => Promise.resolve(["mlp-3.5"]), /hidden size "3\.5"/],
  [
    "a batch size of 0",
    () => Promise.resolve(["mlp-30", "--batch-size", "0"]),
    /--batch-size 0: must be an integer/,
  ],
  [
    "a batch size larger than the data",
    () => Promise.resolve(["mlp-30", "--train-limit", "3", "--batch-size", "4"]),
    /larger than the 3 training images/,
  ],
  [
    "a negative epoch count",
    () => Promise.resolve(["mlp-30", "--epochs", "-1"]),
    /--epochs -1: must be an integer/,
  ],
  [
    "a malformed learning-rate schedule",
    () => Promise.resolve(["mlp-30", "--lr-schedule", "1:fast"]),
    /lr-schedule/,
  ],
  [
    "a schedule not starting at epoch 1",
    () => Promise.resolve(["mlp-30", "--lr-schedule", "2:0.1"]),
    /epoch 1/,
  ],
  [
    "an output folder that cannot be written",
    () => Promise.resolve(["mlp-30", "--save", `${tmp}/a-file/m.safetensors`]),
    /a-file/,
  ],
  [
    "a truncated checkpoint",
    () => Promise.resolve(["mlp-30", "--weights", truncated]),
    /truncated\.safetensors/,
  ],
  [
    "a checkpoint of another model",
    () => Promise.resolve(["mlp-30", "--weights", otherModel]),
    /is a checkpoint of mlp-16, not mlp-30/,
  ],
  [
    "a model too large for the adapter's buffer limits",
    () => Promise.resolve(["mlp-700000", "--backend", gpu ? "webgpu" : "cpu", "--train-limit", "8"]),
    /fc1\.weight needs 2094 MiB, over the .*(maxBufferSize|limit).* 20\d\d MiB/,
  ],
  [
    "an unknown backend",
    () => Promise.resolve(["mlp-30", "--backend", "tpu"]),
    /--backend tpu: use webgpu or cpu/,
  ],
  ["an unknown flag", () => Promise.resolve(["mlp-30", "--frobnicate"]), /frobnicate/],
  ["no model", () => Promise.resolve([]), /name one model/],
];

for (const [what, args, expected] of cases) {
  Deno.test(`train with ${what}: one line, non-zero exit`, async () => {
    const { code, stderr } = await runCli(TRAIN, await args());
    assert.notEqual(code, 0);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], expected);
  });
}

Deno.test("train with no WebGPU adapter: one line saying how to fix it, non-zero exit", async () => {
  // Deno has no DirectX 12 on Linux, so asking for it leaves no adapter.
  const { code, stderr } = await runCli(TRAIN, ["mlp-30", "--epochs", "0"], { DENO_WEBGPU_BACKEND: "dx12" });
  assert.notEqual(code, 0);
  assert.match(stderr.trim(), /^error: no WebGPU adapter found: .*mesa-vulkan-drivers.*--backend cpu$/);
});

Deno.test("train on a tiny valid data folder works (so the cases above fail for their reason)", async () => {
  const dir = await dataDir(() => {});
  const { code, stderr } = await runCli(TRAIN, ["mlp-8", "--epochs", "1", "--data", dir, "--backend", "cpu"]);
  assert.equal(code, 0, stderr);
});

Deno.test("no half-written file: a refused --save leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  const { code } = await runCli(TRAIN, ["mlp-30", "--weights", truncated, "--save", `${dir}/m.safetensors`]);
  assert.notEqual(code, 0);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

// Bad input (issue 14), beside the module it exercises.

Deno.test("--help states each numeric flag's range", async () => {
  const help = await runTask("train", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /ranges: .*--epochs 0\.\.1,000.*--seed 0\.\.4,294,967,295/);
});

Deno.test("--save onto a folder, an empty path, a FIFO or a symbolic link: refused before training", async () => {
  const folder = await Deno.makeTempDir();
  const target = `${refusalTmp}/target.txt`;
  await Deno.writeTextFile(target, "keep me");
  const link = `${refusalTmp}/link.safetensors`;
  await Deno.symlink(target, link);
  const fifo = `${refusalTmp}/fifo`;
  assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
  for (
    const [save, expected] of [
      [folder, /--save .* is a folder, not a regular file/],
      ["", /--save "": the path is empty/],
      [link, /--save .*link\.safetensors is a symbolic link, not a regular file/],
      [fifo, /--save .*fifo is a device or other special file, not a regular file/],
    ] as const
  ) {
    assertRefused(
      await runTask("train", ["mlp-8", ...shortRun(tiny), "--epochs", "1", "--save", save]),
      expected,
    );
  }
  assert.ok((await Deno.lstat(link)).isSymlink);
  assert.equal(await Deno.readTextFile(target), "keep me");
  assert.ok((await Deno.lstat(fifo)).isFifo);
  assert.deepEqual([...Deno.readDirSync(folder)], []);
});

Deno.test("train --epochs 0 --weights X prints the test accuracy without --json too", async () => {
  const path = await mlp8Checkpoint(refusalTmp, "good.safetensors");
  const result = await runTask("train", ["mlp-8", "--weights", path, ...shortRun(tiny), "--epochs", "0"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /test accuracy 0\.\d{4}/);
});
