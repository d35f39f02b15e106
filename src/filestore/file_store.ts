/**
 * FileStore: named large files (1 MB to 1 TB) under the node root, streamed in constant memory.
 *
 * Two backends: `DiskFileStore` (temp file, fsync, rename: a crash never leaves a partial file
 * under its final name) and `MemoryFileStore` (tests).
 */
import type { AbortOptions } from "../abort.ts";
import { NotFoundError, UserError } from "../errors.ts";

export interface FileInfo {
  readonly name: string;
  readonly size: number;
  readonly modified: Date;
}

/** Byte range of a read: `start` inclusive, `end` exclusive; `end` defaults to the file size. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

export interface FileStore {
  /** Stream `data` into `name`, replacing any file of that name only once all bytes are durable. */
  put(name: string, data: ReadableStream<Uint8Array>, options?: AbortOptions): Promise<FileInfo>;
  /** Stream a file, or a byte range of it. */
  get(
    name: string,
    options?: AbortOptions & { range?: ByteRange },
  ): Promise<ReadableStream<Uint8Array>>;
  stat(name: string, options?: AbortOptions): Promise<FileInfo>;
  /** Names of stored files, sorted. */
  list(options?: AbortOptions): Promise<FileInfo[]>;
  /** Remove a file; removing an absent file is a no-op. */
  delete(name: string, options?: AbortOptions): Promise<void>;
}

export class FileNotFoundError extends NotFoundError {
  constructor(readonly fileName: string) {
    super(`file "${fileName}" not found`);
  }
}

export class InvalidFileNameError extends UserError {
  constructor(readonly fileName: string, reason: string) {
    super(`invalid file name "${fileName}": ${reason}`);
  }
}

/** Disk full, permission denied and similar: the write left nothing behind. */
export class FileStoreWriteError extends UserError {}

/** A byte range that does not fit the file: negative, fractional, reversed or past the end. */
export class InvalidRangeError extends UserError {
  constructor(
    readonly fileName: string,
    readonly range: ByteRange,
    readonly size: number,
    reason: string,
  ) {
    super(
      `invalid byte range ${range.start}..${range.end ?? "end"} of file "${fileName}" ` +
        `(${size} bytes): ${reason}`,
    );
  }
}

/**
 * Check `range` against a file of `size` bytes and return absolute offsets, `end` exclusive.
 * Both backends use it so that they agree on every edge case: an empty range at the very end
 * (`start === size`) is allowed, anything past the end is an `InvalidRangeError`.
 */
export function resolveByteRange(
  name: string,
  size: number,
  range?: ByteRange,
): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  const { start, end = size } = range;
  const fail = (reason: string) => new InvalidRangeError(name, range, size, reason);
  if (!Number.isSafeInteger(start) || start < 0) {
    throw fail("start must be a non-negative integer");
  }
  if (!Number.isSafeInteger(end) || end < 0) throw fail("end must be a non-negative integer");
  if (end < start) throw fail("end is before start");
  if (start > size) throw fail("start is past the end of the file");
  if (end > size) throw fail("end is past the end of the file");
  return { start, end };
}

/** What `repo fsck` and the daemon's start call on a store: remove debris of crashed writes. */
export interface TempCleaner {
  /** Delete leftover partial writes; returns how many were removed. */
  cleanTemp(options?: AbortOptions): Promise<number>;
  /** How many leftover partial writes `cleanTemp()` would remove; changes nothing. */
  countTemp(options?: AbortOptions): Promise<number>;
}
