/** What the page offers a test (and the console) as `window.lab`; no DOM types, so Deno can import it. */

/** One training run's settings: the form's fields, or a test's. */
export interface RunConfig {
  readonly model: string;
  readonly backend: "webgpu" | "cpu";
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
  readonly trainLimit: number;
  readonly testLimit: number;
  readonly schedule: string;
  /** Stop after this many training steps (a test's short run); default: every epoch's. */
  readonly maxSteps?: number;
}

/** What a run gives back (window.lab.train resolves to it). */
export interface RunResult {
  readonly adapter: string;
  readonly software: boolean;
  /** The logits of the first training step's batch, before any update: [batch, classes]. */
  readonly firstLogits: number[];
  /** Mean loss of each chunk of steps, in order. */
  readonly losses: number[];
  readonly steps: number;
  /** Training steps per second, the readbacks for the live curves included. */
  readonly stepsPerSecond: number;
  readonly testAccuracy: number;
  readonly kernelClock: string;
}

/** The page's functions, as `window.lab`. */
export interface Lab {
  /** Resolves once MNIST is loaded; says whether the browser has a WebGPU adapter. */
  readonly ready: Promise<{ hasGpu: boolean }>;
  /** Trains as the form would, with `config`'s settings. */
  train(config: RunConfig): Promise<RunResult>;
  /** Classifies the pad's drawing with the last trained model; the digit. */
  classify(): Promise<number>;
  /** The form's settings (the lab's protocol unless changed). */
  defaults(): RunConfig;
  /** Draws strokes (lists of points in pad pixels) on the pad, as a mouse would. */
  draw(strokes: [number, number][][]): void;
}
