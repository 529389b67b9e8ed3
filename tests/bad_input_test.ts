/**
 * Bad input and faults by class (issue 14): each class has its tests here, each run as a hostile user
 * would run the CLIs (subprocesses with their tasks' permissions), and each failed on the code before
 * the fix. Every refusal is one line `error: ...` and exit 2, before any work, losing nothing.
 */
import assert from "node:assert/strict";
import { CpuBackend } from "../engine/cpu/backend.ts";
import { UserError } from "../engine/errors.ts";
import { encodeSafetensors } from "../engine/safetensors.ts";
import { saveSafetensors } from "../io/checkpoint_file.ts";
import { checkOutputFile, writeFileAtomic } from "../io/files.ts";
import { FLAG_RANGES, integerFlag, numberFlag } from "../io/command.ts";
import { readIdx } from "../lab/mnist.ts";
import { CompiledModel } from "../models/model.ts";
import { modelByName } from "../models/zoo.ts";
import { gpuBackend, REPO_ROOT, taskArgs } from "./helpers.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Runs `deno task NAME ARGS` as a user would: from the repository, with the task's own permissions. */
async function task(name: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    cwd: REPO_ROOT,
    args: [...taskArgs(name), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  }).output();
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** A refusal at the door: exit 2, one line `error: ...` matching `expected`, and no work on stdout. */
function assertRefused(result: { code: number; stdout: string; stderr: string }, expected: RegExp): void {
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], expected);
  assert.equal(result.code, 2, result.stderr);
  assert.doesNotMatch(result.stdout, /epoch \d|saved /, "work started before the refusal");
}

// ---------- tiny data sets ----------

function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

const IMAGES = 0x803, LABELS = 0x801;

/** Writes a valid MNIST folder of `side` x `side` images, 8 for training and 4 for testing. */
async function dataDir(options: { side?: number; pixel?: (i: number) => number } = {}): Promise<string> {
  const side = options.side ?? 28, pixel = options.pixel ?? ((i: number) => (i * 37) % 256);
  const dir = await Deno.makeTempDir({ prefix: "bad-input-data-" });
  const set = async (prefix: string, count: number) => {
    const pixels = Uint8Array.from({ length: count * side * side }, (_, i) => pixel(i));
    await Deno.writeFile(`${dir}/${prefix}-images-idx3-ubyte`, idx(IMAGES, [count, side, side], pixels));
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    await Deno.writeFile(`${dir}/${prefix}-labels-idx1-ubyte`, idx(LABELS, [count], labels));
  };
  await set("train", 8);
  await set("t10k", 4);
  return dir;
}

const tiny = await dataDir();
const tmp = await Deno.makeTempDir({ prefix: "bad-input-" });
/** Flags for a short, valid run on the tiny data (a run the old code would have finished). */
const SHORT = ["--data", tiny, "--backend", "cpu"];

// ---------- 1. names that are JavaScript object keys ----------

const OBJECT_KEYS = ["constructor", "toString", "hasOwnProperty", "__proto__"];

Deno.test("1. model names that are object keys are unknown models, listing the valid names", () => {
  for (const name of OBJECT_KEYS) {
    assert.throws(() => modelByName(name), (error: Error) => {
      assert.ok(error instanceof UserError, `${name}: ${error}`);
      assert.match(
        error.message,
        new RegExp(`unknown model "${name}": use lenet5, lenet5-avg, mlp-H or mlp-H1-H2`),
      );
      return true;
    });
  }
});

for (
  const [cli, args] of [
    ["train", ["constructor"]],
    ["sweep", ["--models", "mlp-8,toString"]],
    ["profile", ["hasOwnProperty"]],
    ["bench", ["--models", "constructor"]],
    ["eval", ["toString", "--weights", "x.safetensors"]],
  ] as const
) {
  Deno.test(`1. ${cli} ${args.join(" ")}: one line naming the valid models, exit 2`, async () => {
    assertRefused(
      await task(cli, [...args]),
      /unknown model "\w+": use lenet5, lenet5-avg, mlp-H or mlp-H1-H2/,
    );
  });
}

// ---------- 2. numeric flags: one range each, checked before any work ----------

Deno.test("2. every numeric flag's range refuses just past its ends and takes its ends", () => {
  for (const [name, range] of FLAG_RANGES) {
    const parse = (value: number) => numberFlag(name, String(value));
    assert.equal(parse(range.max), range.max, name);
    const past = range.integer ? range.max + 1 : range.max * 1.001;
    assert.throws(() => parse(past), UserError, `--${name} ${past}`);
    if (range.aboveMin) assert.throws(() => parse(range.min), UserError, `--${name} ${range.min}`);
    else assert.equal(parse(range.min), range.min, name);
    assert.throws(() => parse(range.min - 1), UserError, `--${name} ${range.min - 1}`);
    for (
      const junk of [
        "NaN",
        "Infinity",
        "0x10",
        "",
        " ",
        "+5",
        "5abc",
        "--1",
        "1e999",
        ...(range.integer ? ["1e3", "2.0"] : []),
      ]
    ) {
      assert.throws(() => numberFlag(name, junk), UserError, `--${name} ${JSON.stringify(junk)}`);
    }
    if (range.integer) assert.throws(() => parse(range.min + 1.5), UserError, `--${name} ${range.min + 1.5}`);
  }
  // The seed takes what the generator takes, 32 bits, and no more: 2^32 would repeat seed 0.
  assert.equal(integerFlag("seed", "4294967295", 0), 4294967295);
  assert.throws(
    () => integerFlag("seed", "4294967296", 0),
    /--seed 4294967296: must be an integer of at least 0/,
  );
});

for (
  const [cli, args, expected] of [
    [
      "train",
      ["mlp-8", "--seed", "4294967296"],
      /--seed 4294967296: must be an integer of at least 0 and at most 4,294,967,295/,
    ],
    ["train", ["mlp-8", "--epochs", "1e3"], /--epochs 1e3: must be an integer/],
    ["train", ["mlp-8", "--train-limit", "0x10"], /--train-limit 0x10: must be an integer/],
    [
      "train",
      ["mlp-8", "--lr-schedule", "1:4e38"],
      /rate 4e38: must be a positive number of at most 3\.4e\+38/,
    ],
    [
      "train",
      ["mlp-8", "--lr-schedule", "1:0.1,5000:0.01"],
      /epoch 5000: must be an integer of at least 1 and at most 1,000/,
    ],
    [
      "eval",
      ["mlp-8", "--weights", "x", "--timed-batches", "2147483648"],
      /--timed-batches 2147483648: must be/,
    ],
    [
      "profile",
      ["mlp-8", "--repeats", "2147483648"],
      /--repeats 2147483648: must be an integer of at least 1 and at most 10,000/,
    ],
    ["bench", ["--steps", "-5"], /--steps -5: must be an integer of at least 1/],
    [
      "sweep",
      ["--warmup", "100001"],
      /--warmup 100001: must be an integer of at least 0 and at most 100,000/,
    ],
  ] as const
) {
  Deno.test(`2. ${cli} ${args.join(" ")}: refused before any work, exit 2`, async () => {
    // A missing data folder behind the flag: were the flag taken, that would be the complaint.
    const data = cli === "profile" ? [] : ["--data", "/nonexistent/mnist"];
    assertRefused(await task(cli, [...args, ...data]), expected);
  });
}

Deno.test("2. every numeric flag the CLIs parse has its range in the one table", async () => {
  const used = new Set<string>();
  for await (const entry of Deno.readDir(new URL("../cli/", import.meta.url))) {
    if (!entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(new URL(`../cli/${entry.name}`, import.meta.url));
    for (
      const match of source.matchAll(
        /(?:integerFlag|numberFlag|positiveNumberFlag|checkRange)\(\s*"([a-z-]+)"/g,
      )
    ) {
      used.add(match[1]);
    }
  }
  assert.ok(used.has("seed") && used.has("timed-batches"), [...used].join(" "));
  for (const name of used) assert.ok(FLAG_RANGES.has(name), `--${name} has no entry in FLAG_RANGES`);
});

Deno.test("2. --help states each numeric flag's range", async () => {
  const help = await task("train", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /ranges: .*--epochs 0\.\.1,000.*--seed 0\.\.4,294,967,295/);
});

// ---------- 3. data that parses but is not what the model needs ----------

Deno.test("3. images that are not 28x28 are refused in one line naming the file", async () => {
  for (const side of [14, 56]) {
    const dir = await dataDir({ side });
    assertRefused(
      await task("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
      new RegExp(`train-images-idx3-ubyte holds ${side}x${side} images, but the models take MNIST's 28x28`),
    );
  }
});

Deno.test("3. training pixels that are all one value (std 0) are refused", async () => {
  const dir = await dataDir({ pixel: () => 0 });
  assertRefused(
    await task("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
    /train-images-idx3-ubyte: every pixel has the value 0 \(standard deviation 0\)/,
  );
});

/** The gzip of a labels file whose header says `count` labels but whose stream inflates to `bytes`. */
async function gzipBomb(count: number, bytes: number): Promise<Uint8Array> {
  const header = idx(LABELS, [count], new Uint8Array(0));
  let sent = 0;
  const zeros = new Uint8Array(1 << 20);
  const source = new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(header),
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(zeros);
      sent += zeros.length;
    },
  });
  const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return new Uint8Array(await new Response(source.pipeThrough(gzip)).arrayBuffer());
}

Deno.test("3. a gzip bomb is refused after reading a few KiB of it, never inflated whole", async () => {
  // The header says 10 labels (10 bytes of data); the stream inflates to 100 MB.
  const bomb = await gzipBomb(10, 100 * 2 ** 20);
  let read = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read >= bomb.length) return controller.close();
      const chunk = bomb.subarray(read, read + 8192);
      read += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  await assert.rejects(readIdx(source, "bomb.gz", "labels"), (error: Error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.match(
      error.message,
      /^bomb\.gz has extra bytes: its header says 10 = 10 bytes .* inflates to more/,
    );
    return true;
  });
  // A few 8 KiB reads of the ~100 KB bomb (what the pipe reads ahead); never the whole of it.
  assert.ok(bomb.length > 90_000, `the bomb is only ${bomb.length} bytes`);
  assert.ok(read <= 4 * 8192, `read ${read} of the bomb's ${bomb.length} bytes`);
});

Deno.test("3. train on a folder holding a gzip bomb: one line, exit 2", async () => {
  const dir = await dataDir();
  await Deno.remove(`${dir}/train-labels-idx1-ubyte`);
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, await gzipBomb(8, 64 * 2 ** 20));
  assertRefused(
    await task("train", ["mlp-8", "--backend", "cpu", "--epochs", "1", "--data", dir]),
    /train-labels-idx1-ubyte\.gz has extra bytes: its header says 8 = 8 bytes/,
  );
});

Deno.test("3. loadParameters refuses an array of the wrong length, naming it and both lengths", () => {
  const model = new CompiledModel(new CpuBackend(), modelByName("mlp-8"), 4, 0);
  const values = new Map(model.parameters.map((p) => [p.name, new Float32Array(p.value.length)]));
  values.set("fc1.weight", new Float32Array(100));
  assert.throws(() => model.loadParameters(values), (error: Error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.equal(error.message, "mlp-8: fc1.weight takes 6272 values (8x784), given 100");
    return true;
  });
});

// ---------- 4. checkpoints that decode but are not sound ----------

/** A checkpoint of mlp-8 with every tensor present; `change` may spoil it. */
async function checkpoint(
  name: string,
  change: (data: Map<string, Float32Array>) => void = () => {},
  metadata: Record<string, string> = { model: "mlp-8" },
) {
  const model = new CompiledModel(new CpuBackend(), modelByName("mlp-8"), 4, 0);
  const data = new Map(model.parameters.map((p) => [p.name, new Float32Array(p.value.length).fill(0.01)]));
  change(data);
  const tensors = model.parameters.map((p) => ({
    name: p.name,
    shape: [...p.shape],
    data: data.get(p.name)!,
  }));
  const path = `${tmp}/${name}`;
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
  return path;
}

for (const value of [NaN, Infinity, -Infinity]) {
  Deno.test(`4. a checkpoint holding ${value} is refused, naming the tensor`, async () => {
    const path = await checkpoint(`bad-${value}.safetensors`, (data) => data.get("fc2.bias")![3] = value);
    for (const cli of ["train", "eval"]) {
      const extra = cli === "train" ? [...SHORT, "--epochs", "0"] : ["--data", tiny, "--paths", "cpu"];
      assertRefused(
        await task(cli, ["mlp-8", "--weights", path, ...extra]),
        new RegExp(`tensor fc2\\.bias holds ${value} at index 3`),
      );
    }
  });
}

Deno.test("4. train --weights refuses a checkpoint whose metadata names another model, as eval does", async () => {
  // The tensors fit mlp-8; only the metadata says it is something else.
  const path = await checkpoint("other.safetensors", undefined, { model: "mlp-8-8" });
  for (const cli of ["train", "eval"]) {
    assertRefused(
      await task(cli, ["mlp-8", "--weights", path, "--data", tiny]),
      /is a checkpoint of mlp-8-8, not mlp-8: name the model it was saved for/,
    );
  }
});

Deno.test("4. saveSafetensors refuses metadata that loadSafetensors would reject, writing nothing", async () => {
  const dir = await Deno.makeTempDir();
  for (const value of [3, null, undefined, true]) {
    const metadata = { model: "mlp-8", epochs: value } as unknown as Record<string, string>;
    await assert.rejects(
      saveSafetensors(`${dir}/m.safetensors`, [], metadata),
      (error: Error) =>
        error instanceof UserError && /metadata "epochs" is .*not a string/.test(error.message),
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

// ---------- 5. output paths: checked at the door, only a regular file is ever replaced ----------

Deno.test("5. --save onto a folder, an empty path, a FIFO or a symbolic link: refused before training", async () => {
  const folder = await Deno.makeTempDir();
  const target = `${tmp}/target.txt`;
  await Deno.writeTextFile(target, "keep me");
  const link = `${tmp}/link.safetensors`;
  await Deno.symlink(target, link);
  const fifo = `${tmp}/fifo`;
  assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
  for (
    const [save, expected] of [
      [folder, /--save .* is a folder, not a regular file/],
      ["", /--save "": the path is empty/],
      [link, /--save .*link\.safetensors is a symbolic link, not a regular file/],
      [fifo, /--save .*fifo is a device or other special file, not a regular file/],
    ] as const
  ) {
    assertRefused(await task("train", ["mlp-8", ...SHORT, "--epochs", "1", "--save", save]), expected);
  }
  assert.ok((await Deno.lstat(link)).isSymlink);
  assert.equal(await Deno.readTextFile(target), "keep me");
  assert.ok((await Deno.lstat(fifo)).isFifo);
  assert.deepEqual([...Deno.readDirSync(folder)], []);
});

Deno.test("5. an empty --figures or --out is refused, not read as the root folder", async () => {
  for (const flag of ["--figures", "--out"]) {
    assertRefused(
      await task("sweep", [flag, "", "--data", "/nonexistent/mnist"]),
      /(output folder|--out) "": the path is empty/,
    );
  }
});

Deno.test("5. device nodes such as /dev/null are refused, and left alone", async () => {
  await assert.rejects(checkOutputFile("/dev/null", "--save"), /--save \/dev\/null is a device/);
  await assert.rejects(writeFileAtomic("/dev/null", "x"), /\/dev\/null is a device/);
  assert.ok((await Deno.lstat("/dev/null")).isCharDevice);
});

Deno.test("5. the temp files of writes that were killed are removed by the next write", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  const temp = () => `${dir}/.m.safetensors.${crypto.randomUUID()}.tmp`;
  const killed = [temp(), temp()];
  // A write in progress holds its temp file's lock: that one stays.
  const inProgress = temp();
  const notOurs = [
    `${dir}/.m.safetensors.tmp`,
    `${dir}/.other.${crypto.randomUUID()}.tmp`,
    `${dir}/keep.txt`,
  ];
  for (const file of [...killed, inProgress, ...notOurs]) await Deno.writeTextFile(file, "x");
  const held = await Deno.open(inProgress, { read: true, write: true });
  await held.lock(true);
  try {
    await writeFileAtomic(path, "new");
  } finally {
    held.close();
  }
  const left = [...Deno.readDirSync(dir)].map((entry) => `${dir}/${entry.name}`).sort();
  assert.deepEqual(left, [path, inProgress, ...notOurs].sort());
  assert.equal(await Deno.readTextFile(path), "new");
});

Deno.test("5. a kill -9 in the middle of a write leaves litter that the next write removes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.bin`;
  const writer = `
    import { writeFileAtomic } from ${JSON.stringify(new URL("../io/files.ts", import.meta.url).href)};
    const bytes = new Uint8Array(32 * 2 ** 20);
    console.log("writing");
    for (;;) await writeFileAtomic(${JSON.stringify(path)}, bytes);`;
  const litter = () => [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".tmp"));
  // The writer is inside a write nearly all the time; try again in the rare case the kill falls between two.
  for (let attempt = 0; attempt < 5 && litter().length === 0; attempt++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", writer],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 300 + 100 * attempt));
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  assert.ok(litter().length > 0, "no kill landed inside a write");
  await writeFileAtomic(path, "after");
  assert.deepEqual(litter(), []);
  assert.equal(await Deno.readTextFile(path), "after");
});

// ---------- 6. results that mix or collide (the results store, issue 10): from the user's side ----------

Deno.test("6. a sweep into an output CSV that is not its store's is refused, and the file is kept", async () => {
  const csv = `${tmp}/theirs.csv`;
  const theirs = "model,accuracy\nmine,0.99\n";
  await Deno.writeTextFile(csv, theirs);
  const result = await task("sweep", [
    ...["--models", "mlp-8", "--paths", "cpu", "--train-backend", "cpu", "--epochs", "1", "--data", tiny],
    ...["--out", csv, "--figures", `${tmp}/figures-6`],
  ]);
  assertRefused(result, /theirs\.csv/);
  assert.equal(await Deno.readTextFile(csv), theirs);
});

// ---------- 7. small inconsistencies ----------

Deno.test("7. train --epochs 0 --weights X prints the test accuracy without --json too", async () => {
  const path = await checkpoint("good.safetensors");
  const result = await task("train", ["mlp-8", "--weights", path, ...SHORT, "--epochs", "0"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /test accuracy 0\.\d{4}/);
});

Deno.test("7. report refuses accuracies outside [0, 1] and negative times, naming file and line", async () => {
  const good = "mlp-8,mlp1,8,,6370,cpu,cpu,1,8,0.5,0.1,0.1,0.1,wall,1,1,1,1,1,ok";
  const header = "model,family,hidden1,hidden2,parameters,path,adapter,epochs,train_images,test_accuracy," +
    "infer_ms_median,infer_ms_p10,infer_ms_p90,clock,param_bytes,activation_bytes,peak_infer_bytes," +
    "peak_train_bytes,train_seconds,status";
  for (
    const [row, expected] of [
      [good.replace(",0.5,", ",1.5,"), /line 3 is malformed: test_accuracy 1\.5 is outside \[0, 1\]/],
      [good.replace(",0.1,0.1,0.1,", ",-2,0.1,0.1,"), /line 3 is malformed: infer_ms_median -2 is outside/],
    ] as const
  ) {
    const csv = `${tmp}/junk.csv`;
    await Deno.writeTextFile(csv, `${header}\n${good}\n${row}\n`);
    const result = await task("report", ["--csv", csv, "--out", `${tmp}/figures`]);
    assertRefused(result, new RegExp(`${csv.replaceAll(".", "\\.")} ${expected.source}`));
  }
  await assert.rejects(Deno.stat(`${tmp}/figures`), Deno.errors.NotFound);
});

Deno.test("7. a sweep that fails does not create its figures folder", async () => {
  const figures = `${tmp}/sweep-figures`;
  const result = await task("sweep", [
    "--models",
    "mlp-8",
    "--out",
    `${tmp}/sweep/sweep.csv`,
    "--figures",
    figures,
    "--data",
    "/nonexistent/mnist",
  ]);
  assertRefused(result, /\/nonexistent\/mnist/);
  await assert.rejects(Deno.stat(figures), Deno.errors.NotFound);
});

Deno.test("7. 'or --backend cpu' is offered only where the CPU path takes the size", async (t) => {
  if (!await gpuBackend()) {
    return void await t.step({ name: "no WebGPU adapter", ignore: true, fn: () => {} });
  }
  const gpu = (await gpuBackend())!;
  const mib = 2 ** 20;
  const over = (bytes: number) => {
    try {
      gpu.tensor("big", "f32", [bytes / 4]);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
  // Over the adapter's limit and over the CPU path's 2 GiB: no CPU hint.
  const both = over(Math.max(gpu.maxTensorBytes, 2 ** 31) + mib);
  assert.match(both ?? "", /choose a smaller model$/);
  if (gpu.maxTensorBytes + mib <= 2 ** 31) {
    assert.match(over(gpu.maxTensorBytes + mib) ?? "", /choose a smaller model or --backend cpu$/);
  }
});
