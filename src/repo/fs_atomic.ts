/**
 * Small, durable file-system steps shared by the config, the keystore and the file store:
 * whether a path exists, replacing (or creating) a small file so that a crash leaves either the
 * old bytes or the new ones under its name, and making a folder's entries durable.
 *
 * @example
 * ```ts ignore
 * import { exists, writeFileAtomic } from "./fs_atomic.ts";
 * await writeFileAtomic("/home/me/.filnode/config.toml", "[Chain]\n", { mode: 0o600 });
 * console.log(await exists("/home/me/.filnode/config.toml")); // true
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import type { AbortOptions } from "../abort.ts";

/** Files written here hold operator-private data (keys, a KV Connect URL) unless told otherwise. */
const DEFAULT_FILE_MODE = 0o600;

const IS_WINDOWS = Deno.build.os === "windows";

/**
 * True when something (a file, folder or symlink, even a dangling one) is at `path`. It does not
 * follow symlinks, so a planted link is seen as present rather than as its target.
 *
 * @throws whatever `Deno.lstat` throws other than NotFound (e.g. PermissionDenied).
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions extends AbortOptions {
  /** Permission bits of the new file, set outright rather than masked by the umask. Default 0o600. */
  mode?: number;
  /**
   * Replace a file already at the path (by rename). When false the new file is hard-linked into
   * place, which fails if anything is there, so nothing is ever replaced by accident; the call then
   * returns false. Default true.
   */
  overwrite?: boolean;
  /**
   * Start of the temp file's name in the target's folder; a random id and `.tmp` follow. Default
   * `.<target name>.`: a dot-file, so folder listings that skip dot-files never see a write in
   * progress. Give a short prefix where the target's name may already be near the 255-byte limit.
   */
  tempPrefix?: string;
}

/**
 * Writes `data` to `path` so that a crash leaves the old file or the new one, never a mix: a temp
 * file in the same folder, written in full and fsynced, renamed (or, without `overwrite`, hard-linked)
 * onto `path`, then the folder fsynced so the new name survives a power cut. The temp file is gone
 * afterwards, whatever happens.
 *
 * @returns true when written; false only when `overwrite` is false and `path` already exists.
 * @throws the abort reason when `signal` aborts before the file is in place (nothing is left
 * behind), or the OS error of a failed step, unwrapped for the caller to name.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<boolean> {
  const { mode = DEFAULT_FILE_MODE, overwrite = true, signal } = options;
  signal?.throwIfAborted();
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  const tempPrefix = options.tempPrefix ?? `.${basename(path)}.`;
  const temp = join(dir, `${tempPrefix}${crypto.randomUUID()}.tmp`);
  const file = await Deno.open(temp, { write: true, createNew: true, mode });
  try {
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    // `mode` on open is masked by the umask; be exact about what we promise.
    if (!IS_WINDOWS) await Deno.chmod(temp, mode);
    signal?.throwIfAborted();
    if (overwrite) {
      await Deno.rename(temp, path);
    } else if (!await linkNew(temp, path)) {
      return false;
    }
  } finally {
    // After a rename this finds nothing; after a link it drops the temp name of the new file.
    await Deno.remove(temp).catch(() => {});
  }
  await syncDir(dir);
  return true;
}

/** Gives `from`'s file the new name `to` unless something is already there; false if it is. */
async function linkNew(from: string, to: string): Promise<boolean> {
  try {
    await Deno.link(from, to);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    // File systems without hard links: check, then rename (a narrow race, but still atomic).
    if (await exists(to)) return false;
    await Deno.rename(from, to);
    return true;
  }
}

/**
 * fsyncs a folder so that renames, new entries and unlinks in it survive a power cut. Best
 * effort: skipped on Windows, and a file system that refuses to fsync folders is not an error,
 * since the files' own bytes are already synced.
 */
export async function syncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on folders; the rename itself already happened.
  } finally {
    handle?.close();
  }
}

/**
 * A small file's bytes, read through one handle: at most `maxBytes + 1` of them, so a caller
 * tells "too large" by the length without reading a file that grew huge. `undefined` when the
 * file does not exist. `inspect` sees the open file's stat before any byte is read, so a mode or
 * type check applies to the very file read (not to one swapped in between a stat and an open).
 */
export async function readCappedFile(
  path: string,
  maxBytes: number,
  inspect?: (info: Deno.FileInfo) => void,
): Promise<Uint8Array | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    if (inspect) inspect(await file.stat());
    const buffer = new Uint8Array(maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

/** Removes `path`; a file that is already gone is fine. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
