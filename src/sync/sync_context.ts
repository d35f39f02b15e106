/**
 * What one sync attempt shares between its parts (range sync, the gossip-block path, tipset
 * validation): the syncer's dependencies, its bad-block cache, the attempt's counters and the
 * status it reports through.
 *
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import type { Consensus } from "../consensus/consensus.ts";
import type { BadBlockCache } from "./bad_block_cache.ts";
import type { SyncChainStore, SyncFetcher } from "./sync_deps.ts";
import type { SyncStatus } from "./sync_status.ts";
import type { WalkProgress } from "./walk_progress.ts";

export interface SyncContext {
  /** Guarded (see guarded_store.ts): its failures are SyncStoreErrors. */
  readonly store: SyncChainStore;
  readonly fetcher: SyncFetcher;
  readonly consensus: Consensus;
  readonly clock: Clock;
  /** Seconds per epoch, from genesis. */
  readonly blockDelay: number;
  readonly batchSize: number;
  readonly maxGap: number;
  readonly bad: BadBlockCache;
  /** Where walks back record how far they got, so a restart does not re-read their headers. */
  readonly progress?: WalkProgress;
  readonly onBadPeer?: (peerId: string, reason: string) => void;
  readonly log?: (line: string) => void;
  readonly stats: SyncStats;
  status(): SyncStatus;
  setStatus(status: SyncStatus): void;
}

/** Where one sync's time went, for its closing log line. */
export interface SyncStats {
  /** Headers fetched from peers. */
  headers: number;
  /** Headers read back from the store by the walk (stored by an earlier, unfinished walk). */
  headersReread: number;
  validated: number;
  fetchMs: number;
  waitMs: number;
  validateMs: number;
  storeMs: number;
}

export function newStats(): SyncStats {
  return {
    headers: 0,
    headersReread: 0,
    validated: 0,
    fetchMs: 0,
    waitMs: 0,
    validateMs: 0,
    storeMs: 0,
  };
}
