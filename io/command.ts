/**
 * What every command-line tool (cli/) shares: flag parsing that fails in one line, the range of every
 * numeric flag (flags.ts, re-exported), and a guarded main.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../engine/errors.ts";

/** parseArgs, with unknown flags and missing values turned into one-line UserErrors. */
export function parseFlags<T extends ParseArgsConfig["options"]>(args: string[], options: T) {
  // node's parseArgs reads "--epochs -1" as two flags; join a negative number to its flag so
  // that the flag's own check can say what is wrong with it.
  const joined: string[] = [];
  for (const arg of args) {
    const previous = joined.at(-1);
    const takesValue = previous?.startsWith("--") && !previous.includes("=") &&
      Object.hasOwn(options ?? {}, previous.slice(2)) && options?.[previous.slice(2)]?.type === "string";
    if (takesValue && /^-\d/.test(arg)) joined[joined.length - 1] = `${previous}=${arg}`;
    else joined.push(arg);
  }
  let parsed;
  try {
    // A repeated flag: the last one wins, as with getopt, so that a wrapper's defaults can be overridden.
    parsed = parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0].replace(/\. To specify.*$/, "");
    throw new UserError(`${message} (see --help)`);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

export {
  checkRange,
  FLAG_RANGES,
  type FlagRange,
  flagRanges,
  integerFlag,
  MAX_SEED,
  numberFlag,
} from "../lab/flags.ts";

/**
 * Runs a CLI's main: a UserError prints its message alone and exits 2; anything else prints one line
 * too (set DEBUG=1 for the stack) and exits 1.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const debug = Deno.env.get("DEBUG");
    if (error instanceof UserError) {
      console.error(`error: ${error.message}`);
    } else {
      console.error(`error: ${(error as Error)?.message ?? error}`);
      console.error(debug ? (error as Error).stack : "(an internal error: set DEBUG=1 to see where)");
    }
    Deno.exit(error instanceof UserError ? 2 : 1);
  }
}
