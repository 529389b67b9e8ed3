/**
 * A drawing made into the image a model trained on MNIST expects, the way MNIST's digits were made: the
 * ink's bounding box scaled to fit 20x20 keeping its aspect ratio, anti-aliased (each pixel the share
 * of its area the ink covers), placed in 28x28 so that its centre of mass lies at the centre (as far as
 * the box can move without leaving the frame). Pure functions on arrays (no DOM), so that tests call
 * them as the page does.
 */

/** A point in the drawing's pixels: [x, y], y down. */
export type Point = readonly [number, number];
/** One stroke of the pen: the points it passed through, in order. */
export type Stroke = readonly Point[];

/** MNIST's image side, and the box its digits were scaled to fit. */
export const MNIST_SIDE = 28;
export const MNIST_BOX = 20;
/**
 * MNIST's stroke width in its 28x28 pixels, measured on the test set: a 1 holds 60 pixels' worth of ink
 * along its ~21-pixel height (2.9), a 0 holds 135 along its ~53-pixel outline (2.5).
 */
export const MNIST_STROKE = 2.6;
/**
 * Where MNIST puts the centre of mass, in pixel coordinates whose pixel i spans [i, i + 1): the test
 * set's mean centre of mass is pixel (14.01, 13.99)'s centre.
 */
const CENTRE = 14.5;
/** A pixel of a raster drawing counts as ink for the bounding box above this value (of 255). */
const INK_THRESHOLD = 24;

/**
 * A drawing given as strokes, rendered as MNIST's digits were made: the stroke width is MNIST's in the
 * 28x28 image whatever the size it was drawn at, so a small digit is not a thick one.
 */
export function strokesToMnist(strokes: readonly Stroke[]): Uint8Array {
  const points = strokes.flat();
  if (points.length === 0) return new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  // The pen's path fills the box less the stroke's width: with the stroke, the ink fits 20x20.
  const extent = Math.max(x1 - x0, y1 - y0);
  const scale = extent > 0 ? (MNIST_BOX - MNIST_STROKE) / extent : 1;
  const segments = strokes.flatMap((stroke) =>
    stroke.length === 1
      ? [[stroke[0], stroke[0]] as const]
      : stroke.slice(1).map((point, i) => [stroke[i], point] as const)
  );
  const render = (offsetX: number, offsetY: number) => {
    const place = ([x, y]: Point): Point => [
      (x - (x0 + x1) / 2) * scale + MNIST_SIDE / 2 + offsetX,
      (y - (y0 + y1) / 2) * scale + MNIST_SIDE / 2 + offsetY,
    ];
    return renderSegments(segments.map(([a, b]) => [place(a), place(b)] as const));
  };
  const [halfWidth, halfHeight] = [(x1 - x0) * scale / 2, (y1 - y0) * scale / 2].map((h) =>
    h + MNIST_STROKE / 2
  );
  // Sampling moves the centre of mass by a fraction of a sample as the drawing moves: correct again.
  let [offsetX, offsetY] = [0, 0], image = render(0, 0);
  for (let pass = 0; pass < 3; pass++) {
    const [cx, cy] = centreOfMass(image);
    const next = [
      insideFrame(offsetX + CENTRE - cx, halfWidth),
      insideFrame(offsetY + CENTRE - cy, halfHeight),
    ];
    if (Math.abs(next[0] - offsetX) < 0.02 && Math.abs(next[1] - offsetY) < 0.02) break;
    [offsetX, offsetY] = next;
    image = render(offsetX, offsetY);
  }
  return image;
}

/**
 * A shift of a box centred in 28x28 (half its side `half`), limited so that the box stays inside:
 * a digit whose ink lies mostly at one end (a 7's bar) is centred as far as it can be without losing
 * its other end.
 */
function insideFrame(shift: number, half: number): number {
  const room = Math.max(0, MNIST_SIDE / 2 - half);
  return Math.max(-room, Math.min(room, shift));
}

/**
 * Each pixel's ink: 1 within half MNIST's stroke of a segment, fading to 0 over one pixel at the edge
 * (the coverage of a straight edge by a pixel, from its centre's distance). Smooth in the drawing's
 * position, so that the centre of mass follows a shift, and a stroke's row holds its width in ink.
 */
function renderSegments(segments: readonly (readonly [Point, Point])[]): Uint8Array {
  const image = new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  const reach = MNIST_STROKE / 2 + 0.5;
  for (let py = 0; py < MNIST_SIDE; py++) {
    for (let px = 0; px < MNIST_SIDE; px++) {
      const x = px + 0.5, y = py + 0.5;
      let nearest = Infinity;
      for (const [a, b] of segments) {
        // Only segments whose box, grown by the reach, holds this pixel's centre can ink it.
        if (
          Math.min(a[0], b[0]) - reach > x || Math.max(a[0], b[0]) + reach < x ||
          Math.min(a[1], b[1]) - reach > y || Math.max(a[1], b[1]) + reach < y
        ) continue;
        nearest = Math.min(nearest, distance2ToSegment(x, y, a, b));
      }
      const coverage = Math.max(0, Math.min(1, reach - Math.sqrt(nearest)));
      image[py * MNIST_SIDE + px] = Math.round(255 * coverage);
    }
  }
  return image;
}

function distance2ToSegment(x: number, y: number, [ax, ay]: Point, [bx, by]: Point): number {
  const dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / length2));
  const ex = ax + t * dx - x, ey = ay + t * dy - y;
  return ex * ex + ey * ey;
}

/**
 * A drawing given as a grey raster (`width` x `height` values 0-255, white ink on black, e.g. the pad's
 * red channel), made into MNIST's form: the ink's bounding box scaled to fit 20x20 by area averaging,
 * then shifted so that its centre of mass lies at the centre of 28x28. The shift is part of the same
 * resampling, so it costs no second blur.
 */
export function imageToMnist(grey: ArrayLike<number>, width: number, height: number): Uint8Array {
  if (grey.length !== width * height) {
    throw new Error(`imageToMnist: ${grey.length} values for a ${width}x${height} image`);
  }
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x] > INK_THRESHOLD) {
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
  }
  if (x1 < 0) return new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  const scale = MNIST_BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  // Source x maps to (x - x0 - w/2) * scale + 14 + offset: the box centred, then moved by the offset.
  const place = (offsetX: number, offsetY: number) =>
    resample(grey, width, height, scale, [
      MNIST_SIDE / 2 + offsetX - ((x0 + x1 + 1) / 2) * scale,
      MNIST_SIDE / 2 + offsetY - ((y0 + y1 + 1) / 2) * scale,
    ]);
  const [cx, cy] = centreOfMass(place(0, 0));
  return place(
    insideFrame(CENTRE - cx, ((x1 - x0 + 1) * scale) / 2),
    insideFrame(CENTRE - cy, ((y1 - y0 + 1) * scale) / 2),
  );
}

/**
 * The 28x28 image whose pixel (i, j) is the mean of the source over the area that maps onto it, where
 * source coordinate v maps to v * scale + shift (pixels span [i, i + 1) on both sides).
 */
function resample(
  grey: ArrayLike<number>,
  width: number,
  height: number,
  scale: number,
  [shiftX, shiftY]: readonly [number, number],
): Uint8Array {
  const wx = overlapWeights(width, scale, shiftX), wy = overlapWeights(height, scale, shiftY);
  const rows = new Float64Array(MNIST_SIDE * width); // the vertical pass: [output row, source column]
  for (let oy = 0; oy < MNIST_SIDE; oy++) {
    for (const [sy, weight] of wy[oy]) {
      for (let x = 0; x < width; x++) rows[oy * width + x] += weight * grey[sy * width + x];
    }
  }
  const image = new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  for (let oy = 0; oy < MNIST_SIDE; oy++) {
    for (let ox = 0; ox < MNIST_SIDE; ox++) {
      let sum = 0;
      for (const [sx, weight] of wx[ox]) sum += weight * rows[oy * width + sx];
      image[oy * MNIST_SIDE + ox] = Math.round(Math.min(255, sum));
    }
  }
  return image;
}

/**
 * For each output pixel along one axis, the source pixels it overlaps and their weights: the overlap's
 * length in output pixels (so a pixel fully covered by ink gets the ink's value).
 */
function overlapWeights(size: number, scale: number, shift: number): [number, number][][] {
  return Array.from({ length: MNIST_SIDE }, (_, o) => {
    const from = (o - shift) / scale, to = (o + 1 - shift) / scale;
    const weights: [number, number][] = [];
    for (let s = Math.max(0, Math.floor(from)); s < Math.min(size, Math.ceil(to)); s++) {
      const overlap = Math.min(to, s + 1) - Math.max(from, s);
      if (overlap > 0) weights.push([s, overlap * scale]);
    }
    return weights;
  });
}

/** The ink's centre of mass in pixel coordinates (pixel i spans [i, i + 1)); the centre when blank. */
export function centreOfMass(image: ArrayLike<number>, side = MNIST_SIDE): [number, number] {
  let mass = 0, sx = 0, sy = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = image[y * side + x];
      mass += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return mass === 0 ? [side / 2, side / 2] : [sx / mass, sy / mass];
}
