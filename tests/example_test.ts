/**
 * The CNN of one's own: docs/library.md quotes examples/custom_cnn.ts as it is, the README shows an excerpt
 * cut from it, and it runs.
 */
import assert from "node:assert/strict";
import { loadSafetensors } from "../io/checkpoint_file.ts";
import { REPO_ROOT } from "./helpers.ts";

const EXAMPLE = "examples/custom_cnn.ts";
/** The line of an excerpt that stands for lines left out. */
const ELISION = "// ...";

/** The TypeScript block that follows `marker` in the Markdown file `page`. */
function quotedAfter(page: string, marker: string): string {
  const text = Deno.readTextFileSync(new URL(page, REPO_ROOT));
  const quoted = new RegExp(`${marker}\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(text);
  assert.ok(quoted, `${page} has no \`\`\`ts block after ${marker}`);
  return quoted[1];
}

Deno.test("docs/library.md quotes examples/custom_cnn.ts exactly", () => {
  const quoted = quotedAfter("docs/library.md", `<!-- ${EXAMPLE} -->`);
  assert.equal(quoted, Deno.readTextFileSync(new URL(EXAMPLE, REPO_ROOT)));
});

Deno.test("the README's excerpt is whole lines of examples/custom_cnn.ts, in order, with // ... for the rest", () => {
  const excerpt = quotedAfter("README.md", `<!-- excerpt of ${EXAMPLE} -->`).replace(/\n$/, "");
  const source = Deno.readTextFileSync(new URL(EXAMPLE, REPO_ROOT)).split("\n");
  const pieces = excerpt.split("\n" + ELISION + "\n").map((piece) => piece.split("\n"));
  assert.ok(pieces.every((lines) => lines.join("").trim() !== ""), `the README's excerpt has an empty piece`);
  let from = 0;
  for (const lines of pieces) {
    const at = source.findIndex((_, i) => i >= from && lines.every((line, j) => source[i + j] === line));
    assert.ok(
      at >= 0,
      `the README's excerpt has lines that are not, in this order, in ${EXAMPLE}:\n${lines.join("\n")}`,
    );
    from = at + lines.length;
  }
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
