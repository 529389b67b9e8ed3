/**
 * The tuner's cache on disk (engine/tuner.ts keeps to an interface): one JSON file in the user's
 * cache folder, $XDG_CACHE_HOME/webgpu-lenet/tuning.json or ~/.cache/webgpu-lenet/tuning.json
 * ($WEBGPU_LENET_TUNING_CACHE names another file; "none" keeps the choices in memory),
 * keyed by adapter, op and shape, written atomically (a temporary file renamed over it) after each
 * new choice, so that later runs start at once. A missing or unreadable file is an empty cache;
 * one that cannot be written leaves the choices in memory for this run.
 */
import { dirname, join } from "node:path";
import { UserError } from "../engine/errors.ts";
import type { Backend, BackendKind } from "../engine/backend.ts";
import type { KernelMode, TuningCache, TuningRecord } from "../engine/tuner.ts";
import { CompiledModel, type ModelSpec } from "../models/model.ts";

export function tuningCachePath(): string | undefined {
  const named = Deno.env.get("WEBGPU_LENET_TUNING_CACHE");
  if (named) return named === "none" ? undefined : named;
  const base = Deno.env.get("XDG_CACHE_HOME") ||
    (Deno.env.get("HOME") ? join(Deno.env.get("HOME")!, ".cache") : undefined);
  return base ? join(base, "webgpu-lenet", "tuning.json") : undefined;
}

export class FileTuningCache implements TuningCache {
  readonly #records: Record<string, TuningRecord> = {};
  #warned = false;

  constructor(readonly path: string | undefined = tuningCachePath()) {
    this.#read();
  }

  /** Adds the file's records (a concurrent sweep job may have written some since). */
  #read(): void {
    if (!this.path) return;
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(this.path));
      if (parsed && typeof parsed === "object" && parsed.records && typeof parsed.records === "object") {
        for (const [key, record] of Object.entries(parsed.records as Record<string, TuningRecord>)) {
          if (typeof record?.chosen === "string" && record.msByVariant) this.#records[key] ??= record;
        }
      }
    } catch {
      // No cache yet, or an unreadable one: tune afresh and write a new one.
    }
  }

  get(key: string): TuningRecord | undefined {
    return this.#records[key];
  }

  set(key: string, record: TuningRecord): void {
    this.#records[key] = record;
    if (!this.path) return;
    this.#read();
    const temporary = `${this.path}.${Deno.pid}.tmp`;
    try {
      Deno.mkdirSync(dirname(this.path), { recursive: true });
      Deno.writeTextFileSync(
        temporary,
        JSON.stringify({ version: 1, records: this.#records }, null, 1) + "\n",
      );
      Deno.renameSync(temporary, this.path);
    } catch (error) {
      if (!this.#warned) console.warn(`tuning cache ${this.path} not written: ${(error as Error).message}`);
      this.#warned = true;
    }
  }
}

/** --kernels fixed|tuned; tuned by default on webgpu, fixed on the CPU twins. */
export function kernelMode(value: string | undefined, kind: BackendKind): KernelMode {
  if (value === undefined) return kind === "webgpu" ? "tuned" : "fixed";
  if (value !== "fixed" && value !== "tuned") {
    throw new UserError(`--kernels ${value}: use fixed (today's kernels) or tuned (chosen by measurement)`);
  }
  return value;
}

let sharedCache: FileTuningCache | undefined;

/** A model compiled with the kernel mode, tuned (from the user's cache where it can) before its first step. */
export async function compileModel(
  backend: Backend,
  spec: ModelSpec,
  batch: number,
  seed: number,
  kernels: KernelMode,
  options: { training?: boolean } = {},
): Promise<CompiledModel> {
  sharedCache ??= new FileTuningCache();
  const model = new CompiledModel(backend, spec, batch, seed, {
    ...options,
    kernels,
    tuningCache: sharedCache,
  });
  await model.tune();
  return model;
}
