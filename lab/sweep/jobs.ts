/**
 * A sweep's jobs: tasks trained in processes of their own, up to N at once, each the sweep's command again
 * with --task MODEL@SEED; their lines are passed through, tagged, as they come.
 */
import type { Sweep, Task } from "./plan.ts";

/**
 * The permissions of a job's process: the sweep task's. It starts no process, but --allow-run lets it
 * check that the sweep holding a claim is still alive (store.ts).
 */
export const JOB_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
  "--allow-run",
  "--unstable-webgpu",
];

/** How a job's process is started: the sweep's script and the flags it was given. */
export interface JobCommand {
  readonly script: string;
  readonly args: readonly string[];
}

/**
 * Runs the tasks in up to `jobs` processes at once, each `command` with --task MODEL@SEED; their lines
 * are passed through as they come. At the time limit the running jobs are stopped (their last finished
 * epoch is saved) and listed with the ones never started; returns those.
 */
export async function runJobs(
  sweep: Sweep,
  tasks: Task[],
  jobs: number,
  command: JobCommand,
): Promise<Task[]> {
  const queue = [...tasks];
  const unfinished: Task[] = [];
  const running = new Set<Deno.ChildProcess>();
  const timer = Number.isFinite(sweep.deadline)
    ? setTimeout(() => {
      for (const child of running) child.kill("SIGTERM");
    }, Math.max(0, sweep.deadline - performance.now()))
    : undefined;
  let started = 0;
  const worker = async () => {
    for (let task = queue.shift(); task; task = queue.shift()) {
      if (performance.now() >= sweep.deadline) {
        unfinished.push(task, ...queue.splice(0));
        return;
      }
      const tag = `[${++started}/${tasks.length}]`;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...JOB_PERMISSIONS,
          command.script,
          ...jobArgs(command.args),
          "--task",
          `${task.model}@${task.seed}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      running.add(child);
      const [status] = await Promise.all([
        child.status,
        relayLines(child.stdout, (line) => console.log(`${tag} ${line}`)),
        relayLines(child.stderr, (line) => console.error(`${tag} ${line}`)),
      ]);
      running.delete(child);
      if (!status.success) {
        if (performance.now() >= sweep.deadline) unfinished.push(task);
        else {console.log(
            `${tag} ${task.model} seed ${task.seed}: its job ended with exit code ${status.code}`,
          );}
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  clearTimeout(timer);
  return unfinished;
}

/** The parent's flags less those that only the parent acts on. */
export function jobArgs(args: readonly string[]): string[] {
  const parentOnly = new Set(["--jobs", "--shard", "--budget-hours", "--time-limit-minutes", "--figures"]);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [name] = args[i].split("=");
    if (name === "--estimate-only") continue;
    if (parentOnly.has(name)) {
      if (!args[i].includes("=")) i++;
      continue;
    }
    kept.push(args[i]);
  }
  return kept;
}

async function relayLines(stream: ReadableStream<Uint8Array>, emit: (line: string) => void): Promise<void> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) emit(line);
  }
  if (buffered) emit(buffered);
}
