/**
 * Label placement for the scatter figures: each point's label where it overlaps no marker, whisker or
 * other label, computed in pixels before Vega draws, since Vega-Lite has no collision-free text layout.
 */
export const LABEL_FONT_SIZE = 8;
const MARKER_RADIUS = 5;
/** Advance widths in em of DejaVu Sans for the characters of model names; others count as 0.6 em. */
const CHARACTER_WIDTHS: Record<string, number> = { "-": 0.361, l: 0.278, m: 0.974, t: 0.392 };

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Puts each point's label where it overlaps no marker and no other label: beside the point if there is
 * room, else a few rings further out with a leader line back to it. Crowded points choose first.
 * `size` is the plot's in pixels. Adds the label's left-middle anchor (`labelX`, `labelY`, in data units) and `leader` to each point.
 */
export function placeLabels<T extends { x: number; y: number; model: string }>(
  points: T[],
  size: { readonly width: number; readonly height: number },
  xDomain: [number, number],
  yDomain: [number, number],
  others: readonly { x: number; x2?: number; y: number }[] = [],
): (T & { labelX: number; labelY: number; leader: boolean })[] {
  const { width, height } = size;
  const logSpan = Math.log(xDomain[1] / xDomain[0]);
  const toPixels = ({ x, y }: { x: number; y: number }) => ({
    px: width * Math.log(x / xDomain[0]) / logSpan,
    py: height * (yDomain[1] - y) / (yDomain[1] - yDomain[0]),
  });
  const pixels = points.map(toPixels);
  const obstacles: Box[] = pixels.map(({ px, py }) => ({
    left: px - MARKER_RADIUS,
    right: px + MARKER_RADIUS,
    top: py - MARKER_RADIUS,
    bottom: py + MARKER_RADIUS,
  }));
  // Rings (a marker) and whiskers (a line from x to x2) are in the way of labels too.
  for (const other of others) {
    const start = toPixels(other), end = toPixels({ x: other.x2 ?? other.x, y: other.y });
    const reach = other.x2 === undefined ? MARKER_RADIUS : 1;
    obstacles.push({
      left: start.px - reach,
      right: end.px + reach,
      top: start.py - reach,
      bottom: start.py + reach,
    });
  }
  const neighbours = pixels.map((a) =>
    pixels.filter((b) => Math.hypot(a.px - b.px, a.py - b.py) < 40).length
  );
  const order = points.map((_, i) => i).sort((a, b) => neighbours[b] - neighbours[a]);
  const placed = new Array<T & { labelX: number; labelY: number; leader: boolean }>(points.length);
  for (const i of order) {
    const { px, py } = pixels[i];
    const labelWidth = [...points[i].model].reduce((sum, c) => sum + (CHARACTER_WIDTHS[c] ?? 0.6), 0) *
      LABEL_FONT_SIZE;
    const labelHeight = LABEL_FONT_SIZE + 2;
    const candidates = labelCandidates(px, py, labelWidth, labelHeight)
      .filter((box) => box.left >= 0 && box.right <= width && box.top >= 0 && box.bottom <= height);
    const overlap = (box: Box) => obstacles.reduce((sum, other) => sum + overlapArea(box, other), 0);
    const free = candidates.find((box) => overlap(box) === 0);
    const box = free ?? candidates.reduce((best, box) =>
      overlap(box) < overlap(best) ? box : best, candidates[0]) ??
      labelCandidates(px, py, labelWidth, labelHeight)[0];
    obstacles.push(box);
    const middle = (box.top + box.bottom) / 2;
    const gap = Math.hypot(
      Math.max(box.left - px, 0, px - box.right),
      Math.max(box.top - py, 0, py - box.bottom),
    );
    placed[i] = {
      ...points[i],
      labelX: xDomain[0] * Math.exp(logSpan * box.left / width),
      labelY: yDomain[1] - (yDomain[1] - yDomain[0]) * middle / height,
      leader: gap > MARKER_RADIUS + 4,
    };
  }
  return placed;
}

/** Label boxes around a point at (px, py), nearest first: right, left, above, below, then the diagonals. */
function labelCandidates(px: number, py: number, width: number, height: number): Box[] {
  const boxes: Box[] = [];
  for (let ring = 0; ring < 6; ring++) {
    const distance = MARKER_RADIUS + 2 + ring * 9;
    const diagonal = distance * Math.SQRT1_2;
    const corners: [number, number][] = [
      [px + distance, py - height / 2],
      [px - distance - width, py - height / 2],
      [px - width / 2, py - distance - height],
      [px - width / 2, py + distance],
      [px + diagonal, py - diagonal - height],
      [px + diagonal, py + diagonal],
      [px - diagonal - width, py - diagonal - height],
      [px - diagonal - width, py + diagonal],
    ];
    for (const [left, top] of corners) boxes.push({ left, top, right: left + width, bottom: top + height });
  }
  return boxes;
}

function overlapArea(a: Box, b: Box): number {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return width > 0 && height > 0 ? width * height : 0;
}
