/** The README's CNN of one's own: the README quotes examples/custom_cnn.ts as it is, and it runs. */
import assert from "node:assert/strict";
import { loadSafetensors } from "../io/checkpoint_file.ts";
import { REPO_ROOT } from "./helpers.ts";

const EXAMPLE = "examples/custom_cnn.ts";

Deno.test("the README quotes examples/custom_cnn.ts exactly", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", REPO_ROOT));
  const quoted = new RegExp(`<!-- ${EXAMPLE} -->\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme);
  assert.ok(quoted, `README.md has no block after <!-- ${EXAMPLE} -->`);
  assert.equal(quoted[1], Deno.readTextFileSync(new URL(EXAMPLE, REPO_ROOT)));
});

Deno.test("examples/custom_cnn.ts trains LeNet-5 with ReLU and 8 and 24 channels and saves it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const save = `${dir}/cnn.safetensors`;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        EXAMPLE,
        "--backend",
        "cpu",
        "--train-limit",
        "200",
        "--test-limit",
        "100",
        "--save",
        save,
      ],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, out + new TextDecoder().decode(stderr));
    assert.match(out, /^lenet5-relu-8-24: 88166 parameters on cpu/m);
    assert.match(out, /^epoch 1: loss \d\.\d{4}$/m);
    assert.match(out, /^test accuracy 0\.\d{4} after/m);
    const { tensors, metadata } = await loadSafetensors(save);
    assert.deepEqual(tensors.get("conv1.weight")?.shape, [8, 1, 5, 5]);
    assert.deepEqual(tensors.get("conv2.weight")?.shape, [24, 8, 5, 5]);
    assert.deepEqual(tensors.get("fc1.weight")?.shape, [120, 600]);
    assert.equal(metadata.model, "lenet5-relu-8-24");
    assert.equal(metadata.epochs, "1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
