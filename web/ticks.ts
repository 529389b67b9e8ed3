/**
 * Round tick values for the page's charts: steps of 1, 2 or 5 times a power of ten, an axis that starts
 * and ends on a tick, and labels with no more digits than the step needs. Pure, so that tests call it.
 */

/** An axis: its range (on ticks), the step between ticks and the tick values. */
export interface Axis {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly ticks: readonly number[];
}

/** The step of 1, 2 or 5 times a power of ten that divides `span` into at most `maxIntervals` parts. */
export function niceStep(span: number, maxIntervals: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const rough = span / Math.max(1, maxIntervals);
  const power = 10 ** Math.floor(Math.log10(rough));
  // The smallest of 1, 2, 5, 10 (times the power) at least as large as the rough step.
  const factor = [1, 2, 5, 10].find((f) => f * power >= rough * (1 - 1e-9)) ?? 10;
  return factor * power;
}

/**
 * An axis from `low` to `high` (the data's range) grown outwards to the nearest ticks, with at most
 * `maxIntervals` intervals between them. An empty range grows around its value.
 */
export function niceAxis(low: number, high: number, maxIntervals = 5): Axis {
  if (!Number.isFinite(low) || !Number.isFinite(high)) [low, high] = [0, 1];
  if (high < low) [low, high] = [high, low];
  if (high === low) [low, high] = low === 0 ? [0, 1] : [low - Math.abs(low) / 2, high + Math.abs(high) / 2];
  let step = niceStep(high - low, maxIntervals);
  let min = Math.floor(low / step + 1e-9) * step, max = Math.ceil(high / step - 1e-9) * step;
  // Growing to the ticks can add an interval: then take the next step up.
  while (Math.round((max - min) / step) > maxIntervals) {
    step = niceStep(step * 1.5, 1);
    [min, max] = [Math.floor(low / step + 1e-9) * step, Math.ceil(high / step - 1e-9) * step];
  }
  const decimals = decimalsFor(step);
  const round = (value: number) => Number(value.toFixed(decimals));
  const count = Math.round((max - min) / step);
  return {
    min: round(min),
    max: round(max),
    step,
    ticks: Array.from({ length: count + 1 }, (_, i) => round(min + i * step)),
  };
}

/** Digits after the point that a tick step needs: 0 for 1, 10, 500; 1 for 0.5; 2 for 0.02. */
export function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** A tick's label: as many decimals as the step needs; thousands as "k" when the step is 1000 or more. */
export function tickLabel(value: number, step: number): string {
  if (step >= 1000 && value % 1000 === 0) return value === 0 ? "0" : `${value / 1000}k`;
  return value.toFixed(decimalsFor(step));
}
