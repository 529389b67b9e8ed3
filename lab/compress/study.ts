/**
 * The compression study (`deno task compress-study`): every model of a list through a plan of methods,
 * bit widths and sparsities, each measurement a row in a store beside a CSV (lab/store.ts's pattern:
 * SQLite, one transaction per row, the CSV rewritten from it); a rerun skips the rows done.
 */
import { DatabaseSync } from "node:sqlite";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { UserError } from "../../engine/errors.ts";
import { bitsPerValue, formatName, parseQuantFormat } from "../../engine/quantization.ts";
import type { DecodedSafetensors } from "../../engine/safetensors.ts";
import type { ExecutionPath } from "../results.ts";
import type { StudyData } from "../session.ts";
import { compressModel, type CompressOptions, describeMethod, resolveMethod } from "./compress.ts";

/** The models of the float study's committed 20-epoch checkpoints, and their seeds. */
export const STUDY_CHECKPOINTS: readonly string[] = [
  "lenet5-seed3",
  "mlp-200-70-seed3",
  "mlp-270-seed3",
  "mlp-400-seed3",
  "mlp-1024-seed1",
];

/** One planned compression: a key the store knows it by, and what compressModel does. */
export interface PlanEntry {
  readonly key: string;
  readonly options: Pick<
    CompressOptions,
    "format" | "method" | "perChannel" | "observer" | "qatEpochs" | "prune"
  >;
}

/** What a plan covers beyond the post-training methods. */
export interface PlanOptions {
  /** A few entries of each kind instead of all. */
  readonly quick?: boolean;
  /** Retraining epochs of the pruning rows that retrain, and QAT's epochs; 0 leaves those rows out. */
  readonly retrainEpochs: number;
}

const quant = (format: string, method?: CompressOptions["method"], perChannel = false): PlanEntry => ({
  key: `${format}-${method ?? "weight-only"}${perChannel ? "-per-channel" : ""}`,
  options: { format: parseQuantFormat(format), method, perChannel },
});

const pruning = (method: "magnitude" | "random", sparsity: number, retrainEpochs: number): PlanEntry => ({
  key: `prune-${method}-${sparsity}-retrain${retrainEpochs}`,
  options: { prune: { sparsity, method, retrainEpochs } },
});

/** The plan: every method x bit width x sparsity (a small one with `quick`). */
export function studyPlan(options: PlanOptions): PlanEntry[] {
  const { quick, retrainEpochs } = options;
  const entries: PlanEntry[] = [quant("int8", "static"), quant("int8", "dynamic")];
  if (!quick) {
    entries.push(quant("int8", "static", true), {
      key: "int8-static-percentile",
      options: { format: parseQuantFormat("int8"), method: "static", observer: { kind: "percentile" } },
    });
  }
  const bits = quick ? [4, 2] : [8, 6, 5, 4, 3, 2];
  for (const b of bits) {
    entries.push(quant(`int${b}`, "weight-only"));
    if (!quick) entries.push(quant(`int${b}`, "weight-only", true));
  }
  for (const format of quick ? ["f16"] : ["f16", "q12.20", "q6.10", "q3.5", "uint8"]) {
    entries.push(quant(format));
  }
  const sparsities = quick ? [0.5, 0.9] : [0.5, 0.7, 0.8, 0.9, 0.95];
  for (const method of ["magnitude", "random"] as const) {
    for (const s of sparsities) {
      entries.push(pruning(method, s, 0));
      if (retrainEpochs > 0) entries.push(pruning(method, s, retrainEpochs));
    }
  }
  if (retrainEpochs > 0) {
    entries.push({
      key: `qat${retrainEpochs}-int8-static`,
      options: { format: parseQuantFormat("int8"), method: "static", qatEpochs: retrainEpochs },
    });
  }
  for (const entry of entries) resolveMethod(entry.options);
  return entries;
}

/** One row of the study: a model, compressed by one entry (or "float"), on one path. */
export interface CompressRow {
  readonly model: string;
  readonly key: string;
  readonly path: ExecutionPath;
  /** "float", "static", "dynamic", "weight-only", or "pruned". */
  readonly method: string;
  readonly format: string;
  /** Bits per stored weight (32 float, 0 for a pruned float model's: see parameter_bytes). */
  readonly bits: number;
  readonly per_channel: boolean;
  readonly sparsity: number;
  readonly prune_method: string;
  readonly retrain_epochs: number;
  readonly qat_epochs: number;
  readonly description: string;
  readonly test_accuracy: number;
  readonly test_images: number;
  /** Training images the retraining (pruning, QAT) and the calibration drew from. */
  readonly train_images: number;
  /** Pruning only: the accuracy right after pruning; QAT: the fake-quantised model's. */
  readonly accuracy_before: number | null;
  readonly parameter_bytes: number;
  readonly op_bytes: number;
  readonly file_bytes: number;
  readonly ms_per_batch: number | null;
  readonly clock: string;
  readonly adapter: string;
}

export const ROW_COLUMNS: readonly (keyof CompressRow)[] = [
  "model",
  "key",
  "path",
  "method",
  "format",
  "bits",
  "per_channel",
  "sparsity",
  "prune_method",
  "retrain_epochs",
  "qat_epochs",
  "description",
  "test_accuracy",
  "test_images",
  "train_images",
  "accuracy_before",
  "parameter_bytes",
  "op_bytes",
  "file_bytes",
  "ms_per_batch",
  "clock",
  "adapter",
];

/** The study's rows in SQLite beside the CSV; each row in a transaction of its own that rewrites the CSV. */
export class CompressStore {
  readonly #db: DatabaseSync;

  constructor(readonly csvPath: string) {
    const dbPath = csvPath.replace(/\.csv$/i, "") + ".sqlite";
    try {
      this.#db = new DatabaseSync(dbPath);
      this.#db.exec("PRAGMA busy_timeout = 60000");
      this.#db.exec(
        "CREATE TABLE IF NOT EXISTS rows (model TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL, " +
          "row TEXT NOT NULL, PRIMARY KEY (model, key, path))",
      );
    } catch (error) {
      throw new UserError(
        `cannot open the store ${dbPath}: ${(error as Error).message}; choose another --out`,
      );
    }
  }

  has(model: string, key: string, path: string): boolean {
    return this.#db.prepare("SELECT 1 FROM rows WHERE model = ? AND key = ? AND path = ?").get(
      model,
      key,
      path,
    ) !==
      undefined;
  }

  rows(): CompressRow[] {
    const all = this.#db.prepare("SELECT row FROM rows ORDER BY rowid").all() as { row: string }[];
    return all.map(({ row }) => JSON.parse(row));
  }

  /** Adds (or replaces) rows and rewrites the CSV, in one transaction. */
  put(rows: readonly CompressRow[]): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const insert = this.#db.prepare(
        "INSERT OR REPLACE INTO rows (model, key, path, row) VALUES (?, ?, ?, ?)",
      );
      for (const row of rows) insert.run(row.model, row.key, row.path, JSON.stringify(row));
      Deno.writeTextFileSync(this.csvPath, formatRows(this.rows()));
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  close(): void {
    this.#db.close();
  }
}

/** The rows as CSV. */
export function formatRows(rows: readonly CompressRow[]): string {
  // csv-stringify writes false as an empty cell: spell booleans out.
  const cell = (value: unknown) => typeof value === "boolean" ? String(value) : value ?? "";
  return stringify([[...ROW_COLUMNS], ...rows.map((row) => ROW_COLUMNS.map((c) => cell(row[c])))]);
}

/** The float study's rows (docs/results/study20/limit/*.csv): model, path, accuracy, parameter bytes. */
export function floatStudyRows(
  csv: string,
): { model: string; path: string; test_accuracy: number; param_bytes: number }[] {
  const records = parse(csv, { columns: true }) as Record<string, string>[];
  return records.filter((r) => r.status === "ok" && r.test_accuracy !== "").map((r) => ({
    model: r.model,
    path: r.path,
    test_accuracy: Number(r.test_accuracy),
    param_bytes: Number(r.param_bytes),
  }));
}

/** How the study measures. */
export interface StudyRunOptions {
  readonly paths: readonly ExecutionPath[];
  readonly batchSize: number;
  readonly warmup: number;
  readonly timedBatches: number;
  readonly calibrationImages: number;
  readonly onProgress?: (line: string) => void;
}

/**
 * Runs `plan` on model `name` (its float checkpoint `checkpoint`) and stores each row; rows the store has
 * are skipped. The float model is measured with the first entry that runs.
 */
export async function runModelPlan(
  store: CompressStore,
  name: string,
  checkpoint: DecodedSafetensors,
  data: StudyData,
  plan: readonly PlanEntry[],
  options: StudyRunOptions,
): Promise<number> {
  let done = 0;
  for (const [i, entry] of plan.entries()) {
    const paths = options.paths.filter((path) =>
      !store.has(name, entry.key, path) || !store.has(name, "float", path)
    );
    if (paths.length === 0) continue;
    options.onProgress?.(`[${i + 1}/${plan.length}] ${name} ${entry.key} on ${paths.join(", ")}`);
    const compressOptions: CompressOptions = {
      ...entry.options,
      paths,
      batchSize: options.batchSize,
      warmup: options.warmup,
      timedBatches: options.timedBatches,
      calibrationImages: options.calibrationImages,
      measureFloat: paths.some((path) => !store.has(name, "float", path)),
    };
    const result = await compressModel(name, checkpoint, data, compressOptions);
    const description = describeMethod(compressOptions);
    const rows = result.measurements.map((m): CompressRow => {
      const float = m.variant === "float";
      const { format, method } = float
        ? { format: undefined, method: undefined }
        : resolveMethod(entry.options);
      const prune = float ? undefined : entry.options.prune;
      return {
        model: name,
        key: float ? "float" : entry.key,
        path: m.path,
        method: float ? "float" : method ?? "pruned",
        format: format ? formatName(format) : "f32",
        bits: format ? bitsPerValue(format) : 32,
        per_channel: !float && (entry.options.perChannel ?? false),
        sparsity: prune?.sparsity ?? 0,
        prune_method: prune?.method ?? "",
        retrain_epochs: prune?.retrainEpochs ?? 0,
        qat_epochs: float ? 0 : entry.options.qatEpochs ?? 0,
        description: float ? "float32" : description,
        test_accuracy: m.testAccuracy,
        test_images: m.testImages,
        train_images: data.trainCount,
        accuracy_before: float
          ? null
          : result.pruning?.accuracyBeforeRetraining ?? result.qat?.fakeQuantAccuracy ?? null,
        parameter_bytes: m.parameterBytes,
        op_bytes: m.opBytes,
        file_bytes: m.fileBytes,
        ms_per_batch: m.msPerBatch,
        clock: m.clock,
        adapter: m.adapter,
      };
    }).filter((row) => !store.has(row.model, row.key, row.path));
    store.put(rows);
    done += rows.length;
  }
  return done;
}
