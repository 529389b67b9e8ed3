/** Output paths: checked at the door, only a regular file is ever replaced, and no litter stays. */
import assert from "node:assert/strict";
import { checkOutputFile, writeFileAtomic } from "../../io/files.ts";

Deno.test("device nodes such as /dev/null are refused, and left alone", async () => {
  await assert.rejects(checkOutputFile("/dev/null", "--save"), /--save \/dev\/null is a device/);
  await assert.rejects(writeFileAtomic("/dev/null", "x"), /\/dev\/null is a device/);
  assert.ok((await Deno.lstat("/dev/null")).isCharDevice);
});

Deno.test("the temp files of writes that were killed are removed by the next write", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  const temp = () => `${dir}/.m.safetensors.${crypto.randomUUID()}.tmp`;
  const killed = [temp(), temp()];
  // A write in progress holds its temp file's lock: that one stays.
  const inProgress = temp();
  const notOurs = [
    `${dir}/.m.safetensors.tmp`,
    `${dir}/.other.${crypto.randomUUID()}.tmp`,
    `${dir}/keep.txt`,
  ];
  for (const file of [...killed, inProgress, ...notOurs]) await Deno.writeTextFile(file, "x");
  const held = await Deno.open(inProgress, { read: true, write: true });
  await held.lock(true);
  try {
    await writeFileAtomic(path, "new");
  } finally {
    held.close();
  }
  const left = [...Deno.readDirSync(dir)].map((entry) => `${dir}/${entry.name}`).sort();
  assert.deepEqual(left, [path, inProgress, ...notOurs].sort());
  assert.equal(await Deno.readTextFile(path), "new");
});

Deno.test("a kill -9 in the middle of a write leaves litter that the next write removes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.bin`;
  const writer = `
    import { writeFileAtomic } from ${JSON.stringify(new URL("../../io/files.ts", import.meta.url).href)};
    const bytes = new Uint8Array(32 * 2 ** 20);
    console.log("writing");
    for (;;) await writeFileAtomic(${JSON.stringify(path)}, bytes);`;
  const litter = () => [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".tmp"));
  // The writer is inside a write nearly all the time; try again in the rare case the kill falls between two.
  for (let attempt = 0; attempt < 5 && litter().length === 0; attempt++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", writer],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 300 + 100 * attempt));
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  assert.ok(litter().length > 0, "no kill landed inside a write");
  await writeFileAtomic(path, "after");
  assert.deepEqual(litter(), []);
  assert.equal(await Deno.readTextFile(path), "after");
});
