/**
 * Rendering a Vega-Lite spec headless: to SVG with Vega, then to PNG with resvg and a system font.
 */
import process from "node:process";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import type { TopLevelSpec } from "vega-lite";

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await loadVega();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Vega's Node build pulls in node-fetch, whose `punycode` import prints a deprecation warning on every run. */
async function loadVega() {
  // Node's documented switch, missing from Deno's typings of `process`.
  const warnings = process as { noDeprecation?: boolean };
  const noDeprecation = warnings.noDeprecation;
  warnings.noDeprecation = true;
  try {
    const vega = await import("vega");
    const vegaLite = await import("vega-lite");
    return { vega, vegaLite };
  } finally {
    warnings.noDeprecation = noDeprecation;
  }
}

/**
 * TrueType fonts resvg can use, best first: Debian's fonts-dejavu-core, then Liberation, looked up in the
 * XDG data folders (/usr/local/share:/usr/share unless $XDG_DATA_DIRS says otherwise; the offline bundle
 * puts its font there).
 */
function fontCandidates(): { family: string; files: string[] }[] {
  const dirs = (Deno.env.get("XDG_DATA_DIRS") || "/usr/local/share:/usr/share").split(":").filter(Boolean);
  const families = [
    { family: "DejaVu Sans", files: ["dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"] },
    {
      family: "Liberation Sans",
      files: ["liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf"],
    },
  ];
  return families.flatMap(({ family, files }) =>
    dirs.map((dir) => ({ family, files: files.map((file) => `${dir}/fonts/truetype/${file}`) }))
  );
}

let resvgReady: Promise<{ family: string; fontBuffers: Uint8Array[] }> | undefined;

/** Loads resvg's wasm and a system font once per process. */
function initResvg() {
  resvgReady ??= (async () => {
    await initWasm(
      await Deno.readFile(new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"))),
    );
    const candidates = fontCandidates();
    for (const { family, files } of candidates) {
      const fontBuffers = await Promise.all(files.map((file) => Deno.readFile(file).catch(() => null)));
      if (fontBuffers[0] !== null) {
        return {
          family,
          fontBuffers: fontBuffers.filter((font) => font !== null),
        };
      }
    }
    console.warn(
      `report: no TrueType font found (${candidates[0].files[0]}); the PNGs will have no text, ` +
        "install one with apt-get install fonts-dejavu-core (the SVGs are complete)",
    );
    return { family: "sans-serif", fontBuffers: [] };
  })();
  return resvgReady;
}

/** Renders at twice the SVG's size, so the small labels stay legible in a printed page. */
export async function renderPng(svg: string): Promise<Uint8Array> {
  const { family, fontBuffers } = await initResvg();
  const resvg = new Resvg(svg, {
    font: { fontBuffers, defaultFontFamily: family, sansSerifFamily: family },
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
  });
  try {
    return resvg.render().asPng();
  } finally {
    resvg.free();
  }
}
