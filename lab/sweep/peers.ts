/**
 * The lab's own framework beside our paths: each model of a sweep measured in PyTorch too, one row per
 * model, seed and PyTorch device (pytorch-cpu, and pytorch-cuda where torch sees a GPU), keyed like ours
 * in the same store. Nothing is trained for these rows: the time per batch is the network's (PyTorch's
 * default initialisation, the peer's resident batches), op_bytes is what PyTorch's profiler counts, and
 * the test accuracy is our checkpoint of that model and seed evaluated in PyTorch, where one was saved.
 */
import { UserError } from "../../engine/errors.ts";
import {
  type PytorchAvailability,
  pytorchAvailable,
  pytorchBench,
  type PytorchDevice,
  pytorchEvaluateCheckpoint,
  type PytorchInferResult,
  pytorchOpBytes,
  startPytorchServer,
  stopPytorchServer,
} from "../peers/pytorch.ts";
import type { PeerModel } from "../peers/tfjs.ts";
import { isFinalStatus, isOurPath, type PeerPath, type ResultRow } from "../results.ts";
import { familyOf, formatMs, hiddenSizes } from "../study.ts";
import { oneLine, type Sweep } from "./plan.ts";
import { checkpointPath, checkpointTrainedAs } from "./resume.ts";
import { failureStatus, record, resultRow } from "./rows.ts";

/** The peers a sweep can measure beside our paths (--peers). */
export const PEERS = ["pytorch"] as const;
export type PeerName = typeof PEERS[number];

/** --peers LIST: "pytorch" or "none"; none by default. */
export function parsePeers(value: string | undefined): PeerName[] {
  if (value === undefined || value.trim() === "none") return [];
  const names = value.split(",").map((part) => part.trim());
  for (const name of names) {
    if (!(PEERS as readonly string[]).includes(name)) {
      throw new UserError(`--peers ${value}: "${name}" is not a peer; use ${PEERS.join(",")} or none`);
    }
  }
  return [...new Set(names as PeerName[])];
}

/** The PyTorch that will be measured, and on which paths: refused at the door where torch is missing. */
export async function pytorchPaths(): Promise<{ paths: PeerPath[]; torch: PytorchAvailability }> {
  const torch = await pytorchAvailable();
  if (!torch.ok) {
    throw new UserError(
      `--peers pytorch: ${torch.why}; install it (bash scripts/setup_bench.sh) or leave --peers out`,
    );
  }
  return { paths: torch.device === "cuda" ? ["pytorch-cpu", "pytorch-cuda"] : ["pytorch-cpu"], torch };
}

/** PyTorch's CPU thread counts tried for every model: one, and all the cores. */
export function threadsTried(cores: number): number[] {
  return [...new Set([1, Math.max(1, cores)])];
}

/** The network as pytorch_peer.py names it: "lenet5" or the hidden sizes; undefined for any other model. */
export function peerModel(model: string): PeerModel | undefined {
  if (model === "lenet5") return "lenet5";
  const hidden = hiddenSizes(model);
  return model.startsWith("mlp-") && hidden.every((size) => Number.isInteger(size) && size > 0)
    ? hidden
    : undefined;
}

export const PYTORCH_CLOCK = "wall clock (time.perf_counter) in PyTorch: one batch's forward pass " +
  "(torch.no_grad, eval mode) with its logits on the host, per batch";

/** A model timed in PyTorch on one device: the best thread count's figures, and every count's median. */
export interface PeerTiming {
  readonly result: PytorchInferResult;
  /** The thread count kept (CPU only). */
  readonly threads?: number;
  /** Median ms per batch at each thread count tried (CPU only). */
  readonly tried: ReadonlyMap<number, number>;
}

/** Times one model on one device; on the CPU at each of `threads`, the count with the lowest median kept. */
export async function timePytorch(
  model: PeerModel,
  device: PytorchDevice,
  batch: number,
  batches: number,
  threads: readonly number[],
): Promise<PeerTiming> {
  if (device === "cuda") {
    return {
      result: await pytorchBench({ workload: "infer", model, device, batch, batches }),
      tried: new Map(),
    };
  }
  const tried = new Map<number, number>();
  let best: { result: PytorchInferResult; threads: number } | undefined;
  for (const count of threads) {
    const result = await pytorchBench({ workload: "infer", model, device, batch, batches, threads: count });
    tried.set(count, result.latencyMs.median);
    if (!best || result.latencyMs.median < best.result.latencyMs.median) best = { result, threads: count };
  }
  return { ...best!, tried };
}

/**
 * op_bytes as the lab took it, PyTorch's profiler, from its runs of one model. PyTorch 1.13's profiler
 * matches memory events to operators by time, and on a loaded machine a run often gives an operator a
 * neighbour's bytes; the forward hooks count the same allocations exactly (`written`). So the figure is a
 * profiler run that the hooks confirm; where none does, the runs' median, and the note says so.
 */
export function profilerOpBytes(runs: readonly number[], written: number): { bytes: number; note: string } {
  const agreeing = runs.filter((run) => run === written).length;
  if (agreeing > 0) {
    return {
      bytes: written,
      note:
        `op_bytes: PyTorch's profiler, ${agreeing} of ${runs.length} runs equal to its forward hooks' count`,
    };
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return {
    bytes: sorted[Math.floor((sorted.length - 1) / 2)],
    note: `op_bytes: the median of PyTorch's profiler's ${runs.length} runs (${runs.join(", ")}); ` +
      `none equal to its forward hooks' count ${written}`,
  };
}

/** The peer paths of a model and seed without a final row of their own (a rerun measures those). */
export function pendingPeerPaths(
  rows: readonly ResultRow[],
  paths: readonly PeerPath[],
  model: string,
  seed: number,
): PeerPath[] {
  const final = new Set(
    rows.filter((row) => row.model === model && (row.seed ?? 0) === seed && isFinalStatus(row.status))
      .map((row) => row.path),
  );
  return paths.filter((path) => !final.has(path));
}

/**
 * Measures every model and seed of `work` in PyTorch on each of `paths` still pending in the store, and
 * records a row per model, seed and path as it is known; a rerun measures only what is missing. The
 * rows' protocol columns are the sweep's; their test accuracy, our checkpoint's in PyTorch where
 * `sweep.saveDir` holds one trained with this protocol.
 */
export async function measurePeers(
  sweep: Sweep,
  work: readonly { model: string; seed: number }[],
  paths: readonly PeerPath[],
  torch: PytorchAvailability,
): Promise<void> {
  const todo = work
    .map((item) => ({ ...item, pending: pendingPeerPaths(sweep.store.rows(), paths, item.model, item.seed) }))
    .filter((item) => item.pending.length > 0);
  if (todo.length === 0) {
    console.log("peers: every model and seed already has its PyTorch rows");
    return;
  }
  console.log(`peers: ${todo.length} models and seeds to measure in PyTorch (${torch.why})`);
  const opBytes = new Map<string, { bytes: number; note: string } | Error>();
  const timings = new Map<string, PeerTiming | Error>();
  await startPytorchServer();
  try {
    for (const [index, { model, seed, pending }] of todo.entries()) {
      if (performance.now() >= sweep.deadline) {
        console.log(`peers: time limit reached; a rerun measures the ${todo.length - index} left`);
        return;
      }
      const tag = `[peers ${index + 1}/${todo.length}] ${model} seed ${seed}`;
      const network = peerModel(model);
      if (!network) {
        for (const path of pending) {
          record(sweep, peerRow(sweep, model, seed, path, `skipped: PyTorch's peer has no network ${model}`));
        }
        continue;
      }
      const accuracy = await checkpointAccuracy(sweep, model, seed, tag);
      if (!opBytes.has(model)) {
        opBytes.set(
          model,
          await pytorchOpBytes([network], sweep.batchSize).then(
            (counted) =>
              profilerOpBytes(Object.values(counted.profiler)[0], Object.values(counted.written)[0]),
            (error) => error as Error,
          ),
        );
      }
      for (const path of pending) {
        const device: PytorchDevice = path === "pytorch-cuda" ? "cuda" : "cpu";
        // The time is the network's, not the seed's: timed once per model and device.
        const key = `${model}|${device}`;
        if (!timings.has(key)) {
          timings.set(
            key,
            await timePytorch(
              network,
              device,
              sweep.batchSize,
              sweep.measure.batches,
              threadsTried(navigator.hardwareConcurrency),
            ).catch((error) => error as Error),
          );
        }
        const timing = timings.get(key)!, bytes = opBytes.get(model)!;
        if (timing instanceof Error) {
          const status = failureStatus(timing, "PyTorch: ");
          console.log(`${tag} ${path}: ${status}`);
          record(sweep, peerRow(sweep, model, seed, path, status));
          continue;
        }
        const row = peerRow(sweep, model, seed, path, "ok", {
          timing,
          torch,
          device,
          opBytes: bytes instanceof Error ? null : bytes.bytes,
          accuracy,
          notes: [bytes instanceof Error ? `op_bytes not counted: ${oneLine(bytes.message)}` : bytes.note],
        });
        console.log(`${tag} ${path}: ${describePeerRow(row)}`);
        record(sweep, row);
      }
    }
  } finally {
    await stopPytorchServer();
  }
}

/** Our checkpoint of this model and seed evaluated in PyTorch, or why there is no accuracy. */
async function checkpointAccuracy(
  sweep: Sweep,
  model: string,
  seed: number,
  tag: string,
): Promise<{ value: number | null; note: string }> {
  if (!sweep.saveDir) {
    return { value: null, note: "test accuracy not measured: no checkpoint directory (--save-dir)" };
  }
  const path = checkpointPath(sweep.saveDir, { model, seed });
  const problem = await checkpointTrainedAs(sweep, { model, seed }, path);
  if (problem) return { value: null, note: `test accuracy not measured: ${problem}` };
  try {
    const result = await pytorchEvaluateCheckpoint(
      path,
      model,
      sweep.data.mnist.source,
      sweep.data.testCount,
    );
    return { value: result.testAccuracy, note: `test accuracy: our checkpoint ${path} evaluated in PyTorch` };
  } catch (error) {
    console.log(`${tag}: ${oneLine((error as Error).message)}`);
    return { value: null, note: `test accuracy not measured: ${oneLine((error as Error).message)}` };
  }
}

interface PeerMeasurement {
  readonly timing: PeerTiming;
  readonly torch: PytorchAvailability;
  readonly device: PytorchDevice;
  readonly opBytes: number | null;
  readonly accuracy: { value: number | null; note: string };
  readonly notes: string[];
}

/** A PyTorch row: the sweep's protocol columns, PyTorch's figures, and what it did not measure (note). */
export function peerRow(
  sweep: Sweep,
  model: string,
  seed: number,
  path: PeerPath,
  status: string,
  measured?: PeerMeasurement,
): ResultRow {
  const base = resultRow(sweep, model, seed, path, status);
  if (!measured) return { ...base, family: familyOf(model) };
  const { result, threads, tried } = measured.timing;
  const device = measured.device === "cuda" ? "CUDA" : `CPU, BLAS ${blasName(measured.torch.blas)}`;
  const triedText = [...tried].map(([count, ms]) => `${count}: ${formatMs(ms)} ms`).join(", ");
  return {
    ...base,
    parameters: result.parameters,
    adapter: `PyTorch ${measured.torch.torch ?? ""} ${device}` +
      (threads === undefined ? "" : `, ${threads} thread${threads === 1 ? "" : "s"}`),
    test_accuracy: measured.accuracy.value,
    infer_ms_median: result.latencyMs.median,
    infer_ms_p10: result.latencyMs.p10,
    infer_ms_p90: result.latencyMs.p90,
    clock: PYTORCH_CLOCK,
    param_bytes: result.parameters * 4,
    op_bytes: measured.opBytes,
    streamed_ms_median: result.streamedMsPerBatch,
    latency_ms_median: result.latencyMs.median,
    latency_ms_p10: result.latencyMs.p10,
    latency_ms_p90: result.latencyMs.p90,
    // Nothing was trained for this row: the model's training time is on our rows.
    train_seconds: null,
    threads: threads ?? null,
    note: [
      ...(triedText ? [`CPU threads tried (median ms/batch): ${triedText}`] : []),
      measured.accuracy.note,
      ...measured.notes,
    ].join("; "),
  };
}

/** The BLAS library's file name, e.g. "libopenblasp-r0.3.21.so", from the paths torch's process loaded. */
export function blasName(blas: string | undefined): string {
  return blas?.split(", ").at(-1)?.split("/").at(-1) || "unknown";
}

function describePeerRow(row: ResultRow): string {
  const accuracy = row.test_accuracy === null ? "no accuracy" : `accuracy ${row.test_accuracy.toFixed(4)}`;
  return `${accuracy}; ${formatMs(row.infer_ms_median!)} ms/batch (p10 ${formatMs(row.infer_ms_p10!)}, ` +
    `p90 ${formatMs(row.infer_ms_p90!)}); ${row.adapter}; op_bytes ${
      row.op_bytes ?? "not counted"
    }; ${row.note}`;
}

/**
 * The models and seeds a store holds whose rows on our paths are all final (ok, skipped, failed, budget
 * skips included): one still in training is left for a later run, which then finds its checkpoint.
 */
export function storeWork(rows: readonly ResultRow[]): { model: string; seed: number }[] {
  const seen = new Map<string, { model: string; seed: number; final: boolean }>();
  for (const row of rows) {
    if (!isOurPath(row.path)) continue;
    const key = `${row.model}|${row.seed ?? 0}`;
    const final = (seen.get(key)?.final ?? true) && isFinalStatus(row.status);
    seen.set(key, { model: row.model, seed: row.seed ?? 0, final });
  }
  return [...seen.values()].filter((item) => item.final).map(({ model, seed }) => ({ model, seed }));
}
