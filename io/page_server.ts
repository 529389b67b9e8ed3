/**
 * The training page's server side: web/app.ts bundled for the browser with `deno bundle --platform
 * browser`, the page, and MNIST's bytes with a JSON description, as one request handler.
 */
import { UserError } from "../engine/errors.ts";
import { loadMnist, pixelMeanStd } from "../lab/mnist.ts";

const WEB = new URL("../web/", import.meta.url);

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

/** The request handler: the page, its bundle, and MNIST as raw bytes with a JSON description. */
export async function pageHandler(dataDir?: string): Promise<(request: Request) => Response> {
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
  };
  return (request) => {
    const found = files[new URL(request.url).pathname];
    if (!found || request.method !== "GET") return new Response("not found", { status: 404 });
    const [body, type] = found;
    return new Response(body instanceof Uint8Array ? body.slice() : body, {
      headers: { "content-type": type },
    });
  };
}
