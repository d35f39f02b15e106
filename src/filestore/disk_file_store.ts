/**
 * DiskFileStore: the FileStore contract on a folder, for files from 1 MB to 1 TB.
 *
 * A write streams into `<dir>/.tmp/<random>.partial`, is fsynced, closed and renamed onto its name,
 * then the folder is fsynced: a crash leaves either the old file or the new one under the name,
 * never a partial one, and at worst a `.partial` leftover that `cleanTemp()` removes. Memory stays
 * constant whatever the size: bytes pass through one 1 MiB write buffer and 1 MiB read chunks
 * (none at all for BYOB readers, which lend their own buffer).
 */
import { dirname, join } from "node:path";
import type { AbortOptions } from "../abort.ts";
import { syncDir } from "../repo/fs_atomic.ts";
import {
  type ByteRange,
  type FileInfo,
  FileNotFoundError,
  type FileStore,
  FileStoreWriteError,
  InvalidFileNameError,
  resolveByteRange,
  type TempCleaner,
} from "./file_store.ts";
import { checkCall, compareFileNames, fileNameSegments, TEMP_DIR_NAME } from "./file_name.ts";

/**
 * Writes are coalesced to this size: large enough that syscall overhead vanishes next to the copy,
 * small enough to be irrelevant to memory. Chunks at least this big are written as they come.
 */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** Size of the chunks a read stream allocates for default readers; no read-ahead. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Folders are owner-only: stored files are the operator's data (deal pieces, imports). */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** Suffix of writes in progress inside `.tmp/`; `cleanTemp()` removes only these. */
export const PARTIAL_SUFFIX = ".partial";

/**
 * How often `put()` recreates a parent folder that a concurrent `delete()` pruned between
 * creating it and renaming into it. Two retries already need three lost races in a row.
 */
const RENAME_RETRIES = 2;

/** FileStore on a local folder. Create the folder with `DiskFileStore.open()`. */
export class DiskFileStore implements FileStore, TempCleaner {
  /** The store's folder, as given. */
  readonly dir: string;
  readonly #tmpDir: string;
  #realRoot: string | undefined;
  /** Temp files of puts in progress in this process, which `cleanTemp()` must not touch. */
  readonly #activeTemp = new Set<string>();

  /** A store on `dir`, which must already hold a `.tmp/` folder; see `open()`. */
  constructor(dir: string) {
    this.dir = dir;
    this.#tmpDir = join(dir, TEMP_DIR_NAME);
  }

  /**
   * Create `dir` and `dir/.tmp` (owner-only) if missing and return a store on them.
   * Throws `FileStoreWriteError` if they cannot be created.
   *
   * @example
   * ```ts ignore
   * const store = await DiskFileStore.open("/var/lib/filnode/files");
   * await store.cleanTemp();
   * await store.put("pieces/a.car", (await Deno.open("a.car")).readable);
   * ```
   */
  static async open(dir: string, options: AbortOptions = {}): Promise<DiskFileStore> {
    options.signal?.throwIfAborted();
    try {
      await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
      await Deno.mkdir(join(dir, TEMP_DIR_NAME), { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw new FileStoreWriteError(`cannot create file store folder ${dir}: ${reasonOf(err)}`, {
        cause: err,
      });
    }
    return new DiskFileStore(dir);
  }

  /**
   * Stream `data` into `name`. The old file of that name, if any, stays whole until every byte of
   * the new one is on disk. On a source error, an abort or a write failure nothing is left behind:
   * the source's error or the abort reason is rethrown as is; a failed write (disk full, permission
   * denied, ...) throws `FileStoreWriteError`.
   */
  async put(
    name: string,
    data: ReadableStream<Uint8Array>,
    options: AbortOptions = {},
  ): Promise<FileInfo> {
    const segments = checkCall(name, options);
    const { signal } = options;
    let parent = await this.#parentForWrite(name, segments);
    const base = segments[segments.length - 1];
    await refuseFolder(name, join(parent, base));

    const reader = data.getReader();
    const tmpPath = join(this.#tmpDir, `${crypto.randomUUID()}${PARTIAL_SUFFIX}`);
    // Wake a read that waits on a stalled source; the loop then sees the signal.
    const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#activeTemp.add(tmpPath);
    let file: Deno.FsFile | undefined;
    try {
      file = await this.#createTemp(name, tmpPath);
      await copyInto(name, reader, file, signal);
      signal?.throwIfAborted();
      try {
        await file.sync();
      } catch (err) {
        throw writeError(name, err);
      }
      file.close();
      file = undefined;
      signal?.throwIfAborted();
      for (let attempt = 0;; attempt++) {
        try {
          await Deno.rename(tmpPath, join(parent, base));
          break;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound && attempt < RENAME_RETRIES) {
            parent = await this.#parentForWrite(name, segments);
            continue;
          }
          if (err instanceof Deno.errors.IsADirectory) {
            throw new InvalidFileNameError(name, "it is a folder");
          }
          throw writeError(name, err);
        }
      }
    } catch (err) {
      closeQuietly(file);
      await Deno.remove(tmpPath).catch(() => {});
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      this.#activeTemp.delete(tmpPath);
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    // The rename is durable only once the folder entry is.
    await syncDir(parent);
    const stat = await Deno.stat(join(parent, base));
    return { name, size: stat.size, modified: stat.mtime ?? new Date() };
  }

  /**
   * Stream a file, or `range` of it. Throws `FileNotFoundError` when absent and `InvalidRangeError`
   * for a range outside the file. The file handle closes once the last byte is read, when the
   * stream is cancelled, and when `signal` aborts (the stream then errors with its reason); a
   * stream that is neither read to the end nor cancelled keeps its file open. It is a byte stream:
   * `getReader({ mode: "byob" })` reads into the caller's buffer with no allocation per chunk.
   */
  async get(
    name: string,
    options: AbortOptions & { range?: ByteRange } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const segments = checkCall(name, options);
    const { signal } = options;
    const path = await this.#existingFile(name, segments);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new FileNotFoundError(name);
      throw err;
    }
    try {
      const { size } = await file.stat();
      const { start, end } = resolveByteRange(name, size, options.range);
      if (start > 0) await file.seek(start, Deno.SeekMode.Start);
      return readStream(name, file, start, end, signal);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Size and modification time of `name`; throws `FileNotFoundError` when absent. */
  async stat(name: string, options: AbortOptions = {}): Promise<FileInfo> {
    const segments = checkCall(name, options);
    const path = await this.#existingFile(name, segments);
    const stat = await Deno.stat(path);
    return { name, size: stat.size, modified: stat.mtime ?? new Date() };
  }

  /** Every stored file, sorted by name; `.tmp/`, symlinks and foreign names are left out. */
  async list(options: AbortOptions = {}): Promise<FileInfo[]> {
    const { signal } = options;
    signal?.throwIfAborted();
    const found: FileInfo[] = [];
    const walk = async (folder: string, prefix: string): Promise<void> => {
      for await (const entry of Deno.readDir(folder)) {
        signal?.throwIfAborted();
        if (prefix === "" && entry.name === TEMP_DIR_NAME) continue;
        const name = prefix + entry.name;
        if (!isValidName(name)) continue;
        const path = join(folder, entry.name);
        if (entry.isDirectory) {
          await walk(path, `${name}/`);
        } else if (entry.isFile) {
          try {
            const stat = await Deno.lstat(path);
            found.push({ name, size: stat.size, modified: stat.mtime ?? new Date() });
          } catch (err) {
            if (!(err instanceof Deno.errors.NotFound)) throw err; // deleted meanwhile
          }
        }
      }
    };
    try {
      await walk(await this.#root(), "");
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return found.sort((a, b) => compareFileNames(a.name, b.name));
  }

  /**
   * Remove `name`; an absent file (or a folder) is a no-op. Folders left empty are removed too, so
   * the tree matches what `list()` shows. Throws `FileStoreWriteError` if removal fails.
   */
  async delete(name: string, options: AbortOptions = {}): Promise<void> {
    const segments = checkCall(name, options);
    const parent = await this.#parentForRead(name, segments);
    if (parent === undefined) return;
    const path = join(parent, segments[segments.length - 1]);
    try {
      const stat = await Deno.lstat(path);
      if (stat.isDirectory) return;
      await Deno.remove(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw new FileStoreWriteError(`cannot delete file "${name}": ${reasonOf(err)}`, {
        cause: err,
      });
    }
    await syncDir(parent);
    // Prune now-empty folders up to the root; a non-empty one stops the climb.
    const root = await this.#root();
    for (let folder = parent; folder !== root && folder.startsWith(root + "/");) {
      try {
        await Deno.remove(folder);
      } catch {
        break;
      }
      folder = dirname(folder);
    }
  }

  /**
   * Delete `.tmp/*.partial` files that crashed writes left behind and return how many. Writes in
   * progress in this same store object are spared; call it at start, before other processes write.
   */
  async cleanTemp(options: AbortOptions = {}): Promise<number> {
    let removed = 0;
    for await (const path of this.#leftovers(options.signal)) {
      try {
        await Deno.remove(path);
        removed++;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          throw new FileStoreWriteError(`cannot remove ${path}: ${reasonOf(err)}`, { cause: err });
        }
      }
    }
    return removed;
  }

  /** How many leftovers `cleanTemp()` would delete, touching nothing (`repo fsck` without repair). */
  async countTemp(options: AbortOptions = {}): Promise<number> {
    let count = 0;
    for await (const _ of this.#leftovers(options.signal)) count++;
    return count;
  }

  /** Paths of `.tmp/*.partial` files other than this object's writes in progress. */
  async *#leftovers(signal: AbortSignal | undefined): AsyncGenerator<string> {
    signal?.throwIfAborted();
    const entries = Deno.readDir(this.#tmpDir)[Symbol.asyncIterator]();
    while (true) {
      let next: IteratorResult<Deno.DirEntry>;
      try {
        next = await entries.next();
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return; // no .tmp: nothing was ever written
        throw err;
      }
      if (next.done) return;
      signal?.throwIfAborted();
      const entry = next.value;
      if (!entry.isFile || !entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const path = join(this.#tmpDir, entry.name);
      if (!this.#activeTemp.has(path)) yield path;
    }
  }

  /** Real path of the root, cached: symlinks above the root are the operator's choice. */
  async #root(): Promise<string> {
    this.#realRoot ??= await Deno.realPath(this.dir);
    return this.#realRoot;
  }

  /** Refuse a real path outside the root or inside `.tmp/`: a symlink planted in the store. */
  async #checkInside(name: string, real: string, shown: string): Promise<void> {
    const root = await this.#root();
    const tmp = join(root, TEMP_DIR_NAME);
    const inside = real === root || real.startsWith(root + "/");
    const inTmp = real === tmp || real.startsWith(tmp + "/");
    if (!inside || inTmp) {
      throw new InvalidFileNameError(name, `"${shown}" leads outside the store (symlink)`);
    }
  }

  /**
   * Create the parent folders of `name` one level at a time, checking each real path before
   * creating the next level inside it, so nothing is ever created outside the store.
   */
  async #parentForWrite(name: string, segments: string[]): Promise<string> {
    let current: string;
    try {
      current = await this.#root();
    } catch (err) {
      throw writeError(name, err);
    }
    for (let i = 0; i < segments.length - 1; i++) {
      const shown = segments.slice(0, i + 1).join("/");
      const path = join(current, segments[i]);
      let created = false;
      try {
        await Deno.mkdir(path, { mode: DIR_MODE });
        created = true;
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw writeError(name, err);
      }
      let real: string;
      try {
        real = await Deno.realPath(path);
      } catch (err) {
        // Only a dangling symlink exists yet fails to resolve.
        if (err instanceof Deno.errors.NotFound) {
          throw new InvalidFileNameError(name, `"${shown}" leads outside the store (symlink)`);
        }
        throw writeError(name, err);
      }
      await this.#checkInside(name, real, shown);
      if (!(await Deno.stat(real)).isDirectory) {
        throw new InvalidFileNameError(name, `"${shown}" is a file, not a folder`);
      }
      if (created) await syncDir(current);
      current = real;
    }
    return current;
  }

  /** Real parent folder of `name`, or `undefined` if it does not exist (so neither does `name`). */
  async #parentForRead(name: string, segments: string[]): Promise<string | undefined> {
    let root: string;
    try {
      root = await this.#root();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    if (segments.length === 1) return root;
    const parentSegments = segments.slice(0, -1);
    let real: string;
    try {
      real = await Deno.realPath(join(root, ...parentSegments));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw err;
    }
    await this.#checkInside(name, real, parentSegments.join("/"));
    return (await Deno.stat(real)).isDirectory ? real : undefined;
  }

  /** Real path of the stored regular file `name`; throws `FileNotFoundError` if there is none. */
  async #existingFile(name: string, segments: string[]): Promise<string> {
    const parent = await this.#parentForRead(name, segments);
    if (parent === undefined) throw new FileNotFoundError(name);
    const path = join(parent, segments[segments.length - 1]);
    try {
      const lstat = await Deno.lstat(path);
      if (lstat.isFile) return path;
      if (!lstat.isSymlink) throw new FileNotFoundError(name);
      const real = await Deno.realPath(path);
      await this.#checkInside(name, real, name);
      if (!(await Deno.stat(real)).isFile) throw new FileNotFoundError(name);
      return real;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new FileNotFoundError(name);
      throw err;
    }
  }

  async #createTemp(name: string, tmpPath: string): Promise<Deno.FsFile> {
    const create = () => Deno.open(tmpPath, { write: true, createNew: true, mode: FILE_MODE });
    try {
      return await create();
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw writeError(name, err);
    }
    // `.tmp/` is missing (a store built with the constructor on a fresh folder): make it once.
    try {
      await Deno.mkdir(this.#tmpDir, { mode: DIR_MODE });
      return await create();
    } catch (err) {
      throw writeError(name, err);
    }
  }
}

/** Copy the source into `file` through one coalescing buffer. Source errors pass through as is. */
async function copyInto(
  name: string,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  file: Deno.FsFile,
  signal: AbortSignal | undefined,
): Promise<void> {
  const buffer = new Uint8Array(WRITE_BUFFER_BYTES);
  let filled = 0;
  while (true) {
    const { done, value } = await reader.read();
    signal?.throwIfAborted();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`FileStore.put("${name}"): the stream must yield Uint8Array chunks`);
    }
    if (filled === 0 && value.byteLength >= WRITE_BUFFER_BYTES) {
      await writeAll(name, file, value); // big chunk: no copy
      continue;
    }
    const room = WRITE_BUFFER_BYTES - filled;
    if (value.byteLength < room) {
      buffer.set(value, filled);
      filled += value.byteLength;
      continue;
    }
    buffer.set(value.subarray(0, room), filled);
    await writeAll(name, file, buffer);
    const rest = value.subarray(room);
    if (rest.byteLength >= WRITE_BUFFER_BYTES) {
      await writeAll(name, file, rest);
      filled = 0;
    } else {
      buffer.set(rest);
      filled = rest.byteLength;
    }
  }
  if (filled > 0) await writeAll(name, file, buffer.subarray(0, filled));
}

async function writeAll(name: string, file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    let written: number;
    try {
      written = await file.write(bytes.subarray(offset));
    } catch (err) {
      throw writeError(name, err);
    }
    if (written <= 0) throw writeError(name, new Error("the file system accepted no bytes"));
    offset += written;
  }
}

/**
 * A byte stream over `[start, end)` of an open file, already positioned at `start`. It reads only
 * when asked (high water mark 0), straight into the reader's buffer: a BYOB reader
 * (`getReader({ mode: "byob" })`) reusing one buffer makes reads allocation-free, a default reader
 * gets fresh 1 MiB chunks.
 */
function readStream(
  name: string,
  file: Deno.FsFile,
  start: number,
  end: number,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  let controller!: ReadableByteStreamController;
  const release = () => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener("abort", onAbort);
    file.close();
  };
  const onAbort = () => {
    if (closed) return;
    release();
    controller.error(signal?.reason);
  };
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: READ_CHUNK_BYTES,
    start(c) {
      controller = c;
      if (signal?.aborted) {
        release();
        c.error(signal.reason);
      } else if (position >= end) {
        release();
        c.close();
      } else {
        signal?.addEventListener("abort", onAbort, { once: true });
      }
    },
    async pull(c) {
      if (closed) return;
      try {
        // Always present: autoAllocateChunkSize makes one for default readers too.
        const request = c.byobRequest!;
        const view = request.view!;
        const room = Math.min(view.byteLength, end - position);
        const n = await file.read(new Uint8Array(view.buffer, view.byteOffset, room));
        if (closed) return; // cancelled or aborted while reading
        if (n === null) {
          throw new Error(`file "${name}" shrank while being read (at byte ${position})`);
        }
        position += n;
        request.respond(n);
        // Release the handle with the last byte, not only when the reader sees `done`.
        if (position >= end) {
          release();
          c.close();
        }
      } catch (err) {
        if (closed) return;
        release();
        c.error(err);
      }
    },
    cancel() {
      release();
    },
  }, { highWaterMark: 0 });
}

/** Refuse to put a file where a folder stands: rename(2) could not replace it anyway. */
async function refuseFolder(name: string, path: string): Promise<void> {
  try {
    if ((await Deno.lstat(path)).isDirectory) {
      throw new InvalidFileNameError(name, "it is a folder");
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

function closeQuietly(file: Deno.FsFile | undefined): void {
  try {
    file?.close();
  } catch {
    // Already closed.
  }
}

function isValidName(name: string): boolean {
  try {
    fileNameSegments(name);
    return true;
  } catch {
    return false;
  }
}

function writeError(name: string, err: unknown): FileStoreWriteError {
  if (err instanceof FileStoreWriteError || err instanceof InvalidFileNameError) return err;
  return new FileStoreWriteError(`cannot write file "${name}": ${reasonOf(err)}`, { cause: err });
}

/** One-line reason for an OS error, naming the usual culprits plainly. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  if (code === "ENOSPC" || /os error 28\)/.test(message)) return "no space left on device";
  if (code === "EDQUOT" || /os error 122\)/.test(message)) return "disk quota exceeded";
  if (err instanceof Deno.errors.PermissionDenied) return `permission denied (${message})`;
  if (err instanceof Deno.errors.NotCapable) {
    return `this process may not write there (Deno --allow-write): ${message}`;
  }
  return message;
}
