/** The public API as a user meets it: mod.ts's own example runs, and the docs lint clean. */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./helpers.ts";

/** The first ```ts block of a module's doc comment, its "./mod.ts" imports made absolute. */
export function moduleExample(module: string): string {
  const text = Deno.readTextFileSync(new URL(module, REPO_ROOT));
  const block = /```ts\n([\s\S]*?)```/.exec(text);
  assert.ok(block, `${module} has no example`);
  const code = block[1].split("\n").map((line) => line.replace(/^ \* ?/, "")).join("\n");
  return code.replaceAll('"./mod.ts"', JSON.stringify(new URL(module, REPO_ROOT).href));
}

async function deno(args: string[], cwd: string | URL = REPO_ROOT) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, out: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}

Deno.test("mod.ts's example trains, evaluates, predicts and encodes a checkpoint", async () => {
  // Outside the repository, as a user's own file: no deno.json, no import map.
  const dir = await Deno.makeTempDir();
  const file = `${dir}/example.ts`;
  try {
    await Deno.writeTextFile(file, moduleExample("mod.ts"));
    const { code, out } = await deno(["run", "--allow-read", "--allow-env", file], dir);
    assert.equal(code, 0, out);
    const { loss, accuracy, classes, bytes } = JSON.parse(out);
    // An epoch of 64 images at the lab's first rate barely moves LeNet-5 from chance (ln 10 = 2.30).
    assert.ok(loss > 1.5 && loss < 3, out);
    assert.ok(accuracy >= 0 && accuracy <= 1, out);
    assert.equal(classes.length, 1);
    assert.ok(Number.isInteger(classes[0]) && classes[0] >= 0 && classes[0] < 10, out);
    assert.ok(bytes > 61706 * 4, `a LeNet-5 checkpoint holds 61,706 floats: ${out}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mod.ts loads and trains from an http URL: the engine reads no file and needs no import map", async () => {
  const root = new URL(".", REPO_ROOT);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (request) => {
    try {
      const body = await Deno.readFile(new URL(new URL(request.url).pathname.slice(1), root));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const dir = await Deno.makeTempDir();
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const code = moduleExample("mod.ts").replaceAll(
      new URL("mod.ts", REPO_ROOT).href,
      `http://${host}/mod.ts`,
    );
    await Deno.writeTextFile(`${dir}/example.ts`, code);
    const run = await deno(
      [
        "run",
        `--allow-import=${host}`,
        `--reload=http://${host}`,
        "--allow-read",
        "--allow-env",
        "example.ts",
      ],
      dir,
    );
    assert.equal(run.code, 0, run.out);
    const printed = run.out.split("\n").find((line) => line.startsWith("{"));
    assert.ok(printed && JSON.parse(printed).bytes > 61706 * 4, run.out);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const module of ["mod.ts", "lab/mod.ts", "io/mod.ts"]) {
  Deno.test(`deno doc --lint ${module}: no problem; deno check --doc: its example type-checks`, async () => {
    const linted = await deno(["doc", "--lint", module]);
    assert.equal(linted.code, 0, linted.out);
    const checked = await deno(["check", "--doc", module]);
    assert.equal(checked.code, 0, checked.out);
  });
}

Deno.test("deno publish --dry-run passes (no slow types) and ships no tests, goldens or results", async () => {
  const { code, out } = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(code, 0, out);
  const files = [...out.matchAll(/file:\/\/\S+/g)].map((m) =>
    m[0].slice(new URL(".", REPO_ROOT).href.length)
  );
  assert.ok(files.includes("mod.ts") && files.includes("engine/webgpu/wgsl.generated.ts"), out);
  assert.deepEqual(files.filter((file) => /^(tests|docs|results)\//.test(file)), []);
});
