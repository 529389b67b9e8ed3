/**
 * Where the time of one training step goes, kernel by kernel (GPU timestamps around each kernel run on
 * its own), and what recording them back to back in one pass costs beyond their sum (dispatch overhead):
 * what `deno task profile` prints.
 */
import { repeated } from "../engine/backend.ts";
import type { CompiledModel } from "../models/model.ts";
import { distribution } from "./measure.ts";

/** One kernel of the step: its entry point, median milliseconds, and its constants. */
export interface KernelTime {
  readonly entry: string;
  readonly medianMs: number;
  readonly constants: string;
}

/** A training step's kernels timed one by one and together. */
export interface StepProfile {
  readonly clock: string;
  readonly dispatches: number;
  readonly kernels: KernelTime[];
  /** The kernels' medians summed, and the whole step's median in one pass, in ms. */
  readonly sumMs: number;
  readonly wholeMs: number;
}

/** Times each dispatch of one training step of `model` `repeats` times on its own, then the whole step. */
export async function profileTrainingStep(model: CompiledModel, repeats: number): Promise<StepProfile> {
  const { backend } = model;
  const step = [...model.forward, model.loss, ...model.backward];
  await backend.timeKernels(repeated(step, 3)); // compile and warm up
  let clock = "";
  let sum = 0;
  const kernels: KernelTime[] = [];
  for (const dispatch of step) {
    const times = await backend.timeKernels(repeated([dispatch], repeats));
    clock = times.clock;
    const median = distribution(times.msPerProgram).median;
    sum += median;
    const constants = Object.entries(dispatch.constants).map(([k, v]) => `${k}=${v}`).join(" ");
    kernels.push({ entry: dispatch.kernel.entry, medianMs: median, constants });
  }
  const whole = distribution((await backend.timeKernels(repeated(step, repeats))).msPerProgram).median;
  return { clock, dispatches: step.length, kernels, sumMs: sum, wholeMs: whole };
}
