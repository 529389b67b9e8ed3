/** Figures 3 to 6: test accuracy against memory or inference time on one path, one labelled point per model. */
import type { TopLevelSpec } from "vega-lite";
import { LABEL_FONT_SIZE, placeLabels } from "./labels.ts";
import { ACCURACY_AXIS, accuracyValues, CONFIG, FAMILY_SCALE, type Point } from "./style.ts";

export type ScatterX = "opBytes" | "inferMs";

export const SCATTER_AXES: Record<ScatterX, { what: string; title: string; format?: string }> = {
  opBytes: { what: "memory", title: "Memory (bytes, log scale)", format: "~s" },
  inferMs: {
    what: "inference time",
    title: "Inference time per batch (ms, log scale): median, whisker 10th to 90th percentile",
  },
};

export const SCATTER_SIZE = { width: 640, height: 420 };

/**
 * Accuracy against memory or time on one path, one labelled point per model. Time: the median with a
 * whisker from the 10th to the 90th percentile. Memory: op_bytes, and a ring at the path's measured_bytes.
 * `peerPoints` (e.g. PyTorch on the same CPU) are drawn beside ours as crosses, each joined to our point
 * of the same model by a thin line, unlabelled.
 */
export function scatterSpec(
  path: string,
  pathPoints: Point[],
  xField: ScatterX,
  subtitle: string[],
  peerPoints: Point[] = [],
): TopLevelSpec {
  const positions = (points: Point[]) =>
    points.flatMap((point) => {
      const x = point[xField];
      // A log axis cannot show zero, which a coarse clock can report for a tiny model.
      if (x === null || x <= 0 || point.accuracy === null) return [];
      const positive = (value: number | null) => value !== null && value > 0 ? value : null;
      const [low, high, ring] = xField === "inferMs"
        ? [positive(point.inferMsP10), positive(point.inferMsP90), null]
        : [null, null, positive(point.measuredBytes)];
      return [{ ...point, x, y: point.accuracy, low, high, ring }];
    });
  const plotted = positions(pathPoints);
  const ourX = new Map(plotted.map((point) => [point.model, point.x]));
  const peers = positions(peerPoints).map((point) => ({
    ...point,
    peer: true,
    ourX: ourX.get(point.model) ?? null,
  }));
  if (plotted.length === 0) subtitle = [...subtitle, "No rows with status ok on this path"];
  const xs = [...plotted, ...peers].flatMap((point) =>
    [point.x, point.low, point.high, point.ring].filter((v) => v !== null)
  );
  const ys = accuracyValues([...plotted, ...peers]);
  const yPad = Math.max((Math.max(...ys) - Math.min(...ys)) * 0.06, 0.002);
  // Fixed domains let the labels be placed here, in pixels, before Vega draws them.
  const xDomain: [number, number] = [Math.min(...xs) / 1.5, Math.max(...xs) * 1.5];
  const yDomain: [number, number] = [Math.min(...ys) - yPad, Math.max(...ys) + yPad];
  const familyColor = {
    field: "family",
    type: "nominal",
    title: "Model family",
    scale: FAMILY_SCALE,
  } as const;
  const axes = SCATTER_AXES[xField];
  const obstacles = [...plotted, ...peers].flatMap((point) => [
    ...(point.ring === null ? [] : [{ x: point.ring, y: point.y }]),
    ...(point.low === null || point.high === null ? [] : [{ x: point.low, x2: point.high, y: point.y }]),
  ]).concat(peers.map((point) => ({ x: point.x, y: point.y })));
  return {
    title: { text: `Test accuracy vs ${axes.what}, ${path} path`, subtitle },
    ...SCATTER_SIZE,
    data: {
      values: [...placeLabels(plotted, SCATTER_SIZE, xDomain, yDomain, obstacles), ...peers],
    },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        scale: plotted.length > 0 ? { type: "log", domain: xDomain, nice: false } : { type: "log" },
        title: axes.title,
        ...(axes.format ? { axis: { format: axes.format } } : {}),
      },
      y: {
        field: "y",
        type: "quantitative",
        scale: plotted.length > 0 ? { domain: yDomain, nice: false } : { zero: false },
        axis: ACCURACY_AXIS,
      },
    },
    layer: [
      {
        mark: { type: "rule", color: "#aaaaaa", strokeWidth: 0.5 },
        transform: [{ filter: "datum.leader" }],
        encoding: { x2: { field: "labelX" }, y2: { field: "labelY" } },
      },
      {
        mark: { type: "rule", strokeWidth: 1.2, opacity: 0.7 },
        transform: [{ filter: "isValid(datum.accuracyMin) && isValid(datum.accuracyMax)" }],
        encoding: {
          y: { field: "accuracyMin", type: "quantitative" },
          y2: { field: "accuracyMax" },
          color: familyColor,
        },
      },
      {
        mark: { type: "rule", strokeWidth: 1.2, opacity: 0.7 },
        transform: [{ filter: "isValid(datum.low) && isValid(datum.high)" }],
        encoding: { x: { field: "low", type: "quantitative" }, x2: { field: "high" }, color: familyColor },
      },
      {
        mark: { type: "point", filled: false, size: 50, strokeWidth: 1.2, opacity: 0.8 },
        transform: [{ filter: "isValid(datum.ring)" }],
        encoding: {
          x: { field: "ring", type: "quantitative" },
          color: familyColor,
          shape: { ...familyColor, scale: { domain: FAMILY_SCALE.domain } },
        },
      },
      {
        mark: { type: "point", filled: true, size: 70, opacity: 0.85 },
        transform: [{ filter: "!datum.peer" }],
        encoding: { color: familyColor, shape: { ...familyColor, scale: { domain: FAMILY_SCALE.domain } } },
      },
      {
        // A peer's point: a line from ours of the same model, and a cross.
        mark: { type: "rule", color: "#888888", strokeWidth: 0.6, strokeDash: [2, 2] },
        transform: [{ filter: "datum.peer && isValid(datum.ourX)" }],
        encoding: { x: { field: "ourX", type: "quantitative" }, x2: { field: "x" } },
      },
      {
        mark: { type: "point", shape: "cross", filled: true, size: 60, opacity: 0.85 },
        transform: [{ filter: "datum.peer" }],
        encoding: { color: familyColor },
      },
      {
        mark: { type: "text", fontSize: LABEL_FONT_SIZE, align: "left", baseline: "middle" },
        transform: [{ filter: "!datum.peer" }],
        encoding: {
          x: { field: "labelX", type: "quantitative" },
          y: { field: "labelY", type: "quantitative" },
          text: { field: "model" },
          color: familyColor,
        },
      },
    ],
    config: CONFIG,
  };
}
