/**
 * The drawing pad: strokes drawn with the mouse (or pen, or finger), or an image pasted onto it, made into
 * the 28x28 image the model sees (web/preprocess.ts), which the page shows beside the pad.
 */
import { imageToMnist, MNIST_SIDE, type Point, type Stroke, strokesToMnist } from "./preprocess.ts";

/** How thick the pen looks on the pad; what the model sees is drawn at MNIST's own stroke width. */
const PEN_WIDTH = 18;

export class Pad {
  readonly #canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #strokes: Point[][] = [];
  /** An image was pasted: the pad's pixels, not its strokes, are the drawing. */
  #pasted = false;

  /** `onStroke` is called when a stroke ends (e.g. to classify the drawing). */
  constructor(canvas: HTMLCanvasElement, onStroke: () => void) {
    this.#canvas = canvas;
    this.#context = canvas.getContext("2d", { willReadFrequently: true })!;
    this.clear();
    let drawing: Point[] | undefined;
    const at = (event: PointerEvent): Point => {
      // Pad pixels, whatever size CSS gives the canvas.
      const box = canvas.getBoundingClientRect();
      return [
        (event.clientX - box.left) * (canvas.width / box.width),
        (event.clientY - box.top) * (canvas.height / box.height),
      ];
    };
    canvas.addEventListener("pointerdown", (event) => {
      drawing = [at(event)];
      this.#strokes.push(drawing);
      canvas.setPointerCapture(event.pointerId);
      this.#paint([drawing[0], drawing[0]]);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      drawing.push(at(event));
      this.#paint(drawing.slice(-2));
    });
    const end = () => {
      if (!drawing) return;
      drawing = undefined;
      onStroke();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  clear(): void {
    this.#strokes.length = 0;
    this.#pasted = false;
    this.#context.fillStyle = "#000";
    this.#context.fillRect(0, 0, this.#canvas.width, this.#canvas.height);
  }

  get isEmpty(): boolean {
    return this.#strokes.length === 0 && !this.#pasted;
  }

  /** Strokes in pad pixels, drawn as the mouse would draw them. */
  draw(strokes: readonly Stroke[]): void {
    for (const stroke of strokes) {
      this.#strokes.push([...stroke]);
      this.#paint(stroke.length === 1 ? [stroke[0], stroke[0]] : stroke);
    }
  }

  /** A 28x28 grey image (0-255, white on black, as MNIST's) scaled up onto the pad, smoothed. */
  paste(pixels: ArrayLike<number>): void {
    const small = document.createElement("canvas");
    small.width = small.height = MNIST_SIDE;
    const image = small.getContext("2d")!.createImageData(MNIST_SIDE, MNIST_SIDE);
    for (let i = 0; i < MNIST_SIDE * MNIST_SIDE; i++) {
      image.data.set([pixels[i], pixels[i], pixels[i], 255], i * 4);
    }
    small.getContext("2d")!.putImageData(image, 0, 0);
    this.clear();
    this.#pasted = true;
    this.#context.imageSmoothingEnabled = true;
    this.#context.imageSmoothingQuality = "high";
    this.#context.drawImage(small, 0, 0, this.#canvas.width, this.#canvas.height);
  }

  /**
   * The 28x28 image the model sees: the strokes rendered at MNIST's stroke width, or, once an image was
   * pasted, the pad's pixels; either way scaled into 20x20 and centred by centre of mass.
   */
  image(): Uint8Array {
    if (!this.#pasted) return strokesToMnist(this.#strokes);
    const { data, width, height } = this.#context.getImageData(0, 0, this.#canvas.width, this.#canvas.height);
    return imageToMnist(Uint8Array.from({ length: width * height }, (_, i) => data[i * 4]), width, height);
  }

  #paint(points: readonly Point[]): void {
    const context = this.#context;
    context.strokeStyle = "#fff";
    context.lineWidth = PEN_WIDTH;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    points.forEach(([x, y], i) => i === 0 ? context.moveTo(x, y) : context.lineTo(x, y));
    context.stroke();
  }
}

/** Shows a 28x28 image on a canvas of that size (CSS scales it up, pixelated). */
export function showImage(canvas: HTMLCanvasElement, pixels: ArrayLike<number>): void {
  const context = canvas.getContext("2d")!;
  const image = context.createImageData(MNIST_SIDE, MNIST_SIDE);
  for (let i = 0; i < MNIST_SIDE * MNIST_SIDE; i++) {
    image.data.set([pixels[i], pixels[i], pixels[i], 255], i * 4);
  }
  context.putImageData(image, 0, 0);
}
