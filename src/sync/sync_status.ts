/**
 * The syncer's status: what `filnode sync status | wait` and `Filecoin.SyncState` show.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { SyncTarget } from "./sync_deps.ts";

/**
 * `idle`: nothing to do yet; `syncing`: catching up; `in-sync`: at the heaviest valid head we
 * know of; `failed`: a heavier chain is known but the last attempt to reach it failed for a
 * reason that may pass (a full disk, no peer answering), and a retry is scheduled (`retryAt`).
 */
export type SyncStage = "idle" | "syncing" | "in-sync" | "failed";

/** What `filnode sync status` and `Filecoin.SyncState` show. */
export interface SyncStatus {
  readonly stage: SyncStage;
  /** Where the current (or last) sync started: our head then. */
  readonly base?: { readonly cids: readonly CID[]; readonly height: number };
  readonly target?: SyncTarget;
  /** `headers` while walking back, `messages` while validating forward. */
  readonly phase?: "headers" | "messages" | "complete" | "error";
  /** Height reached by the current phase. */
  readonly height: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly message?: string;
  /** With stage `failed`: why the last attempt failed (a DiskFullError names the store path). */
  readonly error?: string;
  /** With stage `failed`: when the next attempt starts (ms since the epoch, wall clock). */
  readonly retryAt?: number;
}
