/** A progress line that redraws in place on a terminal and stays silent otherwise. */
const encoder = new TextEncoder();

export class ProgressLine {
  readonly #enabled = Deno.stderr.isTerminal();
  #shown = false;

  update(label: string, done: number, total: number, detail = ""): void {
    if (!this.#enabled) return;
    const width = 30;
    const filled = Math.round((done / Math.max(1, total)) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const percent = ((100 * done) / Math.max(1, total)).toFixed(0).padStart(3);
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${label} [${bar}] ${percent}% ${detail}`));
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    this.#shown = false;
  }

  /**
   * The `onProgress` callback of trainModel (models/trainer.ts) that draws "LABEL epoch 3/20 [###...] 40%
   * 812 img/s" here; clear() the line before printing an epoch's own.
   */
  trainingCallback(
    label: string,
    epochs: number,
    batch: number,
  ): (epoch: number, done: number, all: number, seconds: number) => void {
    const prefix = label ? `${label} ` : "";
    return (epoch, done, all, seconds) =>
      this.update(
        `${prefix}epoch ${epoch}/${epochs}`,
        done,
        all,
        `${((done * batch) / Math.max(seconds, 1e-9)).toFixed(0)} img/s`,
      );
  }
}
