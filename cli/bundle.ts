/**
 * `deno task bundle DIR`: an offline bundle (io/bundle.ts says what it holds), with which train, sweep,
 * eval, bench and gpu-study run on an x86-64 Linux machine with no network.
 */
import { UserError } from "../engine/errors.ts";
import { writeBundle } from "../io/bundle.ts";
import { parseFlags, runMain } from "../io/command.ts";

const USAGE = `usage: deno task bundle DIR
  Writes an offline bundle into DIR (new or empty, or an older bundle, which is replaced): with it,
  \`bash DIR/run TASK [ARGS...]\` runs \`deno task TASK ARGS...\` from the root of a checkout on an
  x86-64 Linux machine with no network. At most 60 MiB.`;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, { help: { type: "boolean" } });
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new UserError("give one folder: deno task bundle DIR (see --help)");
  console.log(await writeBundle(positionals[0]));
}

if (import.meta.main) await runMain(main);
