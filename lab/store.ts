/**
 * The sweep's results store: a SQLite database (Deno's built-in node:sqlite) beside the CSV that users
 * and the report read. Any number of sweeps and jobs may write one store at once: each row lands in a
 * transaction of its own (WAL mode, a busy timeout), keyed by model, path and seed, and the CSV is
 * rewritten from the database inside that same transaction, so the file always shows every committed
 * row, in commit order. The store also holds the study's protocol, which every writer must share, the
 * claims that let concurrent sweeps divide the work, and the measured cost of a training step.
 */
import { DatabaseSync } from "node:sqlite";
import { UserError } from "../engine/errors.ts";
import {
  checkRow,
  formatResults,
  isFinalStatus,
  parseResults,
  type ResultRow,
  withAllColumns,
} from "./results.ts";

/** The protocol every row of one store shares; values as text, compared exactly. */
export type StudyProtocol = Readonly<Record<string, string>>;

/** Why a row is "skipped" when its estimated cost exceeded --budget-hours: retried under a larger one. */
export const BUDGET_SKIP = /^skipped: needs ~/;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS protocol (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rows (
    model TEXT NOT NULL, path TEXT NOT NULL, seed INTEGER NOT NULL,
    final INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (model, path, seed));
  CREATE TABLE IF NOT EXISTS claims (
    model TEXT NOT NULL, seed INTEGER NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    PRIMARY KEY (model, seed));
  CREATE TABLE IF NOT EXISTS step_costs (
    model TEXT NOT NULL, adapter TEXT NOT NULL, batch INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (model, adapter, batch));
`;

/** The database beside a results CSV: results/sweep.csv -> results/sweep.sqlite. */
export function storePath(csvPath: string): string {
  return csvPath.replace(/\.csv$/i, "") + ".sqlite";
}

export class ResultStore {
  readonly #db: DatabaseSync;
  readonly #host = Deno.hostname();

  /** Of a store opened to read: the -wal and -shm files that opening it created, removed on close. */
  #createdBySqlite: string[] = [];

  private constructor(readonly csvPath: string, readonly dbPath: string, readOnly = false) {
    if (readOnly) this.#createdBySqlite = [`${dbPath}-wal`, `${dbPath}-shm`].filter((path) => !exists(path));
    try {
      this.#db = new DatabaseSync(dbPath, { readOnly });
      // The busy timeout first: setting WAL mode itself waits on a writer that holds the database.
      this.#db.exec("PRAGMA busy_timeout = 60000");
      if (!readOnly) {
        this.#db.exec("PRAGMA journal_mode = WAL");
        this.#db.exec(SCHEMA);
      }
    } catch (error) {
      throw new UserError(
        `cannot open the results store ${dbPath}: ${(error as Error).message}; choose another --out`,
      );
    }
  }

  /**
   * Opens (creating if needed) the store of a results CSV. A CSV with rows but no store was written
   * by something else, whose rows the store cannot vouch for: refused.
   */
  static open(csvPath: string): ResultStore {
    const dbPath = storePath(csvPath);
    if (!exists(dbPath) && csvHasRows(csvPath)) {
      throw new UserError(
        `${csvPath} has rows but no results store (${dbPath}): it was not written by this sweep; ` +
          `choose another --out, or move the file aside`,
      );
    }
    return new ResultStore(csvPath, dbPath);
  }

  /**
   * Opens an existing store to read it only: a report or a merge leaves its sources' files untouched
   * (committed stores stay byte for byte as they were).
   */
  static openToRead(csvPath: string): ResultStore {
    const dbPath = storePath(csvPath);
    if (!exists(dbPath)) throw new UserError(`${csvPath} has no results store (${dbPath})`);
    return new ResultStore(csvPath, dbPath, true);
  }

  close(): void {
    this.#db.close();
    // A read-only connection to a WAL store leaves an empty -wal and its -shm behind: not ours to keep.
    for (const path of this.#createdBySqlite) {
      try {
        if (!path.endsWith("-wal") || Deno.statSync(path).size === 0) Deno.removeSync(path);
      } catch { /* never created */ }
    }
  }

  /** The store's protocol, or undefined while no sweep has written to it. */
  protocol(): StudyProtocol | undefined {
    const entries = this.#db.prepare("SELECT key, value FROM protocol").all() as {
      key: string;
      value: string;
    }[];
    return entries.length === 0 ? undefined : Object.fromEntries(entries.map((e) => [e.key, e.value]));
  }

  /**
   * Makes `protocol` the store's if it has none; otherwise it must be the same, else one line names
   * the first difference. Two sweeps opening a new store at once agree on whichever came first.
   */
  adoptProtocol(protocol: StudyProtocol): void {
    this.#transaction(() => {
      const insert = this.#db.prepare("INSERT OR IGNORE INTO protocol (key, value) VALUES (?, ?)");
      if (this.protocol() === undefined) {
        for (const [key, value] of Object.entries(protocol)) insert.run(key, value);
      }
    });
    const stored = this.protocol()!;
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(protocol)])];
    const differs = keys.find((key) => stored[key] !== protocol[key]);
    if (differs !== undefined) {
      throw new UserError(
        `${this.csvPath} holds a study with ${differs} ${stored[differs] ?? "(none)"}, this run asks for ` +
          `${
            protocol[differs] ?? "(none)"
          }: choose another --out, or move ${this.csvPath} and ${this.dbPath} aside`,
      );
    }
  }

  /** Every row, in the order they were first written. */
  rows(): ResultRow[] {
    const stored = this.#db.prepare("SELECT row FROM rows ORDER BY rowid").all() as { row: string }[];
    return stored.map((s) => withAllColumns(JSON.parse(s.row)));
  }

  /**
   * Writes a row, unless a final row with its key is there already (then nothing changes and false is
   * returned): a rerun or a second sweep can never duplicate or overwrite a result. A row skipped for
   * the budget is the exception: a later run with a larger budget replaces it.
   */
  record(row: ResultRow): boolean {
    checkRow(row, this.csvPath);
    const seed = row.seed ?? 0;
    let written = false;
    this.#transaction(() => {
      const existing = this.#db.prepare(
        "SELECT final, row FROM rows WHERE model = ? AND path = ? AND seed = ?",
      )
        .get(row.model, row.path, seed) as { final: number; row: string } | undefined;
      const replaceable = !existing || existing.final === 0 ||
        BUDGET_SKIP.test((JSON.parse(existing.row) as ResultRow).status);
      if (!replaceable) return;
      this.#db.prepare(
        `INSERT INTO rows (model, path, seed, final, row) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model, path, seed) DO UPDATE SET final = excluded.final, row = excluded.row`,
      ).run(row.model, row.path, seed, isFinalStatus(row.status) ? 1 : 0, JSON.stringify(row));
      written = true;
      this.#exportCsv();
    });
    return written;
  }

  /**
   * Claims the training of one model and seed for this process. Returns undefined when claimed, or
   * the live process (host:pid) that holds it; a claim whose process is gone is taken over.
   */
  claim(model: string, seed: number): string | undefined {
    let holder: string | undefined;
    this.#transaction(() => {
      const claim = this.#db.prepare("SELECT host, pid FROM claims WHERE model = ? AND seed = ?")
        .get(model, seed) as { host: string; pid: number } | undefined;
      const mine = claim && claim.host === this.#host && claim.pid === Deno.pid;
      // Another host's claim cannot be checked from here: it stands until that sweep releases it.
      const alive = claim && (claim.host !== this.#host || processAlive(claim.pid));
      if (claim && !mine && alive) {
        holder = `${claim.host}:${claim.pid}`;
        return;
      }
      this.#db.prepare("INSERT OR REPLACE INTO claims (model, seed, host, pid) VALUES (?, ?, ?, ?)")
        .run(model, seed, this.#host, Deno.pid);
    });
    return holder;
  }

  release(model: string, seed: number): void {
    this.#transaction(() =>
      this.#db.prepare("DELETE FROM claims WHERE model = ? AND seed = ? AND host = ? AND pid = ?")
        .run(model, seed, this.#host, Deno.pid)
    );
  }

  /** Records the seconds per training step measured for a model on an adapter at a batch size. */
  saveStepCost(model: string, adapter: string, batch: number, seconds: number): void {
    this.#transaction(() =>
      this.#db.prepare(
        "INSERT OR REPLACE INTO step_costs (model, adapter, batch, seconds) VALUES (?, ?, ?, ?)",
      )
        .run(model, adapter, batch, seconds)
    );
  }

  /** BEGIN IMMEDIATE takes the write lock at once, so a transaction never fails half-way for a lock. */
  #transaction(body: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      body();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Inside the writer's transaction: the rename publishes exactly the rows committed so far. */
  #exportCsv(): void {
    const slash = this.csvPath.lastIndexOf("/");
    const temp = `${this.csvPath.slice(0, slash + 1)}.${
      this.csvPath.slice(slash + 1)
    }.${crypto.randomUUID()}.tmp`;
    try {
      Deno.writeTextFileSync(temp, formatResults(this.rows()));
      Deno.renameSync(temp, this.csvPath);
    } catch (error) {
      try {
        Deno.removeSync(temp);
      } catch { /* never written */ }
      throw new UserError(`cannot write ${this.csvPath}: ${(error as Error).message}; choose another --out`);
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function csvHasRows(path: string): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return false;
  }
  try {
    return parseResults(text, path).length > 0;
  } catch {
    return text.trim().split("\n").length > 1;
  }
}

/**
 * Whether a process of this host is running: a SIGCONT (which a running process ignores) reaches it.
 * Deno guards /proc of other processes behind --allow-all, so the signal is the probe (--allow-run).
 */
function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    // Without the permission to ask, a claim is taken to be alive: better a model left than one trained twice.
    return true;
  }
}

/** Several stores' rows read as one study (collectStores). */
export interface CollectedStores {
  /** The sources' shared protocol, their seeds joined. */
  readonly protocol: StudyProtocol;
  /** One row per model, path and seed, in the order first seen. */
  readonly rows: ResultRow[];
  /** Rows of an earlier source that a later one replaced (preferLater), as "model, path, seed N". */
  readonly replaced: string[];
}

/**
 * Reads the stores of several results CSVs (or their .sqlite files) as one study. Their protocols must agree but for the seeds,
 * which are joined. A model, path and seed found in two sources must be the same row, else it is
 * refused; with `preferLater` the later source's row is kept instead (e.g. timings measured again on a
 * quiet machine, listed after the stores measured under load), and the replaced keys are returned.
 */
export function collectStores(
  sourceCsvs: readonly string[],
  options: { preferLater?: boolean } = {},
): CollectedStores {
  if (sourceCsvs.length === 0) throw new UserError("no results stores given");
  const protocols: StudyProtocol[] = [];
  const rows = new Map<string, { row: ResultRow; source: string }>();
  const replaced = new Set<string>();
  for (const source of sourceCsvs) {
    // A store may be named by its CSV or by its database.
    const csv = source.replace(/\.sqlite$/i, ".csv");
    const store = ResultStore.openToRead(csv);
    try {
      const protocol = store.protocol();
      if (!protocol) throw new UserError(`${csv} holds no study yet`);
      protocols.push(protocol);
      for (const row of store.rows()) {
        const key = `${row.model}, ${row.path}, seed ${row.seed ?? 0}`;
        const earlier = rows.get(key);
        if (earlier && JSON.stringify(earlier.row) !== JSON.stringify(row)) {
          if (!options.preferLater) {
            throw new UserError(
              `${key} differs between ${earlier.source} and ${csv}: remove it from one of them, ` +
                `or list the store to keep last and add --prefer-later`,
            );
          }
          replaced.add(key);
          // The later row takes the earlier one's place in the order.
          rows.set(key, { row, source: csv });
          continue;
        }
        if (!earlier) rows.set(key, { row, source: csv });
      }
    } finally {
      store.close();
    }
  }
  const [first] = protocols;
  for (const [i, protocol] of protocols.entries()) {
    const keys = [...new Set([...Object.keys(first), ...Object.keys(protocol)])];
    const differs = keys.find((key) => key !== "seeds" && first[key] !== protocol[key]);
    if (differs !== undefined) {
      throw new UserError(
        `${sourceCsvs[0]} and ${sourceCsvs[i]} differ in ${differs} (${first[differs]} and ${
          protocol[differs]
        }): only studies with one protocol merge`,
      );
    }
  }
  const seeds = [...new Set(protocols.flatMap((p) => p.seeds.split(",").map(Number)))].sort((a, b) => a - b);
  return {
    protocol: { ...first, seeds: seeds.join(",") },
    rows: [...rows.values()].map(({ row }) => row),
    replaced: [...replaced],
  };
}

/**
 * Merges the stores of several results CSVs (e.g. the shards of one study, or one study's seeds run
 * apart) into a new store at `targetCsv`, as collectStores reads them.
 */
export function mergeStores(
  sourceCsvs: readonly string[],
  targetCsv: string,
  options: { preferLater?: boolean } = {},
): ResultRow[] {
  if (sourceCsvs.length < 2) throw new UserError("--merge needs two results files or more");
  if (exists(storePath(targetCsv)) || csvHasRows(targetCsv)) {
    throw new UserError(`${targetCsv} exists already: merge into a new --csv`);
  }
  const { protocol, rows } = collectStores(sourceCsvs, options);
  const target = ResultStore.open(targetCsv);
  try {
    target.adoptProtocol(protocol);
    for (const row of rows) target.record(row);
    return target.rows();
  } finally {
    target.close();
  }
}
