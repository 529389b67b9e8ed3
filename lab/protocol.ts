/** The lab's protocol: every value here is a command-line flag's default. */
import { UserError } from "../engine/errors.ts";
import { learningRateAt, type ScheduleEntry } from "../models/trainer.ts";
import { checkRange } from "./flags.ts";

export type { ScheduleEntry };

/** The lab's protocol (Table 3): batch size, epochs, seed and learning-rate schedule. */
export const PROTOCOL = {
  batchSize: 4,
  epochs: 20,
  seed: 0,
  /** Learning rate by epoch (Table 3): from each listed epoch on, until the next. */
  learningRateSchedule: "1:0.0005,3:0.0002,6:0.0001,9:0.00005,13:0.00001",
} as const;

/** Parses "1:0.0005,3:0.0002,...": first epochs strictly increasing from 1, rates positive. */
export function parseSchedule(text: string): ScheduleEntry[] {
  const entries = text.split(",").map((part) => {
    const match = /^\s*(\d+)\s*:\s*([0-9.eE+-]+)\s*$/.exec(part);
    const rate = match ? Number(match[2]) : NaN;
    if (!match || !Number.isFinite(rate) || rate <= 0) {
      throw new UserError(
        `--lr-schedule "${text}": "${part}" is not EPOCH:RATE with a positive rate (e.g. ${PROTOCOL.learningRateSchedule})`,
      );
    }
    const fromEpoch = Number(match[1]);
    checkRange("epochs", fromEpoch, `--lr-schedule "${text}": epoch ${match[1]}`, 1);
    checkRange("learning-rate", rate, `--lr-schedule "${text}": rate ${match[2]}`);
    return { fromEpoch, rate };
  });
  if (entries[0].fromEpoch !== 1) throw new UserError(`--lr-schedule "${text}" must start at epoch 1`);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].fromEpoch <= entries[i - 1].fromEpoch) {
      throw new UserError(`--lr-schedule "${text}": epochs must increase`);
    }
  }
  return entries;
}

/** The learning rate of a 1-based epoch under a schedule (the lab's by default). */
export function learningRateForEpoch(
  epoch: number,
  schedule: readonly ScheduleEntry[] = parseSchedule(PROTOCOL.learningRateSchedule),
): number {
  return learningRateAt(epoch, schedule);
}
