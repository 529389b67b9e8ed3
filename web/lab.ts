/** What the page offers a test (and the console) as `window.lab`; no DOM types, so Deno can import it. */

/** One training run's settings: the form's fields, or a test's. */
export interface RunConfig {
  /** Train the loaded checkpoint further ("checkpoint"), or a new model of `model` from `seed`. */
  readonly from: "checkpoint" | "scratch";
  /** The zoo's name of the model trained from scratch (ignored when fine-tuning: the loaded model's). */
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
  /** Skip the per-kernel timing before training (a test that does not look at it). */
  readonly skipKernelTimes?: boolean;
}

/** What a run gives back (window.lab.train resolves to it). */
export interface RunResult {
  readonly model: string;
  readonly adapter: string;
  readonly software: boolean;
  /** The logits of the first training step's batch, before any update: [batch, classes]. */
  readonly firstLogits: number[];
  /** Mean loss of each chunk of steps, in order. */
  readonly losses: number[];
  readonly steps: number;
  /** Training steps per second, the readbacks for the live curves included. */
  readonly stepsPerSecond: number;
  /** Test accuracy before training and after each epoch (the last possibly cut short). */
  readonly testAccuracies: number[];
  readonly testAccuracy: number;
  /** The page's expected time for the whole run, from its first steps' speed; null if it ended first. */
  readonly expectedSeconds: number | null;
  readonly kernelClock: string;
}

/** A classification: the digit, and each digit's probability. */
export interface Classification {
  readonly digit: number;
  readonly probabilities: number[];
}

/** What the page has loaded: the model's name, its backend, and whether it is a study checkpoint. */
export interface Loaded {
  readonly model: string;
  readonly backend: "webgpu" | "cpu";
  /** The checkpoint's URL, or null for a model the page trained. */
  readonly checkpoint: string | null;
}

/** The page's functions, as `window.lab`. */
export interface Lab {
  /** Resolves once the default model is loaded on the CPU path (null: none could be): drawings are read. */
  readonly modelReady: Promise<Loaded | null>;
  /** Resolves once the adapter is known too: whether the browser has WebGPU, and what was loaded. */
  readonly ready: Promise<{ hasGpu: boolean; loaded: Loaded | null }>;
  /** After `ready`: resolves once the default model has moved to WebGPU (null: no WebGPU, or overtaken). */
  gpuReady(): Promise<Loaded | null>;
  /**
   * Loads one of the offered checkpoints by the zoo's name, on `backend` (default: the form's); null
   * when a later load or training run took the page's model first.
   */
  load(model: string, backend?: "webgpu" | "cpu"): Promise<Loaded | null>;
  /** Trains as the form would, with `config`'s settings. */
  train(config: RunConfig): Promise<RunResult>;
  /** Classifies the pad's drawing with the current model, and shows the result. */
  classify(): Promise<Classification>;
  /** The last classification shown (e.g. after a stroke ended), or null. */
  lastClassification(): Classification | null;
  /** The 28x28 image the model sees of the pad's drawing, row after row. */
  seen(): number[];
  /** The form's settings (the lab's protocol unless changed). */
  defaults(): RunConfig;
  /** Draws strokes (lists of points in pad pixels) on the pad, as a mouse would. */
  draw(strokes: [number, number][][]): void;
  /** Pastes a 28x28 grey image (0-255) onto the pad, scaled up. */
  paste(pixels: number[]): void;
  clear(): void;
}
