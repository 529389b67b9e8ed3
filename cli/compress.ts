/**
 * deno task compress MODEL --weights CKPT [flags]: a model quantized and/or pruned (lab/compress/), its
 * test accuracy, parameter bytes, op bytes, file size and inference time beside the float model's.
 */
import { UserError } from "../engine/errors.ts";
import { parseQuantFormat } from "../engine/quantization.ts";
import { loadSafetensors } from "../io/checkpoint_file.ts";
import { writeFileAtomic } from "../io/files.ts";
import { checkRange, flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { compressModel, type QuantMethod, resolveMethod } from "../lab/compress/compress.ts";
import { compressJson, compressTable } from "../lab/compress/table.ts";
import { withCheckpointNormalisation } from "../lab/evaluate.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { loadStudyData } from "../lab/session.ts";
import { selectPaths } from "../lab/study.ts";
import { checkCheckpoint } from "../models/checkpoint.ts";
import type { PruneMethod, PruneScope } from "../models/compress/prune.ts";
import { modelByName } from "../models/zoo.ts";

const USAGE =
  `usage: deno task compress MODEL --weights CKPT [--quantize FORMAT] [--method static|dynamic|weight-only]
    [--per-channel] [--calibrate N] [--observer minmax|percentile] [--qat-epochs E]
    [--prune S] [--prune-method magnitude|random] [--prune-scope layer|global] [--retrain-epochs E] [--gradual]
    [--save OUT] [--path webgpu|cpu|both] [--train-limit N] [--test-limit N] [--data DIR]
    [--batch-size ${PROTOCOL.batchSize}] [--warmup 20] [--timed-batches 100] [--json]
  MODEL: the model the float checkpoint was saved for (lenet5, mlp-200-70, ...)
  FORMAT: int2..int8, uint2..uint8, qM.N (e.g. q3.5, q6.10, q12.20), f16
  --method: static (int8 default: every activation int8), dynamic (int8 dense layers), weight-only (intB default)
  --prune S: a sparsity in [0, 1), e.g. 0.9
${flagRanges(["train-limit", "test-limit", "batch-size", "warmup", "timed-batches"])}`;

const FLAGS = {
  weights: { type: "string" },
  quantize: { type: "string" },
  method: { type: "string" },
  "per-channel": { type: "boolean" },
  calibrate: { type: "string" },
  observer: { type: "string" },
  "qat-epochs": { type: "string" },
  prune: { type: "string" },
  "prune-method": { type: "string" },
  "prune-scope": { type: "string" },
  "retrain-epochs": { type: "string" },
  gradual: { type: "boolean" },
  save: { type: "string" },
  path: { type: "string" },
  "train-limit": { type: "string" },
  "test-limit": { type: "string" },
  data: { type: "string" },
  "batch-size": { type: "string" },
  warmup: { type: "string" },
  "timed-batches": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** One of `choices`, or a one-line refusal naming them. */
function choice<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UserError(`--${flag} ${value}: use one of ${choices.join(", ")}`);
  }
  return value as T;
}

/** A whole number of epochs (0 to 1000) for a flag other than --epochs. */
function epochsFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return checkRange("epochs", /^\d+$/.test(value.trim()) ? Number(value) : NaN, `--${flag} ${value}`);
}

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    throw new UserError(
      "name one model, e.g. deno task compress lenet5 --weights lenet5.safetensors (see --help)",
    );
  }
  const { name } = modelByName(positionals[0]);
  const weights = flags.weights;
  if (!weights?.trim()) throw new UserError("name the float checkpoint to compress: --weights PATH");
  const format = flags.quantize === undefined ? undefined : parseQuantFormat(flags.quantize);
  const method = choice<QuantMethod>("method", flags.method, ["static", "dynamic", "weight-only"]);
  const observerKind = choice("observer", flags.observer, ["minmax", "percentile"] as const);
  const sparsity = flags.prune === undefined ? undefined : Number(flags.prune.trim() || NaN);
  const pruneMethod = choice<PruneMethod>("prune-method", flags["prune-method"], ["magnitude", "random"]);
  const scope = choice<PruneScope>("prune-scope", flags["prune-scope"], ["layer", "global"]);
  const retrainEpochs = epochsFlag("retrain-epochs", flags["retrain-epochs"]);
  if (sparsity === undefined && (pruneMethod || scope || retrainEpochs !== undefined || flags.gradual)) {
    throw new UserError("--prune-method, --prune-scope, --retrain-epochs and --gradual go with --prune S");
  }
  const batchSize = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const options = {
    format,
    method,
    perChannel: flags["per-channel"],
    calibrationImages: integerFlag("train-limit", flags.calibrate, 1),
    observer: observerKind && { kind: observerKind },
    qatEpochs: epochsFlag("qat-epochs", flags["qat-epochs"]),
    prune: sparsity === undefined ? undefined : {
      sparsity,
      method: pruneMethod ?? "magnitude",
      scope,
      retrainEpochs: retrainEpochs ?? 0,
      gradual: flags.gradual,
    },
    paths: selectPaths(
      { both: "cpu,webgpu", webgpu: "webgpu", cpu: "cpu" }[
        choice("path", flags.path, ["webgpu", "cpu", "both"] as const) ?? "webgpu"
      ],
    ),
    batchSize,
    warmup: integerFlag("warmup", flags.warmup, 0) ?? 20,
    timedBatches: integerFlag("timed-batches", flags["timed-batches"], 1) ?? 100,
    onProgress: flags.json ? undefined : (line: string) => console.error(line),
  };
  resolveMethod(options); // a method that does not fit its format fails here, before any work
  const checkpoint = await loadSafetensors(weights);
  checkCheckpoint(checkpoint, name, weights);
  const data = withCheckpointNormalisation(
    await loadStudyData(
      flags.data,
      integerFlag("train-limit", flags["train-limit"], 1),
      integerFlag("test-limit", flags["test-limit"], 1),
      batchSize,
    ),
    checkpoint.metadata,
  );
  if (options.calibrationImages !== undefined && options.calibrationImages > data.trainCount) {
    throw new UserError(
      `--calibrate ${options.calibrationImages}: only ${data.trainCount} training images in use`,
    );
  }
  const result = await compressModel(name, checkpoint, data, options);
  if (flags.save) await writeFileAtomic(flags.save, result.checkpoint);
  if (flags.json) {
    console.log(compressJson(result));
    return;
  }
  console.log(`${name} from ${weights}: ${result.method}; ${data.testCount} test images, batch ${batchSize}`);
  console.log(compressTable(result));
  if (flags.save) console.log(`saved ${flags.save}`);
}

if (import.meta.main) await runMain(main);
