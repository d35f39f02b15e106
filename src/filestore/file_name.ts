/**
 * File names of a FileStore: the one check both backends run before touching anything, so a name
 * can never climb out of the store's folder or collide with its bookkeeping.
 *
 * A name is a relative path with `/` between segments (`pieces/abc.car`). Symlink escapes cannot be
 * seen in a string; `DiskFileStore` checks those against the real folder tree.
 */
import type { AbortOptions } from "../abort.ts";
import { InvalidFileNameError } from "./file_store.ts";

/** Folder under the store root that holds writes in progress; no stored name may reach it. */
export const TEMP_DIR_NAME = ".tmp";

/** Linux NAME_MAX: the longest single path component most file systems accept, in bytes. */
export const MAX_SEGMENT_BYTES = 255;

/** Linux PATH_MAX less room for the root: longer names would fail in `open(2)` anyway. */
export const MAX_NAME_BYTES = 3072;

const encoder = new TextEncoder();

/**
 * Check `name` and return its segments. Throws `InvalidFileNameError` for: an empty name, an
 * absolute path, a backslash, a NUL or other control character, an empty, `.` or `..` segment, a
 * segment over 255 bytes, and any name starting with `.tmp`.
 *
 * @example
 * ```ts
 * import { fileNameSegments } from "./file_name.ts";
 * fileNameSegments("pieces/abc.car"); // ["pieces", "abc.car"]
 * ```
 */
export function fileNameSegments(name: string): string[] {
  const fail = (reason: string) => new InvalidFileNameError(name, reason);
  if (typeof name !== "string" || name.length === 0) throw fail("name is empty");
  if (name.startsWith("/")) throw fail("absolute paths are not allowed");
  if (name.includes("\\")) throw fail("backslashes are not allowed, use / between folders");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw fail("control characters are not allowed");
  if (name.startsWith(TEMP_DIR_NAME)) {
    throw fail(`names starting with ${TEMP_DIR_NAME} are reserved`);
  }
  if (encoder.encode(name).length > MAX_NAME_BYTES) {
    throw fail(`name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  const segments = name.split("/");
  for (const segment of segments) {
    if (segment === "") throw fail("empty path segment");
    if (segment === "." || segment === "..") throw fail(`"${segment}" segments are not allowed`);
    if (encoder.encode(segment).length > MAX_SEGMENT_BYTES) {
      throw fail(`a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  return segments;
}

/**
 * The first step of every FileStore call that takes a name: check `name`, then the signal, and
 * return the name's segments. Shared so both backends fail alike (a bad name before an aborted
 * call) and before touching the store or the caller's stream.
 *
 * @example
 * ```ts
 * import { checkCall } from "./file_name.ts";
 * checkCall("pieces/abc.car", { signal: AbortSignal.timeout(1000) }); // ["pieces", "abc.car"]
 * ```
 */
export function checkCall(name: string, options: AbortOptions): string[] {
  const segments = fileNameSegments(name);
  options.signal?.throwIfAborted();
  return segments;
}

/** `name` if valid, else throws `InvalidFileNameError`; see `fileNameSegments()`. */
export function validateFileName(name: string): string {
  fileNameSegments(name);
  return name;
}

/** Order of `list()`: UTF-16 code units, the same on both backends and independent of locale. */
export function compareFileNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
