/**
 * Every command refuses bad model names and out-of-range numbers in one line, exit 2, before any work
 * (issue 14), run as a user would run them.
 */
import { assertRefused, runTask } from "../refusals.ts";

for (
  const [cli, args] of [
    ["train", ["constructor"]],
    ["sweep", ["--models", "mlp-8,toString"]],
    ["profile", ["hasOwnProperty"]],
    ["bench", ["--models", "constructor"]],
    ["eval", ["toString", "--weights", "x.safetensors"]],
  ] as const
) {
  Deno.test(`${cli} ${args.join(" ")}: one line naming the valid models, exit 2`, async () => {
    assertRefused(
      await runTask(cli, [...args]),
      /unknown model "\w+": use lenet5, lenet5-avg, mlp-H or mlp-H1-H2/,
    );
  });
}

for (
  const [cli, args, expected] of [
    [
      "train",
      ["mlp-8", "--seed", "4294967296"],
      /--seed 4294967296: must be an integer of at least 0 and at most 4,294,967,295/,
    ],
    ["train", ["mlp-8", "--epochs", "1e3"], /--epochs 1e3: must be an integer/],
    ["train", ["mlp-8", "--train-limit", "0x10"], /--train-limit 0x10: must be an integer/],
    [
      "train",
      ["mlp-8", "--lr-schedule", "1:4e38"],
      /rate 4e38: must be a positive number of at most 3\.4e\+38/,
    ],
    [
      "train",
      ["mlp-8", "--lr-schedule", "1:0.1,5000:0.01"],
      /epoch 5000: must be an integer of at least 1 and at most 1,000/,
    ],
    [
      "eval",
      ["mlp-8", "--weights", "x", "--timed-batches", "2147483648"],
      /--timed-batches 2147483648: must be/,
    ],
    [
      "profile",
      ["mlp-8", "--repeats", "2147483648"],
      /--repeats 2147483648: must be an integer of at least 1 and at most 10,000/,
    ],
    ["bench", ["--steps", "-5"], /--steps -5: must be an integer of at least 1/],
    [
      "sweep",
      ["--warmup", "100001"],
      /--warmup 100001: must be an integer of at least 0 and at most 100,000/,
    ],
  ] as const
) {
  Deno.test(`${cli} ${args.join(" ")}: refused before any work, exit 2`, async () => {
    // A missing data folder behind the flag: were the flag taken, that would be the complaint.
    const data = cli === "profile" ? [] : ["--data", "/nonexistent/mnist"];
    assertRefused(await runTask(cli, [...args, ...data]), expected);
  });
}
