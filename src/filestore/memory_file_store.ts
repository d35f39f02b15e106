/**
 * MemoryFileStore: the FileStore contract held in a Map, for tests that need no disk.
 *
 * It validates names exactly as `DiskFileStore` does and refuses the same folder/file clashes, so a
 * test written against it also holds on disk. Files are held whole in memory: tests only.
 */
import type { AbortOptions } from "../abort.ts";
import {
  type ByteRange,
  type FileInfo,
  FileNotFoundError,
  type FileStore,
  InvalidFileNameError,
  resolveByteRange,
  type TempCleaner,
} from "./file_store.ts";
import { checkCall, compareFileNames } from "./file_name.ts";

/** Chunk size `get()` allocates for default readers: small, so tests see several chunks. */
const READ_CHUNK_BYTES = 64 * 1024;

interface StoredFile {
  readonly bytes: Uint8Array;
  readonly modified: Date;
}

/** In-memory FileStore with the same names, errors and edge cases as `DiskFileStore`. */
export class MemoryFileStore implements FileStore, TempCleaner {
  readonly #files = new Map<string, StoredFile>();

  /** Read `data` whole, then store it under `name`; a failed or aborted read stores nothing. */
  async put(
    name: string,
    data: ReadableStream<Uint8Array>,
    options: AbortOptions = {},
  ): Promise<FileInfo> {
    const segments = checkCall(name, options);
    const { signal } = options;
    this.#checkNoClash(name, segments);
    const reader = data.getReader();
    const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (true) {
        const { done, value } = await reader.read();
        signal?.throwIfAborted();
        if (done) break;
        // Copy: the producer may reuse its buffer after handing it over.
        chunks.push(value.slice());
        size += value.byteLength;
      }
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    // The store may have changed while we awaited the source.
    this.#checkNoClash(name, segments);
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const file = { bytes, modified: new Date() };
    this.#files.set(name, file);
    return info(name, file);
  }

  get(
    name: string,
    options: AbortOptions & { range?: ByteRange } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    checkCall(name, options);
    const { signal } = options;
    const file = this.#files.get(name);
    if (file === undefined) return Promise.reject(new FileNotFoundError(name));
    const { start, end } = resolveByteRange(name, file.bytes.byteLength, options.range);
    let position = start;
    // A byte stream as on disk, so BYOB readers work against both backends.
    const stream = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: READ_CHUNK_BYTES,
      start(controller) {
        if (position >= end) controller.close();
      },
      pull(controller) {
        if (signal?.aborted) {
          controller.error(signal.reason);
          return;
        }
        const request = controller.byobRequest!;
        const view = request.view!;
        const n = Math.min(view.byteLength, end - position);
        new Uint8Array(view.buffer, view.byteOffset, n).set(
          file.bytes.subarray(position, position + n),
        );
        position += n;
        request.respond(n);
        if (position >= end) controller.close();
      },
    }, { highWaterMark: 0 });
    return Promise.resolve(stream);
  }

  stat(name: string, options: AbortOptions = {}): Promise<FileInfo> {
    checkCall(name, options);
    const file = this.#files.get(name);
    if (file === undefined) return Promise.reject(new FileNotFoundError(name));
    return Promise.resolve(info(name, file));
  }

  list(options: AbortOptions = {}): Promise<FileInfo[]> {
    options.signal?.throwIfAborted();
    const names = [...this.#files.keys()].sort(compareFileNames);
    return Promise.resolve(names.map((name) => info(name, this.#files.get(name)!)));
  }

  delete(name: string, options: AbortOptions = {}): Promise<void> {
    checkCall(name, options);
    this.#files.delete(name);
    return Promise.resolve();
  }

  /** Nothing is ever left half-written in memory: always 0. */
  cleanTemp(options: AbortOptions = {}): Promise<number> {
    options.signal?.throwIfAborted();
    return Promise.resolve(0);
  }

  /** Nothing is ever left half-written in memory: always 0. */
  countTemp(options: AbortOptions = {}): Promise<number> {
    options.signal?.throwIfAborted();
    return Promise.resolve(0);
  }

  /** Refuse what a real folder tree cannot hold: a file inside a file, or a file over a folder. */
  #checkNoClash(name: string, segments: string[]): void {
    for (let i = 1; i < segments.length; i++) {
      const prefix = segments.slice(0, i).join("/");
      if (this.#files.has(prefix)) {
        throw new InvalidFileNameError(name, `"${prefix}" is a file, not a folder`);
      }
    }
    const folder = `${name}/`;
    for (const existing of this.#files.keys()) {
      if (existing.startsWith(folder)) throw new InvalidFileNameError(name, "it is a folder");
    }
  }
}

function info(name: string, file: StoredFile): FileInfo {
  return { name, size: file.bytes.byteLength, modified: file.modified };
}
