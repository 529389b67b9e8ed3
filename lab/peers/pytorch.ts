/**
 * PyTorch as a peer, where the machine has it: each workload runs in `pytorch_peer.py`, which takes one
 * JSON request on stdin and answers one JSON line on stdout.
 */
import { fileURLToPath } from "node:url";
import { UserError } from "../../engine/errors.ts";
import type { PeerInferResult, PeerModel, PeerTrainResult } from "./tfjs.ts";

export type PytorchDevice = "cpu" | "cuda";
export interface PytorchAvailability {
  ok: boolean;
  why: string;
  device?: PytorchDevice; // "cuda" where torch sees a CUDA device, else "cpu"
  /** The BLAS library torch's process loaded, e.g. ".../openblas-pthread/libblas.so.3" (update-alternatives). */
  blas?: string;
  /** torch.get_num_threads() by default. */
  defaultThreads?: number;
  /** The python3 that imports torch, e.g. for a script of one's own. */
  python?: string;
  /** torch.__version__. */
  torch?: string;
}
/** `threads`: torch.set_num_threads for this call; PyTorch's own default where absent. */
export type PytorchRequest =
  | {
    workload: "train";
    model: PeerModel;
    device: PytorchDevice;
    batch: number;
    steps: number;
    threads?: number;
  }
  | {
    workload: "infer";
    model: PeerModel;
    device: PytorchDevice;
    batch: number;
    batches: number;
    threads?: number;
  }
  | {
    workload: "matmul";
    device: PytorchDevice;
    n: number;
    batch: number;
    repeats: number;
    threads?: number;
  };
export interface PeerMatmulResult {
  gflops: number;
}
/** An inference answer carries PyTorch's own count of the network's parameters. */
export type PytorchInferResult = PeerInferResult & { parameters: number };
export type PytorchResult<R extends PytorchRequest> = R extends { workload: "train" } ? PeerTrainResult
  : R extends { workload: "infer" } ? PytorchInferResult
  : PeerMatmulResult;

const PEER_SCRIPT = fileURLToPath(new URL("./pytorch_peer.py", import.meta.url));
// `python3` first; Debian's own interpreter next, since python3-torch installs there and a pyenv or
// venv python3 earlier on PATH does not see it.
const INTERPRETERS = ["python3", "/usr/bin/python3"];

interface PeerReply {
  ok: boolean;
  line: string; // the JSON answer, or the last line of stderr
}

async function askPeer(python: string, request: object): Promise<PeerReply> {
  try {
    const child = new Deno.Command(python, {
      args: [PEER_SCRIPT],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(request)));
    await writer.close();
    const { success, stdout, stderr } = await child.output();
    const lastLine = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim().split("\n").at(-1) ?? "";
    return success
      ? { ok: true, line: lastLine(stdout) }
      : { ok: false, line: lastLine(stderr) || "no output" };
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found" : String(error).split("\n")[0];
    return { ok: false, line: reason };
  }
}

let chosenInterpreter: Promise<{ python?: string; availability: PytorchAvailability }> | undefined;

function findInterpreter() {
  chosenInterpreter ??= (async () => {
    const failures: string[] = [];
    for (const python of new Set(INTERPRETERS)) {
      const reply = await askPeer(python, { workload: "probe" });
      if (!reply.ok) {
        failures.push(`${python}: ${reply.line}`);
        continue;
      }
      const probe = JSON.parse(reply.line);
      const why = `torch ${probe.torch} via ${python} on ${probe.deviceName}; BLAS ${probe.blas}; ` +
        `${probe.threads} CPU threads by default, the best of 1..${navigator.hardwareConcurrency} used per cell`;
      return {
        python,
        availability: {
          ok: true,
          why,
          device: probe.device,
          blas: probe.blas,
          defaultThreads: probe.threads,
          python,
          torch: probe.torch,
        },
      };
    }
    return { availability: { ok: false, why: `no usable PyTorch: ${failures.join("; ")}` } };
  })();
  return chosenInterpreter;
}

/** Whether a python3 with torch is here, and its best device; never throws. */
export async function pytorchAvailable(): Promise<PytorchAvailability> {
  return (await findInterpreter()).availability;
}

/**
 * One python process serving many requests (`pytorch_peer.py --serve`), so that torch is imported once
 * rather than per call (seconds each on a loaded machine). The bench starts it and stops it.
 */
class PeerServer {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(python: string) {
    this.#child = new Deno.Command(python, {
      args: [PEER_SCRIPT, "--serve"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())[
      Symbol.asyncIterator
    ]();
  }

  ask(request: object): Promise<PeerReply> {
    const asked = this.#queue.then(async (): Promise<PeerReply> => {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
      const { value, done } = await this.#lines.next();
      if (done) return { ok: false, line: "the PyTorch peer process ended" };
      const reply = JSON.parse(value);
      return reply.ok ? { ok: true, line: JSON.stringify(reply.result) } : { ok: false, line: reply.error };
    });
    this.#queue = asked.catch(() => {});
    return asked;
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#writer.close();
    await this.#lines.return?.();
    await this.#child.status;
  }
}

function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.trim()) controller.enqueue(line);
    },
  });
}

let server: PeerServer | undefined;

/** From now on, requests go to one long-lived python process (until stopPytorchServer). */
export async function startPytorchServer(): Promise<void> {
  const { python } = await findInterpreter();
  if (python && !server) server = new PeerServer(python);
}

export async function stopPytorchServer(): Promise<void> {
  await server?.close();
  server = undefined;
}

/** Runs one workload in PyTorch; results have the same shapes as the TF.js peer's. */
export async function pytorchBench<R extends PytorchRequest>(request: R): Promise<PytorchResult<R>> {
  const { python, availability } = await findInterpreter();
  if (!python) throw new UserError(`PyTorch peer unavailable: ${availability.why}`);
  const reply = server ? await server.ask(request) : await askPeer(python, request);
  if (!reply.ok) throw new UserError(`PyTorch peer failed on ${request.workload}: ${reply.line}`);
  return JSON.parse(reply.line);
}

const OP_BYTES_SCRIPT = fileURLToPath(new URL("./pytorch_op_bytes.py", import.meta.url));

/** op_bytes in PyTorch's words (pytorch_op_bytes.py), per model name: its profiler's runs and the hooks' count. */
export interface PytorchOpBytes {
  /** Bytes the modules' outputs that are not views take (forward hooks): exact. */
  written: Record<string, number>;
  /** The profiler's figure, seven runs (PyTorch 1.13 now and then gives an operator a neighbour's bytes). */
  profiler: Record<string, number[]>;
}

/** Runs pytorch_op_bytes.py on the models at one batch size. */
export function pytorchOpBytes(models: readonly PeerModel[], batch: number): Promise<PytorchOpBytes> {
  return runScript(OP_BYTES_SCRIPT, { models, batch }, "PyTorch's profiler could not count op_bytes");
}

/** Starts one of the peer's scripts with torch's python and hands it `request` as JSON on stdin. */
async function spawnScript(script: string, request: object): Promise<Deno.ChildProcess> {
  const { python, availability } = await findInterpreter();
  if (!python) throw new UserError(`PyTorch unavailable: ${availability.why}`);
  const child = new Deno.Command(python, {
    args: [script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request)));
  await writer.close();
  return child;
}

/**
 * Runs one of the peer's one-shot scripts: the request as JSON on stdin, its answer the last line of
 * stdout; a failure is a UserError with `failure` and the script's last line of stderr.
 */
async function runScript<T>(script: string, request: object, failure: string): Promise<T> {
  const child = await spawnScript(script, request);
  const { success, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(success ? stdout : stderr).trim().split("\n").at(-1) ?? "";
  if (!success) throw new UserError(`${failure}: ${text}`);
  return JSON.parse(text);
}

const CHECKPOINT_SCRIPT = fileURLToPath(new URL("./pytorch_checkpoint.py", import.meta.url));

export interface PytorchCheckpointResult {
  testAccuracy: number;
  tensors: string[];
  metadata: Record<string, string>;
}

/**
 * Loads one of our checkpoints into the PyTorch module of the same network (strict=True) and
 * measures its test accuracy on the IDX files in `mnistDir`.
 */
export function pytorchEvaluateCheckpoint(
  checkpoint: string,
  model: string,
  mnistDir: string,
  testLimit?: number,
): Promise<PytorchCheckpointResult> {
  return runScript(
    CHECKPOINT_SCRIPT,
    { checkpoint, model, mnist: mnistDir, testLimit },
    `PyTorch could not load ${checkpoint}`,
  );
}

const CROSSCHECK_SCRIPT = fileURLToPath(new URL("./pytorch_crosscheck.py", import.meta.url));

/** What `pytorch_crosscheck.py` takes: see its docstring. */
export interface PytorchCrosscheckRequest {
  checkpoint: string;
  model: string;
  mnist: string;
  pixelMean: number;
  pixelStd: number;
  trainCount: number;
  testCount: number;
  batch: number;
  /** One learning rate per epoch. */
  rates: number[];
  /** A file of epochs x trainCount little-endian uint32: each epoch's order. */
  orders: string;
  /** Where torch sees CUDA by default, else the CPU. */
  device?: PytorchDevice;
  /** torch.set_num_threads; PyTorch's own default where absent. */
  threads?: number;
  /** Train in float64: a reference free of float32's rounding, to measure what that rounding explains. */
  float64?: boolean;
}

/** The PyTorch run's set-up, as its first line reports it. */
export interface PytorchRunInfo {
  torch: string;
  device: PytorchDevice;
  threads: number;
}

/** One epoch of the PyTorch run. */
export interface PytorchEpoch {
  epoch: number;
  trainLoss: number;
  testAccuracy: number;
  seconds: number;
}

/**
 * Trains PyTorch from our initial weights in our batch order (`pytorch_crosscheck.py`), calling
 * `onEpoch` as each epoch's line arrives; a failure is a UserError with the script's last line.
 */
export async function pytorchTrainFrom(
  request: PytorchCrosscheckRequest,
  onEpoch?: (epoch: PytorchEpoch) => void,
): Promise<{ info: PytorchRunInfo; epochs: PytorchEpoch[] }> {
  const child = await spawnScript(CROSSCHECK_SCRIPT, request);
  const stderr = new Response(child.stderr).text();
  let info: PytorchRunInfo | undefined;
  const epochs: PytorchEpoch[] = [];
  for await (const line of child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())) {
    const reply = JSON.parse(line);
    if (info === undefined) info = reply as PytorchRunInfo;
    else {
      epochs.push(reply as PytorchEpoch);
      onEpoch?.(reply as PytorchEpoch);
    }
  }
  const { success } = await child.status;
  const lastError = (await stderr).trim().split("\n").at(-1) || "no output";
  if (!success || !info) throw new UserError(`PyTorch's run of ${request.model} failed: ${lastError}`);
  return { info, epochs };
}
