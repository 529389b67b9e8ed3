/**
 * `deno task gpu-study OUT --minutes 9`: the whole study on a GPU server in one command, within a time
 * limit (lab/gpu_study.ts says its steps). On a server with no network it runs through the offline
 * bundle: `bash DIR/run gpu-study OUT ...`.
 */
import { runMain } from "../io/command.ts";
import { planFromArgs, runGpuStudy } from "../lab/gpu_study.ts";

const USAGE = `usage: deno task gpu-study OUT [--minutes 9] [--jobs N] [--skip parity,bench,estimate]
    [--models LIST] [--epochs 20] [--train-limit N] [--test-limit N] [--full-bench]
  OUT          a new or empty folder; receives summary.txt, study.log, estimate.txt, bench.json,
               results.csv, figures.tar.gz
  --minutes    the whole run's limit (default 9); the sweep stops cleanly before it
  --jobs       concurrent model processes in the sweep (default: cores - 2, at least 1, at most 16)
  --skip       steps to leave out
  --models, --epochs, --train-limit, --test-limit: passed to the sweep (and its estimate), for trial runs
  --full-bench the bench's full mode instead of --quick`;

async function main(): Promise<void> {
  const parsed = planFromArgs(Deno.args);
  if (!parsed) {
    console.log(USAGE);
    return;
  }
  await runGpuStudy(parsed.out, parsed.plan, Deno.args);
}

if (import.meta.main) await runMain(main);
