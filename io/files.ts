/** Deno-side file handling: atomic writes, writable folders, reads with one-line errors. */
import { UserError } from "../engine/errors.ts";

/** Why a file-system call on `path` failed, in words a user can act on. */
function describeFsError(error: unknown, path: string): string {
  const folder = parentFolder(path);
  if (error instanceof Deno.errors.NotFound) return `folder ${folder} does not exist`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `permission denied (check the rights on ${folder})`;
  }
  if (error instanceof Deno.errors.NotADirectory) return `part of the path ${path} is a file, not a folder`;
  if (error instanceof Deno.errors.IsADirectory) return `${path} is a folder`;
  return error instanceof Error ? error.message : String(error);
}

function parentFolder(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Our temp files: `.NAME.UUID.tmp` beside NAME. A writer holds an exclusive lock on its temp file
 * from creating it until it is renamed, so a temp file nobody holds a lock on was left by a write
 * that was killed.
 */
function tempPath(path: string): string {
  return `${parentFolder(path)}/.${baseName(path)}.${crypto.randomUUID()}.tmp`;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Removes `temp` if no writer holds its lock; whether it did. */
async function removeIfUnlocked(temp: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    if (!(await file.tryLock(true))) return false;
    await Deno.remove(temp);
    return true;
  } catch {
    return false;
  } finally {
    file.close();
  }
}

/**
 * Removes the temp files that earlier writes to `path` left when they were killed: ours by their
 * name, and unlocked, so no write is using them. Best effort: one that cannot be removed stays.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const ours = new RegExp(`^\\.${escapeRegExp(baseName(path))}\\.${UUID}\\.tmp$`);
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parentFolder(path)));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile || !ours.test(entry.name)) continue;
    const temp = `${parentFolder(path)}/${entry.name}`;
    if (await removeIfUnlocked(temp)) removed.push(temp);
  }
  return removed;
}

/**
 * Refuses, in one line, an output path that must not be written: empty, or something other than a
 * regular file (a folder, a device such as /dev/null, a symbolic link, a socket). A missing file is
 * fine. `what` names it in the message, e.g. "--save".
 */
export async function checkOutputFile(path: string, what = "output"): Promise<void> {
  if (path.trim() === "") throw new UserError(`${what} "${path}": the path is empty; name a file`);
  if (path.endsWith("/")) throw new UserError(`${what} ${path}: names a folder; name a file inside it`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    // Nothing there, or a folder on the way that is missing or a file: the folder's own check says which.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    throw new UserError(`${what} ${path}: ${describeFsError(error, path)}; choose a writable output path`);
  }
  if (info.isFile) return;
  const kind = info.isSymlink
    ? "a symbolic link"
    : info.isDirectory
    ? "a folder"
    : "a device or other special file";
  throw new UserError(
    `${what} ${path} is ${kind}, not a regular file; only a regular file is ever replaced: choose a file path`,
  );
}

/**
 * Writes `data` to `path` so that readers see either the old file or the new one, never half of one:
 * write a temp file in the same folder (rename is only atomic within one file system), then rename it.
 * Only a regular file (or nothing) at `path` is replaced; temps of earlier killed writes are removed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await checkOutputFile(path);
  await removeStaleTemps(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temp = tempPath(path);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      // Held until the rename, so that removeStaleTemps never takes this file for litter.
      await file.lock(true);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      // Without this, a crash right after the rename can leave an empty file under the final name.
      await file.syncData();
      await Deno.rename(temp, path);
    } finally {
      file.close();
    }
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new UserError(
      `cannot write ${path}: ${
        describeFsError(error, path)
      }; create the folder or choose a writable output path`,
    );
  }
}

/**
 * Checks, creating nothing, that a file could be written in `dir`: the nearest folder of it that
 * exists must be a folder we may write in (the rest is created when the first file is written).
 */
export async function checkWritableDir(dir: string): Promise<void> {
  refuseEmptyDir(dir);
  let existing = dir;
  for (;;) {
    try {
      const info = await Deno.stat(existing);
      if (!info.isDirectory) {
        throw new UserError(
          `cannot use output folder ${dir}: ${existing} exists but is not a folder; choose a writable folder`,
        );
      }
      break;
    } catch (error) {
      if (error instanceof UserError) throw error;
      const parent = parentFolder(existing.replace(/\/+$/, ""));
      if (!(error instanceof Deno.errors.NotFound) || parent === existing) {
        throw new UserError(
          `cannot use output folder ${dir}: ${describeFsError(error, `${dir}/.`)}; choose a writable folder`,
        );
      }
      existing = parent;
    }
  }
  try {
    await Deno.remove(await Deno.makeTempFile({ dir: existing, prefix: ".write-probe-" }));
  } catch (error) {
    throw new UserError(
      `cannot use output folder ${dir}: ${describeFsError(error, `${existing}/.`)}; choose a writable folder`,
    );
  }
}

/** An empty folder name would put files at the root ("" + "/name"): refuse it. */
function refuseEmptyDir(dir: string): void {
  if (dir.trim() === "") throw new UserError(`output folder "${dir}": the path is empty; name a folder`);
}

/**
 * Checks an output file before any work: a path that may be written (checkOutputFile) in a folder
 * that exists or can be created, and in which we may write (checkWritableDir). Creates nothing.
 */
export async function checkOutputPath(path: string, what = "output"): Promise<void> {
  await checkOutputFile(path, what);
  await checkWritableDir(parentFolder(path));
}

/** Creates `dir` (and its parents) if needed and checks a file can be written in it. */
export async function ensureWritableDir(dir: string): Promise<void> {
  refuseEmptyDir(dir);
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = await Deno.makeTempFile({ dir, prefix: ".write-probe-" });
    await Deno.remove(probe);
  } catch (error) {
    const reason = error instanceof Deno.errors.AlreadyExists
      ? `${dir} exists but is not a folder`
      : describeFsError(error, `${dir}/.`);
    throw new UserError(`cannot use output folder ${dir}: ${reason}; choose a writable folder`);
  }
}

/** Reads a whole file, turning a missing or unreadable file into a one-line UserError. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : describeFsError(error, path);
    throw new UserError(`cannot read ${path}: ${reason}; check the path`);
  }
}

/** Whether anything (a file, a folder, a link) is at `path`; other errors than "not found" are thrown. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
