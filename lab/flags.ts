/**
 * One table of the range of every numeric flag of every CLI, and the parsers that check a value
 * against it. No Deno here: the protocol's parser (and with it the browser page) uses it too.
 */
import { UserError } from "../engine/errors.ts";

/** The values a numeric flag may take: integers or not, from min to max (both included unless open). */
export interface FlagRange {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  /** The minimum itself is excluded (a duration or rate must be above 0). */
  readonly aboveMin?: boolean;
}

const integers = (min: number, max: number): FlagRange => ({ min, max, integer: true });
const positive = (max: number): FlagRange => ({ min: 0, max, integer: false, aboveMin: true });

/** The seed's range: Random takes 32 bits, so a larger seed would silently repeat a smaller one. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * Every numeric flag of every CLI, by name: one range each, checked before any work starts, and
 * printed by --help (flagRanges). The maxima are far above any sensible run and keep a typo such as
 * `--timed-batches 2147483648` from growing memory for hours before failing.
 */
export const FLAG_RANGES: ReadonlyMap<string, FlagRange> = new Map([
  ["epochs", integers(0, 1000)],
  ["batch-size", integers(1, 65536)],
  ["seed", integers(0, MAX_SEED)],
  ["seeds", integers(0, MAX_SEED)],
  ["train-limit", integers(1, 10_000_000)],
  ["test-limit", integers(1, 10_000_000)],
  ["warmup", integers(0, 100_000)],
  ["timed-batches", integers(1, 100_000)],
  ["max-timing-seconds", integers(1, 86_400)],
  ["repeats", integers(1, 10_000)],
  ["steps", integers(1, 1_000_000)],
  ["jobs", integers(1, 64)],
  /** deno task serve --port: 0 lets the system choose. */
  ["port", integers(0, 65535)],
  /** --shard K/N: N shards, K from 1 to N. */
  ["shard", integers(1, 10_000)],
  ["budget-hours", positive(10_000)],
  ["time-limit-minutes", positive(600_000)],
  /** A learning rate in --lr-schedule, up to float32's largest (the kernels' type); epochs as --epochs. */
  ["learning-rate", positive(3.4e38)],
]);

function rangeOf(name: string): FlagRange {
  const range = FLAG_RANGES.get(name);
  if (!range) throw new Error(`no range declared for --${name} in FLAG_RANGES (io/command.ts)`);
  return range;
}

/** 4,294,967,295, but 3.4e+38 where separators would run on. */
function formatNumber(value: number): string {
  return value >= 1e12 ? value.toExponential() : value.toLocaleString("en");
}

function describeRange(range: FlagRange): string {
  const kind = range.integer ? "an integer" : "a number";
  if (range.aboveMin && range.min === 0) {
    return `a positive ${kind.slice(2)} of at most ${formatNumber(range.max)}`;
  }
  const low = range.aboveMin ? `above ${range.min}` : `of at least ${formatNumber(range.min)}`;
  return `${kind} ${low} and at most ${formatNumber(range.max)}`;
}

/**
 * Checks a number against its flag's range (`min` overrides the table's minimum); `label` is what
 * the error names, e.g. "--seeds 3-x" for one item of a list.
 */
export function checkRange(name: string, number: number, label = `--${name}`, min?: number): number {
  const range = rangeOf(name);
  const low = min ?? range.min;
  const inRange = Number.isFinite(number) && (range.aboveMin ? number > low : number >= low) &&
    number <= range.max && (!range.integer || Number.isInteger(number));
  if (!inRange) throw new UserError(`${label}: must be ${describeRange({ ...range, min: low })}`);
  return number;
}

/** Decimal digits only: no hex, exponent, "+" or blank, so "0x10" or "1e3" is not read as an integer. */
const INTEGER_TEXT = /^-?\d+$/;
/** A decimal, with an exponent if wanted ("0.5", "1e-4"); no hex, "Infinity" or "NaN". */
const NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A numeric flag's value in its range (FLAG_RANGES); undefined stays undefined. */
export function numberFlag(name: string, value: string | undefined, min?: number): number | undefined {
  if (value === undefined) return undefined;
  const range = rangeOf(name);
  const text = value.trim();
  const number = (range.integer ? INTEGER_TEXT : NUMBER_TEXT).test(text) ? Number(text) : NaN;
  return checkRange(name, number, `--${name} ${value}`, min);
}

/** An integer flag in its range (FLAG_RANGES), at least `min`; undefined stays undefined. */
export function integerFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (!rangeOf(name).integer) throw new Error(`--${name} is not an integer flag`);
  return numberFlag(name, value, min);
}

/** "ranges: --epochs 0-1000, ..." for a CLI's --help, from the one table. */
export function flagRanges(names: readonly string[]): string {
  const parts = names.map((name) => {
    const { min, max, aboveMin } = rangeOf(name);
    return `--${name} ${aboveMin ? `>${min}` : formatNumber(min)}..${formatNumber(max)}`;
  });
  return `  ranges: ${parts.join(", ")}`;
}
