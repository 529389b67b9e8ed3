/** The registry gathered from the families: each entry under its own entry point's name, its twin that function. */
import assert from "node:assert/strict";
import { kernels } from "../../engine/kernels.ts";

Deno.test("registry: every entry is filed under its entry point, and its twin bears that name", () => {
  for (const [name, kernel] of Object.entries(kernels)) {
    assert.equal(kernel.entry, name, `${name} is filed under ${kernel.entry}`);
    assert.equal(kernel.twin.name, name, `${name}'s twin is ${kernel.twin.name}`);
  }
});

Deno.test("no module the library loads imports wgsl_reflect: the reflection facts are generated with the WGSL", () => {
  const offenders: string[] = [];
  const walk = (url: URL) => {
    for (const entry of Deno.readDirSync(url)) {
      const child = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, url);
      if (entry.isDirectory) walk(child);
      else if (
        entry.name.endsWith(".ts") && /["'](npm:)?wgsl_reflect[@/"']/.test(Deno.readTextFileSync(child))
      ) {
        offenders.push(child.pathname);
      }
    }
  };
  for (const folder of ["engine", "kernels", "models"]) walk(new URL(`../../${folder}/`, import.meta.url));
  assert.deepEqual(offenders, []);
});
