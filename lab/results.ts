/**
 * The sweep's results as CSV rows: one per model, path and seed, carrying the whole protocol. The sweep
 * writes them through its store (store.ts), which keeps the CSV; the report reads the CSV.
 */
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { UserError } from "../engine/errors.ts";

export const RESULT_COLUMNS = [
  "model",
  "family",
  "hidden1",
  "hidden2",
  "parameters",
  "path",
  "adapter",
  "epochs",
  "train_images",
  "seed",
  "batch_size",
  "lr_schedule",
  "test_images",
  "dataset",
  "test_accuracy",
  "infer_ms_median",
  "infer_ms_p10",
  "infer_ms_p90",
  "clock",
  "param_bytes",
  "activation_bytes",
  "peak_infer_bytes",
  "peak_train_bytes",
  // Issue 11: memory as the lab measured it, all the backend allocated, what the OS saw (study.ts), and the
  // streamed and single-batch clocks beside the kernel time (measure.ts: STREAMED_CLOCK, LATENCY_CLOCK).
  "op_bytes",
  "allocated_bytes",
  "measured_bytes",
  "streamed_ms_median",
  "streamed_ms_p10",
  "streamed_ms_p90",
  "latency_ms_median",
  "latency_ms_p10",
  "latency_ms_p90",
  "train_seconds",
  "status",
  // Issue 20: a peer's rows (path pytorch-cpu, pytorch-cuda): the CPU threads it ran with, the best of those
  // tried, and what its row could not measure and why (e.g. no checkpoint to take its test accuracy from).
  "threads",
  "note",
] as const;

export type ResultColumn = typeof RESULT_COLUMNS[number];

export const FAMILIES = ["lenet5", "mlp1", "mlp2"] as const;
export type Family = typeof FAMILIES[number];

/** Our engine's paths. */
export const PATHS = ["cpu", "webgpu"] as const;
export type ExecutionPath = typeof PATHS[number];
/** A peer framework's paths, measured beside ours by the sweep (lab/sweep/peers.ts). */
export const PEER_PATHS = ["pytorch-cpu", "pytorch-cuda"] as const;
export type PeerPath = typeof PEER_PATHS[number];
/** Any path a results row may have. */
export type ResultPath = ExecutionPath | PeerPath;
export const RESULT_PATHS: readonly ResultPath[] = [...PATHS, ...PEER_PATHS];

/** Whether a row's path is one of our engine's (not a peer's). */
export function isOurPath(path: string): path is ExecutionPath {
  return (PATHS as readonly string[]).includes(path);
}

const TEXT_COLUMNS = [
  "model",
  "family",
  "path",
  "adapter",
  "clock",
  "lr_schedule",
  "dataset",
  "status",
  "note",
] as const;
/** Without these a row means nothing; any other column may be missing from an older file (empty then). */
const REQUIRED_COLUMNS: readonly ResultColumn[] = ["model", "family", "path", "status"];
type TextColumn = typeof TEXT_COLUMNS[number];
type NumericColumn = Exclude<ResultColumn, TextColumn>;

/**
 * One model measured on one path. Numbers are null where the cell is empty: a hidden layer the family
 * does not have, or a measurement a skipped or failed run never made.
 *
 * `status` is `ok`, `skipped: <reason>` or `failed: <reason>` (both final: a rerun does not retry them);
 * any other status, e.g. `interrupted: <reason>`, marks a transient failure that a rerun retries.
 */
export type ResultRow =
  & { model: string; family: Family; path: ResultPath; adapter: string; clock: string; status: string }
  & { lr_schedule: string; dataset: string; note: string }
  & { [column in NumericColumn]: number | null };

const FINAL_STATUS = /^(ok$|skipped:|failed:)/;

/** Whether a row's status means the sweep is done with that model and path. */
export function isFinalStatus(status: string): boolean {
  return FINAL_STATUS.test(status);
}

/** `model|path|seed` of every row a rerun of the sweep should not repeat. */
export function doneKeys(rows: readonly ResultRow[]): Set<string> {
  return new Set(rows.filter((row) => isFinalStatus(row.status)).map(resultKey));
}

/** A row's key: one row per model, path and seed. */
export function resultKey(row: Pick<ResultRow, "model" | "path" | "seed">): string {
  return `${row.model}|${row.path}|${row.seed ?? 0}`;
}

/** The rows of a results CSV; a missing file has none. */
export async function readResults(path: string): Promise<ResultRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new UserError(
      `cannot read ${path}: ${error instanceof Error ? error.message : error}; check the path`,
    );
  }
  return parseResults(text, path);
}

export function formatResults(rows: readonly ResultRow[]): string {
  return stringify([[...RESULT_COLUMNS], ...rows.map(toCells)]);
}

/** A NaN or infinite number is written as an empty cell: nothing meaningful was measured. */
function toCells(row: ResultRow): string[] {
  return RESULT_COLUMNS.map((column) => {
    const value = row[column];
    if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
    return value ?? "";
  });
}

/**
 * A row as an older writer stored it, with every column it lacks (added since, e.g. threads and note)
 * empty: stores and CSVs keep loading as columns are added.
 */
export function withAllColumns(row: Partial<ResultRow>): ResultRow {
  const complete: Record<string, unknown> = { ...row };
  for (const column of RESULT_COLUMNS) {
    if (complete[column] === undefined) {
      complete[column] = (TEXT_COLUMNS as readonly string[]).includes(column) ? "" : null;
    }
  }
  return complete as ResultRow;
}

/** Parses CSV text; `source` names the file in errors. */
export function parseResults(text: string, source: string): ResultRow[] {
  if (text.trim() === "") return [];
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true });
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw malformed(source, line ?? 1, `it is not valid CSV (${(error as Error).message})`);
  }
  const [header, ...body] = records;
  const columns = header.record;
  const unknown = columns.find((name) => !(RESULT_COLUMNS as readonly string[]).includes(name));
  const missing = REQUIRED_COLUMNS.find((name) => !columns.includes(name));
  if (unknown !== undefined || missing !== undefined || new Set(columns).size !== columns.length) {
    throw malformed(
      source,
      header.info.lines,
      `the header is not a selection of ${RESULT_COLUMNS.join(",")} with ${REQUIRED_COLUMNS.join(",")}`,
    );
  }
  return body.map(({ record, info }) => {
    const fail = (problem: string) => malformed(source, info.lines, problem);
    if (record.length !== columns.length) {
      throw fail(`${record.length} cells where the header has ${columns.length}`);
    }
    const byName = new Map(columns.map((name, i) => [name, record[i]]));
    return toRow(RESULT_COLUMNS.map((column) => byName.get(column) ?? ""), fail);
  });
}

function malformed(source: string, line: number, problem: string): UserError {
  return new UserError(
    `${source} line ${line} is malformed: ${problem}; fix or remove that line, or move the file aside to start over`,
  );
}

/** Refuses a row that would make the CSV unreadable (unknown family or path, empty model or status). */
export function checkRow(row: ResultRow, source: string): void {
  toRow(toCells(row), (problem) => new Error(`cannot write a row to ${source}: ${problem}`));
}

function toRow(cells: string[], fail: (problem: string) => Error): ResultRow {
  if (cells.length !== RESULT_COLUMNS.length) {
    throw fail(`${cells.length} cells where the header has ${RESULT_COLUMNS.length}`);
  }
  const cell = Object.fromEntries(RESULT_COLUMNS.map((column, i) => [column, cells[i]])) as Record<
    ResultColumn,
    string
  >;
  const family = cell.family as Family;
  if (!FAMILIES.includes(family)) throw fail(`family "${cell.family}" is not one of ${FAMILIES.join(", ")}`);
  const path = cell.path as ResultPath;
  if (!RESULT_PATHS.includes(path)) {
    throw fail(`path "${cell.path}" is not one of ${RESULT_PATHS.join(", ")}`);
  }
  if (cell.model === "") throw fail("the model name is empty");
  if (cell.status === "") throw fail("the status is empty");
  const row: Record<string, unknown> = { ...cell, family, path };
  for (const column of RESULT_COLUMNS) {
    if ((TEXT_COLUMNS as readonly string[]).includes(column)) continue;
    const text = cell[column];
    const value = text === "" ? null : Number(text);
    if (value !== null && !Number.isFinite(value)) throw fail(`${column} "${text}" is not a number`);
    const [low, high] = column === "test_accuracy" ? [0, 1] : [0, Infinity];
    if (value !== null && !(value >= low && value <= high)) {
      throw fail(`${column} ${text} is outside ${high === 1 ? "[0, 1]" : "0 and above"}`);
    }
    row[column] = value;
  }
  return row as ResultRow;
}
