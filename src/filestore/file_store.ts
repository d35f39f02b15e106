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
