/**
 * The page's server side: web/app.ts bundled for the browser with `deno bundle --platform browser`, the
 * page, MNIST's bytes with a JSON description, and the study's trained checkpoints with a manifest that
 * says, from the study's own results, what each one is. One request handler.
 */
import { relative } from "node:path";
import { decodeSafetensors } from "../engine/safetensors.ts";
import { UserError } from "../engine/errors.ts";
import { loadMnist, pixelMeanStd } from "../lab/mnist.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { readResults, type ResultRow } from "../lab/results.ts";
import { checkpointPath } from "../lab/sweep/resume.ts";
import type { MissingModel, PageManifest, PageModel } from "../web/models.ts";
import { exists, readFileBytes } from "./files.ts";

const WEB = new URL("../web/", import.meta.url);
const ROOT = new URL("../", import.meta.url).pathname;

/** The study's folder whose checkpoints and results the page offers (issue 20's 20-epoch runs). */
export const STUDY_FOLDER = new URL("../docs/results/study20/limit/", import.meta.url).pathname;

/** What the page offers, in its order of preference: the first one there is loaded at once. */
export const OFFERED = [
  { model: "lenet5", seed: 3, label: "LeNet-5" },
  { model: "mlp-200-70", seed: 3, label: "MLP 784-200-70-10" },
] as const;

/** Where the page's models come from: a folder of checkpoints and the results CSV that measured them. */
export interface ModelSources {
  /** The sweep's --save-dir: NAME-seedN.safetensors. */
  readonly checkpoints: string;
  /** The sweep's --out CSV. */
  readonly results: string;
}

export const STUDY_SOURCES: ModelSources = {
  checkpoints: `${STUDY_FOLDER}checkpoints`,
  results: `${STUDY_FOLDER}seeds34.csv`,
};

/** A path as a person at the repository's root would type it. */
function shown(path: string): string {
  const inside = relative(ROOT, path);
  return inside.startsWith("..") ? path : inside;
}

/**
 * The manifest of the offered models and their bytes by URL. A model's figures come from its row in the
 * results (the trained path's, status ok), else from the metadata its training wrote into the
 * checkpoint; a checkpoint that disagrees with its row is refused in one line. A checkpoint that is not
 * there, or is a training state rather than a finished model, is listed as missing with the command
 * that trains it.
 */
export async function pageModels(
  sources: ModelSources = STUDY_SOURCES,
): Promise<{ manifest: PageManifest; files: Map<string, Uint8Array> }> {
  if (!(await exists(sources.checkpoints))) {
    throw new UserError(
      `${shown(sources.checkpoints)}: no such folder of checkpoints; name the sweep's --save-dir ` +
        `(default: ${shown(STUDY_SOURCES.checkpoints)})`,
    );
  }
  const rows = await readResults(sources.results);
  const models: PageModel[] = [], missing: MissingModel[] = [], files = new Map<string, Uint8Array>();
  for (const offer of OFFERED) {
    const path = checkpointPath(sources.checkpoints, offer);
    const command = `deno task train ${offer.model} --epochs ${PROTOCOL.epochs} --seed ${offer.seed} ` +
      `--save ${shown(path)}`;
    const absent = (reason: string) => missing.push({ ...offer, checkpoint: shown(path), reason, command });
    if (!(await exists(path))) {
      absent("is missing");
      continue;
    }
    const bytes = await readFileBytes(path);
    const { metadata, tensors } = decodeSafetensors(bytes, shown(path));
    if (metadata.epochsDone !== undefined) {
      absent(`is a training state after epoch ${metadata.epochsDone}, not a finished model`);
      continue;
    }
    const url = `models/${offer.model}-seed${offer.seed}.safetensors`;
    files.set(`/${url}`, bytes);
    const parameters = [...tensors.values()].reduce((sum, tensor) => sum + tensor.data.length, 0);
    models.push({
      ...offer,
      url,
      checkpoint: shown(path),
      bytes: bytes.length,
      parameters,
      ...figures(offer, metadata, rows, shown(path), shown(sources.results)),
    });
  }
  return { manifest: { models, missing }, files };
}

type Figures = Omit<PageModel, "model" | "label" | "url" | "checkpoint" | "bytes" | "parameters">;

/** A model's training and test figures: its results row where there is one, else its metadata. */
function figures(
  offer: { model: string; seed: number },
  metadata: Record<string, string>,
  rows: readonly ResultRow[],
  checkpoint: string,
  results: string,
): Figures {
  const number = (key: string) => {
    const value = Number(metadata[key]);
    if (metadata[key] === undefined || !Number.isFinite(value)) {
      throw new UserError(`${checkpoint} has no ${key} in its metadata: save it with deno task train --save`);
    }
    return value;
  };
  const stats = { mean: number("pixelMean"), std: number("pixelStd") };
  const trainedPath = metadata.trainBackend ?? "webgpu";
  const row = rows.find((row) =>
    row.model === offer.model && row.seed === offer.seed && row.path === trainedPath && row.status === "ok"
  );
  if (!row) {
    return {
      seed: number("seed"),
      epochs: number("epochs"),
      batchSize: number("batchSize"),
      schedule: metadata.learningRateSchedule ?? PROTOCOL.learningRateSchedule,
      testAccuracy: number("testAccuracy"),
      testImages: metadata.testImages === undefined ? null : number("testImages"),
      // deno task train --save does not record its backend; the sweep does.
      trainedOn: metadata.trainBackend ? `the ${trainedPath} path` : "a path its file does not name",
      source: `${checkpoint}'s own metadata (no row of ${offer.model} seed ${offer.seed} in ${results})`,
      stats,
    };
  }
  const saved = metadata.testAccuracy === undefined ? undefined : Number(metadata.testAccuracy);
  if (
    (saved !== undefined && Math.abs(saved - row.test_accuracy!) > 5e-5) || number("epochs") !== row.epochs
  ) {
    throw new UserError(
      `${checkpoint} (${metadata.epochs} epochs, test accuracy ${metadata.testAccuracy}) is not the model of ` +
        `its row in ${results} (${row.epochs} epochs, ${row.test_accuracy}): put back the checkpoint the sweep saved`,
    );
  }
  return {
    seed: row.seed!,
    epochs: row.epochs!,
    batchSize: row.batch_size!,
    schedule: row.lr_schedule,
    testAccuracy: row.test_accuracy!,
    testImages: row.test_images!,
    trainedOn: `the ${row.path} path (${row.adapter})`,
    source: `${results}, the row of ${offer.model} seed ${offer.seed} on the ${row.path} path`,
    stats,
  };
}

/** Bundles web/app.ts for the browser; returns the JavaScript. */
export async function bundlePage(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "webgpu-lenet-bundle-" });
  try {
    const output = `${dir}/app.js`;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--output",
        output,
        new URL("app.ts", WEB).pathname,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new UserError(
        `cannot bundle web/app.ts: ${new TextDecoder().decode(stderr).trim().split("\n")[0]}`,
      );
    }
    return await Deno.readTextFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The request handler: the page, its bundle, MNIST as raw bytes with a JSON description, and the
 * offered models (`sources`, the study's by default) with their manifest.
 */
export async function pageHandler(
  dataDir?: string,
  sources: ModelSources = STUDY_SOURCES,
): Promise<(request: Request) => Response> {
  const models = await pageModels(sources); // bad files are refused before the bundle's work
  const [script, mnist] = await Promise.all([bundlePage(), loadMnist(dataDir)]);
  const html = await Deno.readTextFile(new URL("index.html", WEB));
  const stats = pixelMeanStd(mnist.train.images);
  const shape = (set: typeof mnist.train) => ({ count: set.count, rows: set.rows, cols: set.cols });
  const meta = JSON.stringify({
    train: shape(mnist.train),
    test: shape(mnist.test),
    stats,
    source: mnist.source,
  });
  const files: Record<string, [string | Uint8Array, string]> = {
    "/": [html, "text/html; charset=utf-8"],
    "/index.html": [html, "text/html; charset=utf-8"],
    "/app.js": [script, "text/javascript; charset=utf-8"],
    "/data/meta.json": [meta, "application/json"],
    "/data/train-images": [mnist.train.images, "application/octet-stream"],
    "/data/train-labels": [mnist.train.labels, "application/octet-stream"],
    "/data/test-images": [mnist.test.images, "application/octet-stream"],
    "/data/test-labels": [mnist.test.labels, "application/octet-stream"],
    "/models/manifest.json": [JSON.stringify(models.manifest), "application/json"],
  };
  for (const [url, bytes] of models.files) files[url] = [bytes, "application/octet-stream"];
  return (request) => {
    const found = files[new URL(request.url).pathname];
    if (!found || request.method !== "GET") return new Response("not found", { status: 404 });
    const [body, type] = found;
    return new Response(body instanceof Uint8Array ? body.slice() : body, {
      headers: { "content-type": type },
    });
  };
}
