/** The engine's WGSL is a generated module: it must match kernels/FAMILY/NAME.wgsl byte for byte. */
import assert from "node:assert/strict";
import { GENERATED_MODULE, readShaderFiles, renderWgslModule } from "../../scripts/shaders.ts";
import { WGSL } from "../../engine/webgpu/wgsl.generated.ts";

Deno.test("engine/webgpu/wgsl.generated.ts is up to date with kernels/ (else: deno task shaders)", () => {
  const files = readShaderFiles();
  assert.deepEqual(Object.keys(WGSL), Object.keys(files), "the generated module lists other files");
  for (const [name, source] of Object.entries(files)) {
    assert.ok(WGSL[name] === source, `${name} changed since the module was generated: run deno task shaders`);
  }
  assert.equal(Deno.readTextFileSync(GENERATED_MODULE), renderWgslModule(files));
});

Deno.test("nothing in engine/, kernels/ or models/ calls Deno.* (they load in browsers and from URLs)", () => {
  const offenders: string[] = [];
  for (const folder of ["engine", "kernels", "models"]) {
    const walk = (url: URL) => {
      for (const entry of Deno.readDirSync(url)) {
        const child = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, url);
        if (entry.isDirectory) walk(child);
        else if (entry.name.endsWith(".ts") && /\bDeno\./.test(Deno.readTextFileSync(child))) {
          offenders.push(child.pathname);
        }
      }
    };
    walk(new URL(`../../${folder}/`, import.meta.url));
  }
  assert.deepEqual(offenders, []);
});
