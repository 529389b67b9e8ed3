/**
 * The study's figures (3 to 9) from the sweep's results CSV: Vega-Lite specs rendered headless to SVG,
 * then to PNG with resvg.
 *
 *   deno task report [--csv results/sweep.csv] [--out results/figures]
 *   deno task report A.csv B.csv ... [--prefer-later] [--out DIR]
 *   deno task report --merge A.csv B.csv ... --csv merged.csv [--prefer-later] [--out DIR]
 */
import { UserError } from "../engine/errors.ts";
import { readFileBytes } from "../io/files.ts";
import { parseFlags, runMain } from "../io/command.ts";
import { parseResults, type ResultRow } from "../lab/results.ts";
import { collectStores } from "../lab/store.ts";
import { mergeResults, writeFigures } from "../lab/report.ts";

const USAGE = `usage: deno task report [--csv results/sweep.csv] [--out results/figures]
       deno task report A.csv B.csv ... [--prefer-later] [--out results/figures]
       deno task report --merge A.csv B.csv ... --csv MERGED.csv [--prefer-later] [--out results/figures]
  A.csv B.csv ...: draws the stores of these results files (or their .sqlite files) as one study (nothing written but the figures,
    results.md and conclusions.md); their protocols must agree but for the seeds, which are joined, and a
    model, path and seed in two of them must be the same row
  --merge: joins them into a new store at --csv (which must not exist), then draws it
  --prefer-later: where two stores hold different rows for one model, path and seed, keep the later
    store's (e.g. list the stores measured again on a quiet machine last); the report says how many`;

const FLAGS = {
  csv: { type: "string" },
  out: { type: "string" },
  merge: { type: "boolean" },
  "prefer-later": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals: sources } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const csv = flags.csv ?? "results/sweep.csv", out = flags.out ?? "results/figures";
  if (csv.trim() === "" || out.trim() === "") throw new UserError("--csv and --out need a path (see --help)");
  const preferLater = flags["prefer-later"] ?? false;
  let rows: ResultRow[];
  if (flags.merge) {
    const merged = await mergeResults(sources, csv, { preferLater });
    console.log(`report: merged ${sources.length} stores into ${csv}: ${merged.length} rows`);
    rows = parseResults(new TextDecoder().decode(await readFileBytes(csv)), csv);
  } else if (sources.length > 0) {
    if (flags.csv !== undefined) {
      throw new UserError("give stores as arguments or --csv, not both (see --help)");
    }
    const study = collectStores(sources, { preferLater });
    console.log(
      `report: ${sources.length} stores, ${study.rows.length} rows, seeds ${study.protocol.seeds}` +
        (study.replaced.length > 0 ? `; ${study.replaced.length} rows taken from a later store` : ""),
    );
    rows = study.rows;
  } else {
    if (preferLater) {
      throw new UserError("--prefer-later chooses among several stores: list them (see --help)");
    }
    rows = parseResults(new TextDecoder().decode(await readFileBytes(csv)), csv);
  }
  const written = await writeFigures(rows, out);
  console.log(`report: wrote ${written.length} files to ${out}`);
}

if (import.meta.main) await runMain(main);
