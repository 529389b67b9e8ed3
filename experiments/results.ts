/**
 * The sweep's results file: one CSV row per model and path, rewritten whole (atomically) on every append,
 * so a run killed at any instant keeps every row written before it and a rerun resumes where it stopped.
 */
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { UserError } from "../engine/errors.ts";
import { writeFileAtomic } from "../engine/files.ts";

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
  "test_accuracy",
  "infer_ms_median",
  "infer_ms_p10",
  "infer_ms_p90",
  "clock",
  "param_bytes",
  "activation_bytes",
  "peak_infer_bytes",
  "peak_train_bytes",
  "train_seconds",
  "status",
] as const;

export type ResultColumn = typeof RESULT_COLUMNS[number];

export const FAMILIES = ["lenet5", "mlp1", "mlp2"] as const;
export type Family = typeof FAMILIES[number];

export const PATHS = ["cpu", "webgpu"] as const;
export type ExecutionPath = typeof PATHS[number];

const TEXT_COLUMNS = ["model", "family", "path", "adapter", "clock", "status"] as const;
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
  & { model: string; family: Family; path: ExecutionPath; adapter: string; clock: string; status: string }
  & { [column in NumericColumn]: number | null };

const FINAL_STATUS = /^(ok$|skipped:|failed:)/;

/** Whether a row's status means the sweep is done with that model and path. */
export function isFinalStatus(status: string): boolean {
  return FINAL_STATUS.test(status);
}

/** `model|path` of every row a rerun of the sweep should not repeat. */
export function doneKeys(rows: readonly ResultRow[]): Set<string> {
  return new Set(rows.filter((row) => isFinalStatus(row.status)).map(resultKey));
}

export function resultKey(row: Pick<ResultRow, "model" | "path">): string {
  return `${row.model}|${row.path}`;
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

/**
 * Adds `row` to the CSV at `path` (created with a header if missing), never losing the rows already there.
 * A row that would make the file unreadable (unknown family or path, empty model or status) is refused.
 */
export async function appendResult(path: string, row: ResultRow): Promise<void> {
  toRow(toCells(row), (problem) => new Error(`cannot append to ${path}: ${problem}`));
  const rows = await readResults(path);
  await writeFileAtomic(path, formatResults([...rows, row]));
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
  if (header.record.join(",") !== RESULT_COLUMNS.join(",")) {
    throw malformed(source, header.info.lines, `the header is not ${RESULT_COLUMNS.join(",")}`);
  }
  return body.map(({ record, info }) => toRow(record, (problem) => malformed(source, info.lines, problem)));
}

function malformed(source: string, line: number, problem: string): UserError {
  return new UserError(
    `${source} line ${line} is malformed: ${problem}; fix or remove that line, or move the file aside to start over`,
  );
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
  const path = cell.path as ExecutionPath;
  if (!PATHS.includes(path)) throw fail(`path "${cell.path}" is not one of ${PATHS.join(", ")}`);
  if (cell.model === "") throw fail("the model name is empty");
  if (cell.status === "") throw fail("the status is empty");
  const row: Record<string, unknown> = { ...cell, family, path };
  for (const column of RESULT_COLUMNS) {
    if ((TEXT_COLUMNS as readonly string[]).includes(column)) continue;
    const text = cell[column];
    const value = text === "" ? null : Number(text);
    if (value !== null && !Number.isFinite(value)) throw fail(`${column} "${text}" is not a number`);
    row[column] = value;
  }
  return row as ResultRow;
}
