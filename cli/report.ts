/**
 * The study's figures (3 to 9) from the sweep's results CSV: Vega-Lite specs rendered headless to SVG,
 * then to PNG with resvg.
 *
 *   deno task report [--csv results/sweep.csv] [--out results/figures]
 *   deno task report --merge A.csv B.csv ... --csv merged.csv [--out DIR]
 */
import { UserError } from "../engine/errors.ts";
import { readFileBytes } from "../io/files.ts";
import { parseFlags, runMain } from "../io/command.ts";
import { parseResults } from "../lab/results.ts";
import { mergeResults, writeFigures } from "../lab/report.ts";

const USAGE = "usage: deno task report [--csv results/sweep.csv] [--out results/figures]\n" +
  "       deno task report --merge A.csv B.csv ... --csv MERGED.csv [--out results/figures]\n" +
  "  --merge: joins the results of sweeps run apart (shards, seeds) into a new store at --csv, then draws it";

const FLAGS = {
  csv: { type: "string" },
  out: { type: "string" },
  merge: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals: sources } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (sources.length > 0 && !flags.merge) {
    throw new UserError(`unexpected argument "${sources[0]}" (see --help)`);
  }
  const csv = flags.csv ?? "results/sweep.csv", out = flags.out ?? "results/figures";
  if (csv.trim() === "" || out.trim() === "") throw new UserError("--csv and --out need a path (see --help)");
  if (flags.merge) {
    const merged = await mergeResults(sources, csv);
    console.log(`report: merged ${sources.length} stores into ${csv}: ${merged.length} rows`);
  }
  const rows = parseResults(new TextDecoder().decode(await readFileBytes(csv)), csv);
  const written = await writeFigures(rows, out);
  console.log(`report: wrote ${written.length} files to ${out}`);
}

if (import.meta.main) await runMain(main);
