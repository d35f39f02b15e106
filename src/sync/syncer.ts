/**
 * The chain sync system: catches the node up with heavier heads its peers advertise (in Hello or
 * on gossip), and tells mining when it may run. This file is the facade the wiring uses: the
 * queue of targets, the loop that syncs to the heaviest, retries and status. The work itself:
 * - range_sync.ts: walk back from a target to our chain, then validate forward and store;
 * - gossip_block_sync.ts: a gossiped block on a tipset we accepted, its messages by CID;
 * - bad_block_cache.ts: blocks found invalid, with the reason;
 * - walk_progress.ts: how far walks back got, so a restart does not re-read their headers.
 *
 * A target whose chain is invalid (a bad block, a foreign genesis) is dropped: its block is
 * remembered as bad and the peer that served it is penalised; the next target is tried. A sync
 * that fails for a reason that may pass (our store failed, the disk is full, no peer answered)
 * shows as `failed` with the error and is tried again after a backoff, from the peers that
 * still claim the target: without waiting for a peer to reconnect. A local store failure never
 * blames a peer.
 *
 * @module
 */
import type { AbortOptions, Startable } from "../abort.ts";
import type { HeadChange } from "../chain/chain_store.ts";
import type { Clock } from "../clock/clock.ts";
import type { Consensus } from "../consensus/consensus.ts";
import { TypedEventTarget } from "../events.ts";
import type { CID } from "multiformats/cid";
import { TipSetKey } from "../chain/types/mod.ts";
import { BadBlockCache, DEFAULT_BAD_BLOCK_CACHE_SIZE } from "./bad_block_cache.ts";
import { acceptGossipBlock } from "./gossip_block_sync.ts";
import { guardStore } from "./guarded_store.ts";
import { rangeSync } from "./range_sync.ts";
import { RETRY_MAX_MS, RETRY_MIN_MS, RetryBackoff } from "./retry_backoff.ts";
import { newStats, type SyncContext } from "./sync_context.ts";
import type { SyncChainStore, SyncFetcher, SyncTarget } from "./sync_deps.ts";
import { asStoreError, InvalidChainError, SyncStoreError } from "./sync_errors.ts";
import type { SyncStatus } from "./sync_status.ts";
import type { WalkProgress } from "./walk_progress.ts";

export type { FetchedChain, SyncChainStore, SyncFetcher, SyncTarget } from "./sync_deps.ts";
export type { SyncStage, SyncStatus } from "./sync_status.ts";
export {
  DiskFullError,
  InvalidChainError,
  SyncFailedError,
  SyncStoreError,
} from "./sync_errors.ts";

/** Tipsets per chain exchange request (Lotus's `MaxRequestLength` is 900). */
export const DEFAULT_BATCH_SIZE = 500;
/** Longest gap (in tipsets) the syncer walks back for one target before it gives up. */
export const DEFAULT_MAX_GAP = 1_000_000;
/** Targets queued at once (heaviest kept): one per peer head is plenty. */
const MAX_TARGETS = 64;

export interface SyncerOptions {
  readonly store: SyncChainStore;
  readonly fetcher: SyncFetcher;
  readonly consensus: Consensus;
  readonly clock: Clock;
  /** Seconds per epoch, from genesis. */
  readonly blockDelay: number;
  /** Told when a peer served a block that failed validation (never for a local failure). */
  readonly onBadPeer?: (peerId: string, reason: string) => void;
  readonly batchSize?: number;
  readonly maxGap?: number;
  readonly log?: (line: string) => void;
  /** The chain store's path (the KV file), named in DiskFullError's message. */
  readonly storePath?: string;
  /**
   * Where walks back record their progress (`KvWalkProgress` on the node's KV): without it a
   * restarted sync reads every header an earlier walk stored again before it can move on.
   */
  readonly progress?: WalkProgress;
  /** First retry delay after a failed sync (default {@link RETRY_MIN_MS}). */
  readonly retryMinMs?: number;
  /** Longest retry delay (default {@link RETRY_MAX_MS}). */
  readonly retryMaxMs?: number;
  /** Bad blocks remembered at once (default {@link DEFAULT_BAD_BLOCK_CACHE_SIZE}). */
  readonly badBlockCacheSize?: number;
  /**
   * Where head moves are announced (the chain store): whoever moved the head (this syncer, a
   * mined block, an import), the status follows it and targets it overtook are dropped at once.
   */
  readonly heads?: HeadChanges;
}

/** The chain store's `head-changed` events, as the syncer listens to them. */
export interface HeadChanges {
  addEventListener(type: "head-changed", listener: (e: CustomEvent<HeadChange>) => void): void;
  removeEventListener(type: "head-changed", listener: (e: CustomEvent<HeadChange>) => void): void;
}

export type SyncerEvents = {
  /** The status changed (stage, phase or progress). */
  status: CustomEvent<SyncStatus>;
};

/** A queued target with its retry state (kept when a peer announces the same head again). */
interface Queued {
  target: SyncTarget;
  readonly key: string;
  readonly backoff: RetryBackoff;
  /** Not tried before this time (ms, wall clock); 0 when never failed. */
  retryAt: number;
}

/** The syncer: `start()`, feed it `addTarget()`, read `status`; `stop()` aborts any sync. */
export class Syncer extends TypedEventTarget<SyncerEvents> implements Startable {
  readonly #o: SyncerOptions;
  readonly #store: SyncChainStore;
  readonly #bad: BadBlockCache;
  #queue: Queued[] = [];
  /** A local failure (store, disk) holds every target back until then. */
  readonly #storeBackoff: RetryBackoff;
  #storeRetryAt = 0;
  #status: SyncStatus = { stage: "idle", height: 0 };
  #controller = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #running = false;

  constructor(options: SyncerOptions) {
    super();
    this.#o = options;
    this.#store = guardStore(options.store, options.storePath);
    this.#bad = new BadBlockCache(options.badBlockCacheSize ?? DEFAULT_BAD_BLOCK_CACHE_SIZE);
    this.#storeBackoff = this.#newBackoff();
    this.#status = { stage: "idle", height: options.store.heaviest.height };
  }

  get status(): SyncStatus {
    return this.#status;
  }

  /**
   * True when mining may run: not catching up with a heavier chain right now. A failed sync
   * waiting for its retry counts as in sync, as a dropped target always has: a peer claiming a
   * head it never serves must not stop the node from mining.
   */
  get inSync(): boolean {
    return this.#status.stage !== "syncing";
  }

  start(_options: AbortOptions = {}): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#running = true;
    this.#controller = new AbortController();
    this.#o.heads?.addEventListener("head-changed", this.#onHeadChanged);
    this.#loop = this.#run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#o.heads?.removeEventListener("head-changed", this.#onHeadChanged);
    this.#controller.abort(new DOMException("syncer stopped", "AbortError"));
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  #onHeadChanged = (e: CustomEvent<HeadChange>): void => {
    const { stage } = this.#status;
    if (stage === "idle" || stage === "in-sync") {
      this.#setStatus({ ...this.#status, height: e.detail.to.height });
    }
    // The loop drops targets the new head overtook; a failed one waiting out its backoff is
    // then no longer pending, and the status says in sync without waiting for the retry.
    this.#wake?.();
  };

  /** A head a peer advertised. Ignored unless heavier than ours and not known bad. */
  addTarget(target: SyncTarget): void {
    if (target.weight <= this.#o.store.weight) {
      if (this.#status.stage === "idle") this.#setStatus({ ...this.#status, stage: "in-sync" });
      return;
    }
    if (this.#bad.find(target.cids)) return;
    this.#enqueue(target);
    this.#wake?.();
  }

  /** Whether a block CID was found bad (gossip validators ask before doing any work). */
  isBad(cid: CID): boolean {
    return this.#bad.has(cid);
  }

  /** Why a block CID was found bad, or undefined. */
  badReason(cid: CID): string | undefined {
    return this.#bad.reason(cid);
  }

  #newBackoff(): RetryBackoff {
    return new RetryBackoff(this.#o.retryMinMs ?? RETRY_MIN_MS, this.#o.retryMaxMs ?? RETRY_MAX_MS);
  }

  /** One entry per head, heaviest first, so the best chain is synced before the rest. */
  #enqueue(target: SyncTarget, retry?: Queued): void {
    const key = TipSetKey.of(target.cids).toString();
    const existing = this.#queue.find((q) => q.key === key);
    if (existing) existing.target = target;
    else this.#queue.push(retry ?? { target, key, backoff: this.#newBackoff(), retryAt: 0 });
    this.#queue.sort((a, b) =>
      b.target.weight > a.target.weight ? 1 : b.target.weight < a.target.weight ? -1 : 0
    );
    if (this.#queue.length > MAX_TARGETS) this.#queue.length = MAX_TARGETS;
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    while (this.#running) {
      const now = Date.now();
      const next = this.#nextTarget(now);
      if (!next) {
        // Nothing left heavier than our head (a failed target was overtaken by another sync):
        // no failure is pending any more.
        if (this.#queue.length === 0) this.#caughtUp();
        await this.#sleep(this.#nextRetryAt(), now);
        continue;
      }
      try {
        await this.#syncTo(next.target, { signal });
        this.#storeBackoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        this.#failed(next, err);
      }
      const weight = this.#o.store.weight;
      this.#queue = this.#queue.filter((q) => q.target.weight > weight);
      if (this.#queue.length === 0 && this.#running && this.#status.stage !== "failed") {
        this.#caughtUp();
      }
    }
  }

  /** No heavier target is queued: in sync (a dropped invalid chain keeps its message). */
  #caughtUp(): void {
    const { stage } = this.#status;
    if (stage === "in-sync" || stage === "idle") return;
    this.#setStatus({
      ...this.#status,
      stage: "in-sync",
      error: undefined,
      retryAt: undefined,
      endedAt: this.#o.clock.now(),
    });
  }

  /** The heaviest target due now (removed from the queue), dropping those no longer heavier. */
  #nextTarget(now: number): Queued | undefined {
    const weight = this.#o.store.weight;
    this.#queue = this.#queue.filter((q) => q.target.weight > weight);
    if (now < this.#storeRetryAt) return undefined;
    const at = this.#queue.findIndex((q) => q.retryAt <= now);
    return at < 0 ? undefined : this.#queue.splice(at, 1)[0];
  }

  /** When the earliest queued target is due, or undefined when none is queued. */
  #nextRetryAt(): number | undefined {
    if (this.#queue.length === 0) return undefined;
    const earliest = Math.min(...this.#queue.map((q) => q.retryAt));
    return Math.max(earliest, this.#storeRetryAt);
  }

  /** Until `until` (wall clock ms; forever when undefined), a new target, or stop(). */
  #sleep(until: number | undefined, now: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = until === undefined
        ? undefined
        : setTimeout(() => this.#wake?.(), Math.max(0, until - now));
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /**
   * After a failed attempt: an invalid chain drops its target; anything else keeps it queued
   * for a retry after a backoff (every target waits when our own store failed), and the status
   * shows `failed` with the error until then.
   */
  #failed(attempt: Queued, err: unknown): void {
    const { target } = attempt;
    const message = (err as Error)?.message ?? String(err);
    this.#o.log?.(`sync to height ${target.height} from ${target.peerId} failed: ${message}`);
    const endedAt = this.#o.clock.now();
    if (err instanceof InvalidChainError) {
      this.#setStatus({ ...this.#status, phase: "error", message, endedAt });
      return;
    }
    const now = Date.now();
    let retryAt: number;
    if (err instanceof SyncStoreError) {
      this.#storeRetryAt = now + this.#storeBackoff.fail();
      retryAt = this.#storeRetryAt;
    } else {
      attempt.retryAt = now + attempt.backoff.fail();
      retryAt = Math.max(attempt.retryAt, this.#storeRetryAt);
    }
    this.#enqueue(target, attempt);
    this.#o.log?.(`sync: retrying in ${((retryAt - now) / 1000).toFixed(1)} s`);
    this.#setStatus({
      ...this.#status,
      stage: "failed",
      phase: "error",
      message,
      error: message,
      retryAt,
      endedAt,
    });
  }

  async #syncTo(target: SyncTarget, options: AbortOptions): Promise<void> {
    const base = this.#store.heaviest;
    this.#setStatus({
      stage: "syncing",
      base: { cids: base.cids, height: base.height },
      target,
      phase: "headers",
      height: target.height,
      startedAt: this.#o.clock.now(),
    });
    const ctx = this.#context();
    if (target.block && await acceptGossipBlock(ctx, target, target.block, options)) return;
    await rangeSync(ctx, target, options);
  }

  /** What one attempt's parts share; its counters start at zero. */
  #context(): SyncContext {
    const o = this.#o;
    const progress = o.progress && guardProgress(o.progress, o.storePath);
    return {
      store: this.#store,
      fetcher: o.fetcher,
      consensus: o.consensus,
      clock: o.clock,
      blockDelay: o.blockDelay,
      batchSize: o.batchSize ?? DEFAULT_BATCH_SIZE,
      maxGap: o.maxGap ?? DEFAULT_MAX_GAP,
      bad: this.#bad,
      progress,
      onBadPeer: o.onBadPeer,
      log: o.log,
      stats: newStats(),
      status: () => this.#status,
      setStatus: (s) => this.#setStatus(s),
    };
  }

  #setStatus(status: SyncStatus): void {
    this.#status = status;
    this.emit("status", status);
  }
}

/** The walk records' failures typed as the store's (they live in the same KV). */
function guardProgress(progress: WalkProgress, path: string | undefined): WalkProgress {
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw asStoreError(err, path, "walk progress");
    }
  };
  return {
    tops: (options) => guard(() => progress.tops(options)),
    get: (top, options) => guard(() => progress.get(top, options)),
    put: (segments, options) => guard(() => progress.put(segments, options)),
    delete: (tops, options) => guard(() => progress.delete(tops, options)),
  };
}
