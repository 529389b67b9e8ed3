/** Plausible result rows for the report and store tests, shaped by the layer sizes. */
import type { Family, ResultPath, ResultRow } from "../../lab/results.ts";

const BATCH = 4;

/** A plausible row for one model on one path; numbers follow the layer sizes so the charts have shape. */
export function syntheticRow(family: Family, hidden: number[], path: ResultPath, seed = 0): ResultRow {
  const widths = family === "lenet5" ? [] : [784, ...hidden, 10];
  const parameters = family === "lenet5"
    ? 61706
    : widths.slice(1).reduce((sum, width, i) => sum + (widths[i] + 1) * width, 0);
  const activations = family === "lenet5"
    ? 6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 400 + 120 + 84 + 10
    : 794 +
      hidden.reduce((sum, width) => sum + width, 0);
  const capacity = 1 - Math.exp(-hidden.reduce((sum, width) => sum + width, 0) / 300);
  const accuracy = family === "lenet5" ? 0.957 : 0.9 + 0.035 * capacity + (family === "mlp2" ? 0.004 : 0);
  const inferMs = path === "cpu"
    ? (family === "lenet5" ? 3 : 0.02 + parameters * 4e-6)
    : 0.4 + parameters * 3e-7;
  return {
    model: family === "lenet5" ? "lenet5" : `mlp-${hidden.join("-")}`,
    family,
    hidden1: hidden[0] ?? null,
    hidden2: hidden[1] ?? null,
    parameters,
    path,
    adapter: path === "cpu" ? "TypeScript CPU" : "llvmpipe (LLVM 15.0.7, 256 bits), software adapter",
    epochs: 20,
    train_images: 60000,
    seed,
    batch_size: BATCH,
    lr_schedule: "1:0.0005,3:0.0002,6:0.0001,9:0.00005,13:0.00001",
    test_images: 10000,
    dataset: "mnist",
    test_accuracy: accuracy + 0.001 * seed,
    infer_ms_median: inferMs,
    infer_ms_p10: inferMs * 0.9,
    infer_ms_p90: inferMs * 1.25,
    clock: path === "cpu" ? "wall" : "timestamp-query",
    param_bytes: 4 * parameters,
    activation_bytes: 4 * BATCH * activations,
    peak_infer_bytes: 4 * parameters + 4 * BATCH * (activations + 784),
    peak_train_bytes: 3 * 4 * parameters + 2 * 4 * BATCH * (activations + 784),
    // PyTorch's count: LeNet-5's padded input and its unfused activations; an MLP's two writes per hidden layer.
    op_bytes: family === "lenet5"
      ? 250016
      : 4 * BATCH * (2 * hidden.reduce((sum, width) => sum + width, 0) + 10),
    allocated_bytes: 4 * parameters + 4 * BATCH * (activations + 784) + 4096,
    measured_bytes: 8 * parameters + 2 ** 20 * (path === "cpu" ? 10 : 40),
    streamed_ms_median: inferMs * 1.1,
    streamed_ms_p10: inferMs,
    streamed_ms_p90: inferMs * 1.4,
    latency_ms_median: path === "cpu" ? inferMs * 1.2 : inferMs + 11,
    latency_ms_p10: path === "cpu" ? inferMs * 1.1 : inferMs + 10,
    latency_ms_p90: path === "cpu" ? inferMs * 1.5 : inferMs + 14,
    train_seconds: parameters / 1000,
    status: "ok",
    threads: null,
    note: "",
  };
}

/** LeNet-5 and 30 MLPs (10 with one hidden layer, 20 with two), on both paths. */
export function syntheticSweep(): ResultRow[] {
  const shapes: [Family, number[]][] = [["lenet5", []]];
  for (const hidden of [10, 20, 50, 100, 200, 300, 500, 800, 1000, 1500]) shapes.push(["mlp1", [hidden]]);
  for (const first of [50, 100, 300, 500, 1000]) {
    for (const second of [10, 50, 100, 300]) shapes.push(["mlp2", [first, second]]);
  }
  return shapes.flatMap((
    [family, hidden],
  ) => [syntheticRow(family, hidden, "cpu"), syntheticRow(family, hidden, "webgpu")]);
}
