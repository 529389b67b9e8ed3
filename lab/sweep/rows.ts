/**
 * The sweep's rows: one per model, path and seed, carrying the whole protocol, written to the store once;
 * and the status a failure gives them.
 */
import { UserError } from "../../engine/errors.ts";
import type { CompiledModel } from "../../models/model.ts";
import { DivergedError } from "../../models/trainer.ts";
import { isOurPath, type ResultPath, type ResultRow } from "../results.ts";
import { familyOf, hiddenSizes, measuredColumns, type PathMeasurement } from "../study.ts";
import { formatSchedule, oneLine, type Sweep } from "./plan.ts";

/** What the rows of a model take from its training. */
export interface Trained {
  readonly parameters: number;
  readonly trainSeconds: number;
  readonly peakTrainBytes: number;
  readonly load: (model: CompiledModel) => void | Promise<unknown>;
}

/** Writes a row unless another writer finished it first (then says so). */
export function record(sweep: Sweep, row: ResultRow): void {
  if (!sweep.store.record(row)) {
    console.log(`${row.model} seed ${row.seed} ${row.path}: already final in ${sweep.out}, kept`);
  }
}

/**
 * A model that cannot run here (the adapter's limits, out of memory) is skipped; a diverged loss, a lost
 * device or anything unforeseen is a failure. Both are final: a rerun does not repeat them.
 */
export function failureStatus(error: unknown, context = ""): string {
  const reason = context + oneLine(String((error as Error)?.message ?? error));
  if (Deno.env.get("DEBUG")) console.error((error as Error)?.stack);
  if (error instanceof DivergedError) return `failed: ${reason}`;
  if (error instanceof UserError || /out of memory/i.test(reason)) return `skipped: ${reason}`;
  return `failed: ${reason}`;
}

/**
 * One row, carrying the whole protocol. train_seconds is the model's (every path's row);
 * peak_train_bytes only on the row of the path that trained, the only device whose training memory
 * was measured.
 */
export function resultRow(
  sweep: Sweep,
  name: string,
  seed: number,
  path: ResultPath,
  status: string,
  trained?: Trained,
  measured?: PathMeasurement,
): ResultRow {
  const [hidden1 = null, hidden2 = null] = hiddenSizes(name);
  const timing = measured?.timing.perBatch;
  return {
    model: name,
    family: familyOf(name),
    hidden1,
    hidden2,
    parameters: measured?.parameters ?? trained?.parameters ?? null,
    path,
    adapter: measured?.adapter ?? (isOurPath(path) ? sweep.adapters.get(path) : undefined) ?? "",
    epochs: sweep.epochs,
    train_images: sweep.epochs * sweep.data.trainCount,
    seed,
    batch_size: sweep.batchSize,
    lr_schedule: formatSchedule(sweep.schedule),
    test_images: sweep.data.testCount,
    dataset: sweep.dataset,
    test_accuracy: measured?.testAccuracy ?? null,
    infer_ms_median: timing?.median ?? null,
    infer_ms_p10: timing?.p10 ?? null,
    infer_ms_p90: timing?.p90 ?? null,
    clock: measured?.timing.clock ?? "",
    param_bytes: measured?.memory.parameterBytes ?? null,
    activation_bytes: measured?.memory.activationBytes ?? null,
    peak_infer_bytes: measured?.peakInferBytes ?? null,
    peak_train_bytes: path === sweep.trainBackend ? trained?.peakTrainBytes ?? null : null,
    ...measuredColumns(measured),
    train_seconds: trained?.trainSeconds ?? null,
    status,
    threads: null,
    note: "",
  };
}
