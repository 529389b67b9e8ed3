/** The command-line tools: bad input gets one line and a non-zero exit, never a stack trace. */
import assert from "node:assert/strict";

const TRAIN = new URL("../experiments/train.ts", import.meta.url).pathname;

export async function runCli(script: string, args: string[]) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", script, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  });
  const { code, stdout, stderr } = await command.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

const badTrainRuns: [string[], RegExp][] = [
  [["resnet50"], /unknown model "resnet50"/],
  [["mlp-0"], /hidden size "0" must be a positive integer/],
  [["mlp--5"], /hidden size "" must be a positive integer|hidden size/],
  [["mlp-3.5"], /hidden size "3\.5"/],
  [["mlp-30", "--batch-size", "0"], /--batch-size 0: must be an integer of at least 1/],
  [["mlp-30", "--epochs", "-1"], /--epochs -1: must be an integer of at least 0/],
  [["mlp-30", "--data", "/nonexistent/mnist"], /\/nonexistent\/mnist/],
  [["mlp-30", "--backend", "tpu"], /--backend tpu: use webgpu or cpu/],
  [["mlp-30", "--lr-schedule", "2:0.1"], /must start at epoch 1/],
  [["mlp-30", "--frobnicate"], /frobnicate/],
  [["mlp-30", "--train-limit", "3", "--batch-size", "4"], /larger than the 3 training images/],
  [[], /name one model/],
];

for (const [args, expected] of badTrainRuns) {
  Deno.test(`train ${args.join(" ") || "(no model)"}: one line, non-zero exit`, async () => {
    const { code, stderr } = await runCli(TRAIN, args);
    assert.notEqual(code, 0);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], expected);
  });
}
