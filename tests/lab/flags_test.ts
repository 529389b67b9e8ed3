/** The one table of numeric flag ranges (lab/flags.ts) and its parsers, which every command uses. */
import assert from "node:assert/strict";
import { UserError } from "../../engine/errors.ts";
import { FLAG_RANGES, integerFlag, numberFlag } from "../../io/command.ts";

Deno.test("every numeric flag's range refuses just past its ends and takes its ends", () => {
  for (const [name, range] of FLAG_RANGES) {
    const parse = (value: number) => numberFlag(name, String(value));
    assert.equal(parse(range.max), range.max, name);
    const past = range.integer ? range.max + 1 : range.max * 1.001;
    assert.throws(() => parse(past), UserError, `--${name} ${past}`);
    if (range.aboveMin) assert.throws(() => parse(range.min), UserError, `--${name} ${range.min}`);
    else assert.equal(parse(range.min), range.min, name);
    assert.throws(() => parse(range.min - 1), UserError, `--${name} ${range.min - 1}`);
    for (
      const junk of [
        "NaN",
        "Infinity",
        "0x10",
        "",
        " ",
        "+5",
        "5abc",
        "--1",
        "1e999",
        ...(range.integer ? ["1e3", "2.0"] : []),
      ]
    ) {
      assert.throws(() => numberFlag(name, junk), UserError, `--${name} ${JSON.stringify(junk)}`);
    }
    if (range.integer) assert.throws(() => parse(range.min + 1.5), UserError, `--${name} ${range.min + 1.5}`);
  }
  // The seed takes what the generator takes, 32 bits, and no more: 2^32 would repeat seed 0.
  assert.equal(integerFlag("seed", "4294967295", 0), 4294967295);
  assert.throws(
    () => integerFlag("seed", "4294967296", 0),
    /--seed 4294967296: must be an integer of at least 0/,
  );
});

/** The TypeScript files under `dir` (a URL ending in /), subfolders included. */
async function sourceFiles(dir: URL): Promise<URL[]> {
  const files: URL[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) files.push(...await sourceFiles(new URL(`${entry.name}/`, dir)));
    else if (entry.name.endsWith(".ts")) files.push(new URL(entry.name, dir));
  }
  return files;
}

Deno.test("every numeric flag the commands parse (cli/ and the lab behind them) has its range in the one table", async () => {
  const used = new Set<string>();
  const sources = [
    ...await sourceFiles(new URL("../../cli/", import.meta.url)),
    ...await sourceFiles(new URL("../../lab/", import.meta.url)),
  ];
  for (const file of sources) {
    const source = await Deno.readTextFile(file);
    for (
      const match of source.matchAll(
        /(?:integerFlag|numberFlag|positiveNumberFlag|checkRange)\(\s*"([a-z-]+)"/g,
      )
    ) {
      used.add(match[1]);
    }
  }
  // --seeds and --shard are checked in lab/sweep/plan.ts, --epochs of gpu-study in lab/gpu_study.ts.
  for (const name of ["seed", "timed-batches", "seeds", "shard"]) {
    assert.ok(used.has(name), [...used].join(" "));
  }
  for (const name of used) assert.ok(FLAG_RANGES.has(name), `--${name} has no entry in FLAG_RANGES`);
});
