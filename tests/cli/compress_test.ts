/** deno task compress refuses bad input in one line before any work (tests/refusals.ts's shape). */
import { assertRefused, runTask } from "../refusals.ts";

const MLP = "docs/results/study20/limit/checkpoints/mlp-200-70-seed3.safetensors";
const LENET = "docs/results/study20/limit/checkpoints/lenet5-seed3.safetensors";

const cases: [string, string[], RegExp][] = [
  ["an unknown model", ["lenet7", "--weights", MLP, "--quantize", "int8"], /unknown model "lenet7"/],
  [
    "a missing checkpoint",
    ["mlp-200-70", "--weights", "/nonexistent.safetensors", "--quantize", "int8"],
    /nonexistent/,
  ],
  ["another model's checkpoint", ["mlp-200-70", "--weights", LENET, "--quantize", "int8"], /lenet5/],
  ["no checkpoint", ["mlp-200-70", "--quantize", "int8"], /--weights PATH/],
  ["a bad format", ["mlp-200-70", "--weights", MLP, "--quantize", "int9"], /2 to 8 bits, not 9/],
  ["a sparsity of 1", ["mlp-200-70", "--weights", MLP, "--prune", "1"], /sparsity from 0 to below 1/],
  ["a negative sparsity", ["mlp-200-70", "--weights", MLP, "--prune", "-0.1"], /sparsity from 0 to below 1/],
  [
    "static int4",
    ["mlp-200-70", "--weights", MLP, "--quantize", "int4", "--method", "static"],
    /weight-only/,
  ],
  [
    "an unknown method",
    ["mlp-200-70", "--weights", MLP, "--quantize", "int8", "--method", "fast"],
    /static, dynamic/,
  ],
  ["QAT without a format", ["mlp-200-70", "--weights", MLP, "--qat-epochs", "1"], /needs a format/],
  ["nothing to do", ["mlp-200-70", "--weights", MLP], /nothing to do/],
  ["retraining without pruning", [
    "mlp-200-70",
    "--weights",
    MLP,
    "--quantize",
    "int8",
    "--retrain-epochs",
    "1",
  ], /go with --prune/],
  ["a bad path", ["mlp-200-70", "--weights", MLP, "--quantize", "int8", "--path", "tpu"], /--path tpu/],
  ["per-channel f16", ["mlp-200-70", "--weights", MLP, "--quantize", "f16", "--per-channel"], /per-channel/],
];

for (const [what, args, expected] of cases) {
  Deno.test(`compress refuses ${what} in one line`, async () => {
    assertRefused(await runTask("compress", args), expected);
  });
}
