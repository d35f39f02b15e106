/**
 * Why a sync failed, typed by what the syncer does next:
 * - {@link InvalidChainError}: the target's chain is bad (an invalid block, a foreign genesis);
 *   the target is dropped, retrying cannot help.
 * - {@link SyncStoreError} (and {@link DiskFullError}): our own store failed; no peer is to
 *   blame, and every target waits out a backoff, then is tried again.
 * - anything else (no peer answered, a short answer): that target is retried with backoff.
 *
 * @module
 */
import { UserError } from "../errors.ts";

/** The target's chain cannot be synced: bad blocks, a broken answer, or no peer had it. */
export class SyncFailedError extends UserError {}

/** The target's chain is invalid (a bad block, a genesis not ours, too long a gap): dropped. */
export class InvalidChainError extends SyncFailedError {}

/** The local chain store failed during a sync: not the peer's fault; retried after a backoff. */
export class SyncStoreError extends SyncFailedError {}

/**
 * The store's disk is full. Its message says "disk full" and names the store, so the operator
 * knows what to free; the syncer resumes by itself once writes succeed again.
 */
export class DiskFullError extends SyncStoreError {
  constructor(readonly path: string | undefined, options?: ErrorOptions) {
    const detail = options?.cause instanceof Error ? ` (${options.cause.message})` : "";
    super(
      `disk full: cannot write the chain store at ${path ?? "(unknown path)"}${detail}`,
      options,
    );
  }
}

/**
 * What Deno KV (SQLite underneath) and the OS say when a write finds no space. SQLite's
 * SQLITE_FULL is "database or disk is full"; after it SQLite may already have rolled the
 * transaction back, and Deno KV's commit then fails with "cannot commit - no transaction is
 * active" (seen on the walk back's batched writes). ENOSPC is os error 28. Matched as whole
 * phrases, so no other error is taken for a full disk.
 */
const DISK_FULL_PATTERNS: readonly RegExp[] = [
  /database or disk is full/i,
  /cannot commit - no transaction is active/i,
  /no space left on device/i,
  /\(os error 28\)/,
];

/** True when `err` (or its cause chain) is a full-disk error from KV or the OS. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof DiskFullError) return true;
    if (DISK_FULL_PATTERNS.some((p) => p.test(e.message))) return true;
  }
  return false;
}

/**
 * A store failure as the syncer reports it: DiskFullError naming `path` when the disk is full,
 * else SyncStoreError (its message the store's). Aborts pass through unchanged.
 */
export function asStoreError(err: unknown, path: string | undefined, what: string): unknown {
  if (err instanceof SyncStoreError) return err;
  if (err instanceof DOMException && err.name === "AbortError") return err;
  if (isDiskFull(err)) return new DiskFullError(path, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new SyncStoreError(`chain store failed (${what}): ${message}`, { cause: err });
}
