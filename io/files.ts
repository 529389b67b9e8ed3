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
 * Writes `data` to `path` so that readers see either the old file or the new one, never half of one:
 * write a temp file in the same folder (rename is only atomic within one file system), then rename it.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tempPath = `${parentFolder(path)}/.${baseName(path)}.${crypto.randomUUID()}.tmp`;
  try {
    const file = await Deno.open(tempPath, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      // Without this, a crash right after the rename can leave an empty file under the final name.
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tempPath, path);
  } catch (error) {
    await Deno.remove(tempPath).catch(() => {});
    throw new UserError(
      `cannot write ${path}: ${
        describeFsError(error, path)
      }; create the folder or choose a writable output path`,
    );
  }
}

/** Creates `dir` (and its parents) if needed and checks a file can be written in it. */
export async function ensureWritableDir(dir: string): Promise<void> {
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
