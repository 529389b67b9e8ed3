/**
 * deno task crosscheck MODEL [flags]: trains the engine and PyTorch from the same initial weights in
 * the same batch order and prints both runs' per-epoch loss and test accuracy side by side; exits 1
 * when they differ by more than float32 summation order explains (lab/crosscheck.ts).
 */
import { UserError } from "../engine/errors.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { checkWritableDir } from "../io/files.ts";
import { kernelMode } from "../io/tuning_cache.ts";
import { checkCrosscheck, crosscheck, CROSSCHECK_BOUND, crosscheckTable } from "../lab/crosscheck.ts";
import type { PytorchDevice } from "../lab/peers/pytorch.ts";
import { parseSchedule, PROTOCOL } from "../lab/protocol.ts";
import { backendKind } from "../lab/session.ts";

const DEFAULT_EPOCHS = 2;

const USAGE = `usage: deno task crosscheck MODEL [--backend webgpu|cpu] [--epochs ${DEFAULT_EPOCHS}] ` +
  `[--batch-size ${PROTOCOL.batchSize}] [--lr-schedule ${PROTOCOL.learningRateSchedule}] [--seed ${PROTOCOL.seed}] ` +
  `[--train-limit N] [--test-limit N] [--data DIR] [--kernels fixed|tuned] [--torch-device cpu|cuda] [--keep DIR]
  Trains the engine (MODEL: lenet5, lenet5-avg, mlp-H or mlp-H1-H2), then PyTorch from the engine's initial weights
  in the engine's batch order of every epoch, and prints both runs' training loss and test accuracy.
  Exits 1 when any epoch differs by more than float32 rounding explains: ${CROSSCHECK_BOUND.loss} in the
  epoch's mean training loss, or ${CROSSCHECK_BOUND.testImages} test image. Chosen by measurement: from the same weights and order,
  our two backends, PyTorch float32 and PyTorch float64 differed by at most 5e-6 in the loss and by no test
  image over 2 epochs of LeNet-5 and mlp-300-100; the bound is 20 times that (CROSSCHECK_BOUND in
  lab/crosscheck.ts says more). Needs PyTorch: bash scripts/setup_bench.sh.
  --torch-device: PyTorch's device (default: cuda where torch sees one, else cpu)
  --keep DIR: keep the initial weights (initial.safetensors) and the orders (orders.u32) there
${flagRanges(["epochs", "batch-size", "seed", "train-limit", "test-limit"])}`;

const FLAGS = {
  backend: { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  "lr-schedule": { type: "string" },
  seed: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  kernels: { type: "string" },
  "torch-device": { type: "string" },
  keep: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    throw new UserError("name one model, e.g. deno task crosscheck lenet5 (see --help)");
  }
  const kind = backendKind(flags.backend);
  const torchDevice = flags["torch-device"];
  if (torchDevice !== undefined && torchDevice !== "cpu" && torchDevice !== "cuda") {
    throw new UserError(`--torch-device ${torchDevice}: use cpu or cuda`);
  }
  const pytorchDevice: PytorchDevice | undefined = torchDevice;
  const options = {
    model: positionals[0],
    backend: kind,
    kernels: kernelMode(flags.kernels, kind),
    epochs: integerFlag("epochs", flags.epochs, 1) ?? DEFAULT_EPOCHS,
    batchSize: integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize,
    seed: integerFlag("seed", flags.seed, 0) ?? PROTOCOL.seed,
    schedule: parseSchedule(flags["lr-schedule"] ?? PROTOCOL.learningRateSchedule),
    trainLimit: integerFlag("train-limit", flags["train-limit"], 1),
    testLimit: integerFlag("test-limit", flags["test-limit"], 1),
    data: flags.data,
    pytorchDevice,
    keepDir: flags.keep,
    onLine: (line: string) => console.log(line),
  };
  // Refused before minutes of training: an unknown model, no PyTorch, a folder that cannot be written.
  await checkCrosscheck(options.model);
  if (options.keepDir !== undefined) await checkWritableDir(options.keepDir);
  const result = await crosscheck(options);
  console.log(crosscheckTable(result).join("\n"));
  if (!result.agrees) {
    console.error(
      "error: the engine and PyTorch differ by more than float32 summation order explains (see above)",
    );
    Deno.exit(1);
  }
}

if (import.meta.main) await runMain(main);
