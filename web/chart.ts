/** The page's line charts on a canvas: round ticks (web/ticks.ts), labelled axes, a legend. */
import { niceAxis, tickLabel } from "./ticks.ts";

/** One line: its points [x, y], and how the legend names it. */
export interface Series {
  readonly points: [number, number][];
  readonly color: string;
  readonly label: string;
  /** Dots on each point (few points, e.g. one per epoch). */
  readonly dots?: boolean;
}

export interface ChartOptions {
  readonly xLabel: string;
  readonly yLabel: string;
  /** The x range to show at least (e.g. the epochs asked for), so the line grows into the chart. */
  readonly xMax: number;
  /** Bounds the y axis may not pass (accuracy: 0 and 1). */
  readonly yClamp?: readonly [number, number];
}

export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[], options: ChartOptions): void {
  const context = canvas.getContext("2d")!;
  const { width, height } = canvas;
  const left = 58, bottom = 40, top = 26, right = 14;
  context.clearRect(0, 0, width, height);
  context.font = "12px system-ui, sans-serif";
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter(Number.isFinite);
  const [clampLow, clampHigh] = options.yClamp ?? [-Infinity, Infinity];
  const yAxis = niceAxis(
    Math.max(clampLow, ys.length ? Math.min(...ys) : 0),
    Math.min(clampHigh, ys.length ? Math.max(...ys) : 1),
    5,
  );
  const xAxis = niceAxis(0, Math.max(options.xMax, ...xs), 6);
  const x = (v: number) => left + ((v - xAxis.min) / (xAxis.max - xAxis.min)) * (width - left - right);
  const y = (v: number) => top + (1 - (v - yAxis.min) / (yAxis.max - yAxis.min)) * (height - top - bottom);

  context.strokeStyle = "#e3e3e3";
  context.fillStyle = "#444";
  context.lineWidth = 1;
  context.textAlign = "right";
  context.textBaseline = "middle";
  for (const tick of yAxis.ticks) {
    line(context, left, y(tick), width - right, y(tick));
    context.fillText(tickLabel(tick, yAxis.step), left - 6, y(tick));
  }
  context.textAlign = "center";
  context.textBaseline = "top";
  for (const tick of xAxis.ticks) {
    line(context, x(tick), top, x(tick), height - bottom);
    context.fillText(tickLabel(tick, xAxis.step), x(tick), height - bottom + 5);
  }
  context.strokeStyle = "#888";
  line(context, left, top, left, height - bottom);
  line(context, left, height - bottom, width - right, height - bottom);
  context.fillText(options.xLabel, left + (width - left - right) / 2, height - 16);
  context.save();
  context.translate(14, top + (height - top - bottom) / 2);
  context.rotate(-Math.PI / 2);
  context.textBaseline = "middle";
  context.fillText(options.yLabel, 0, 0);
  context.restore();

  context.textAlign = "left";
  context.textBaseline = "middle";
  let legendX = left + 4;
  for (const s of series) {
    context.strokeStyle = context.fillStyle = s.color;
    context.lineWidth = 2;
    context.beginPath();
    s.points.forEach(([px, py], i) => i === 0 ? context.moveTo(x(px), y(py)) : context.lineTo(x(px), y(py)));
    context.stroke();
    if (s.dots) { for (const [px, py] of s.points) context.fillRect(x(px) - 3, y(py) - 3, 6, 6); }
    line(context, legendX, 12, legendX + 18, 12);
    context.fillText(s.label, legendX + 22, 12);
    legendX += 30 + context.measureText(s.label).width;
  }
  context.lineWidth = 1;
}

function line(context: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number): void {
  context.beginPath();
  context.moveTo(x0, y0);
  context.lineTo(x1, y1);
  context.stroke();
}
