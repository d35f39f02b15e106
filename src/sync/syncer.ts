/**
 * The chain sync system: catches the node up with heavier heads its peers advertise (in Hello or
 * on gossip), as the spec's "Syncing" section describes, and tells mining when it may run.
 *
 * For a target heavier than our head it:
 * 1. walks back from the target in batches of headers (chain exchange), storing each header as
 *    it arrives and keeping only tipset keys in memory, until it reaches a tipset we accepted;
 * 2. goes forward from there in batches: reads the batch's stored headers, fetches only their
 *    messages (messages-only chain exchange; none for blocks whose message root is the empty
 *    one), validates every block on its (already valid) parent, stores the messages, and moves
 *    the head after each batch when the chain got heavier. The next batch is fetched while this
 *    one is validated. A crash loses at most one batch of work: the head only ever names
 *    validated tipsets whose ancestry is stored, and the next start resumes from it;
 * 3. switches to the heavier fork when the target's chain branches below our head (a reorg is the
 *    chain store's `setHead` on a tipset whose ancestry leaves our chain).
 *
 * A block that fails validation is remembered as bad (its descendants too), the peer that served
 * its header is penalised, and the target is dropped; the next target (another peer's) is tried. Memory is
 * bounded by the batch size plus one tipset key per height of the gap.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import type { Clock } from "../clock/clock.ts";
import type { Consensus } from "../consensus/consensus.ts";
import { TypedEventTarget } from "../events.ts";
import { UserError } from "../errors.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import { BlockFromFutureError, validateBlock } from "../consensus/block_validator.ts";
import { EMPTY_MSG_META_BLOCK } from "../chain/empty_msg_meta.ts";
import { type BlockMsg, TipSet, TipSetKey } from "../chain/types/mod.ts";

/** Tipsets per chain exchange request (Lotus's `MaxRequestLength` is 900). */
export const DEFAULT_BATCH_SIZE = 500;
/** Bad blocks remembered at once; older verdicts are forgotten first. */
const MAX_BAD_BLOCKS = 16_384;
/** Longest gap (in tipsets) the syncer walks back for one target before it gives up. */
export const DEFAULT_MAX_GAP = 1_000_000;

/** A head a peer claims: from its Hello or a gossip block. */
export interface SyncTarget {
  readonly peerId: string;
  readonly cids: readonly CID[];
  readonly height: number;
  readonly weight: bigint;
  /**
   * From gossip: the block itself with its message CIDs (checked against its message root). A
   * block on a tipset we accepted is then taken without chain exchange: its messages come by
   * CID (store, then bitswap).
   */
  readonly block?: BlockMsg;
}

/** What the syncer reads and writes of the chain store. */
export interface SyncChainStore {
  /** The current head and its weight. */
  readonly heaviest: TipSet;
  readonly weight: bigint;
  getTipSet(cids: readonly CID[], options?: AbortOptions): Promise<TipSet | undefined>;
  /** The weight of an accepted tipset (its ancestry is stored and valid), else undefined. */
  acceptedWeight(key: TipSetKey, options?: AbortOptions): Promise<bigint | undefined>;
  /** Stores tipsets in one batch; `headers: false` stores only the given messages. */
  putTipSets(
    entries: readonly { tipset: TipSet; messages?: readonly BlockMessageLists[] }[],
    options?: AbortOptions & { headers?: boolean },
  ): Promise<void>;
  setHead(tipset: TipSet, weight: bigint, options?: AbortOptions): Promise<unknown>;
}

/** One answer from a peer: tipsets from `head` down, and per block messages when asked for. */
export interface FetchedChain {
  readonly peerId: string;
  /** Descending: `tipsets[0]` has the requested key, each next one is the previous's parent. */
  readonly tipsets: readonly TipSet[];
  /** With `messages: true`: `messages[i][j]` are the messages of `tipsets[i].blocks[j]`. */
  readonly messages?: readonly (readonly BlockMessageLists[])[];
}

/** What the syncer needs from chain exchange. */
export interface SyncFetcher {
  /**
   * Up to `length` tipsets from `head` down, validated as a chain, from `preferPeer` when it can
   * (the peer that announced the target has the chain), else from others.
   */
  getChain(
    head: readonly CID[],
    length: number,
    options: AbortOptions & { messages: boolean; preferPeer?: string },
  ): Promise<FetchedChain>;
  /**
   * The messages of `tipsets` (descending, each the child of the next), checked against their
   * blocks' message roots: `messages[i][j]` belong to `tipsets[i].blocks[j]`.
   */
  getMessages(
    tipsets: readonly TipSet[],
    options: AbortOptions & { preferPeer?: string },
  ): Promise<{ peerId: string; messages: readonly (readonly BlockMessageLists[])[] }>;
  /**
   * Messages by CID (store, then bitswap), for a gossip block: BLS messages by their CIDs, then
   * signed secp256k1 ones. Throws when they cannot be had in time; the syncer then falls back
   * to chain exchange.
   */
  getMessagesByCid?(
    bls: readonly CID[],
    secpk: readonly CID[],
    options: AbortOptions,
  ): Promise<BlockMessageLists>;
}

export interface SyncerOptions {
  readonly store: SyncChainStore;
  readonly fetcher: SyncFetcher;
  readonly consensus: Consensus;
  readonly clock: Clock;
  /** Seconds per epoch, from genesis. */
  readonly blockDelay: number;
  /** Told when a peer served a block that failed validation. */
  readonly onBadPeer?: (peerId: string, reason: string) => void;
  readonly batchSize?: number;
  readonly maxGap?: number;
  readonly log?: (line: string) => void;
}

/** `idle`: nothing to do yet; `syncing`: catching up; `in-sync`: at the heaviest known head. */
export type SyncStage = "idle" | "syncing" | "in-sync";

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
}

export type SyncerEvents = {
  /** The status changed (stage, phase or progress). */
  status: CustomEvent<SyncStatus>;
};

/** The target's chain cannot be synced: bad blocks, a broken answer, or no peer had it. */
export class SyncFailedError extends UserError {}

/** The syncer: `start()`, feed it `addTarget()`, read `status`; `stop()` aborts any sync. */
export class Syncer extends TypedEventTarget<SyncerEvents> {
  readonly #o: Required<Omit<SyncerOptions, "onBadPeer" | "log">> & SyncerOptions;
  readonly #bad = new Map<string, string>(); // block CID -> reason
  #targets: SyncTarget[] = [];
  #status: SyncStatus = { stage: "idle", height: 0 };
  #controller = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #running = false;
  /** Where the current sync's time went, for its closing log line. */
  #stats = newStats();

  constructor(options: SyncerOptions) {
    super();
    this.#o = {
      batchSize: DEFAULT_BATCH_SIZE,
      maxGap: DEFAULT_MAX_GAP,
      ...options,
    };
    this.#status = { stage: "idle", height: options.store.heaviest.height };
  }

  get status(): SyncStatus {
    return this.#status;
  }

  /** True when mining may run: not catching up with a heavier chain. */
  get inSync(): boolean {
    return this.#status.stage !== "syncing";
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#controller = new AbortController();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#controller.abort(new DOMException("syncer stopped", "AbortError"));
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  /** A head a peer advertised. Ignored unless heavier than ours and not known bad. */
  addTarget(target: SyncTarget): void {
    if (target.weight <= this.#o.store.weight) {
      if (this.#status.stage === "idle") this.#setStatus({ ...this.#status, stage: "in-sync" });
      return;
    }
    if (target.cids.some((c) => this.#bad.has(c.toString()))) return;
    // One entry per head; the heaviest first, so the best chain is synced before the rest.
    const key = TipSetKey.of(target.cids).toString();
    this.#targets = this.#targets.filter((t) => TipSetKey.of(t.cids).toString() !== key);
    this.#targets.push(target);
    this.#targets.sort((a, b) => (b.weight > a.weight ? 1 : b.weight < a.weight ? -1 : 0));
    if (this.#targets.length > 64) this.#targets.length = 64;
    this.#wake?.();
  }

  /** Whether a block CID was found bad (gossip validators ask before doing any work). */
  isBad(cid: CID): boolean {
    return this.#bad.has(cid.toString());
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    while (this.#running) {
      const target = this.#nextTarget();
      if (!target) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      try {
        await this.#syncTo(target, { signal });
      } catch (err) {
        if (signal.aborted) break;
        const message = (err as Error).message;
        this.#o.log?.(`sync to height ${target.height} from ${target.peerId} failed: ${message}`);
        this.#setStatus({ ...this.#status, phase: "error", message, endedAt: this.#o.clock.now() });
      }
      if (this.#targets.length === 0 && this.#running) {
        this.#setStatus({ ...this.#status, stage: "in-sync", endedAt: this.#o.clock.now() });
      }
    }
  }

  #nextTarget(): SyncTarget | undefined {
    const weight = this.#o.store.weight;
    this.#targets = this.#targets.filter((t) => t.weight > weight);
    return this.#targets.shift();
  }

  async #syncTo(target: SyncTarget, options: AbortOptions): Promise<void> {
    const { store } = this.#o;
    const base = store.heaviest;
    this.#setStatus({
      stage: "syncing",
      base: { cids: base.cids, height: base.height },
      target,
      phase: "headers",
      height: target.height,
      startedAt: this.#o.clock.now(),
    });
    this.#stats = newStats();
    const started = performance.now();
    if (target.block && await this.#acceptGossipBlock(target, target.block, options)) return;
    const path = await this.#collectHeaders(target, options);
    if (path.keys.length === 0) return; // the target is already accepted
    const walked = performance.now();
    await this.#validateForward(target, path, options);
    this.#setStatus({ ...this.#status, phase: "complete", endedAt: this.#o.clock.now() });
    const st = this.#stats;
    const s = (ms: number) => (ms / 1000).toFixed(1);
    this.#o.log?.(
      `sync: reached height ${store.heaviest.height} (+${st.validated} tipsets) in ` +
        `${s(performance.now() - started)} s: walk back ${s(walked - started)} s ` +
        `(${st.headers} headers fetched), forward ${s(performance.now() - walked)} s ` +
        `(waiting for batches ${s(st.waitMs)} s of their ${s(st.fetchMs)} s loading; ` +
        `validating ${s(st.validateMs)} s; storing ${s(st.storeMs)} s)`,
    );
  }

  /**
   * Takes a gossip block whose parent tipset we accepted: messages by CID, validation on that
   * parent, store, head. Returns false (the caller syncs by chain exchange) when its parent is
   * not accepted or its messages cannot be had; throws SyncFailedError when the block is invalid.
   */
  async #acceptGossipBlock(
    target: SyncTarget,
    block: BlockMsg,
    options: AbortOptions,
  ): Promise<boolean> {
    const { store, fetcher, consensus } = this.#o;
    if (!fetcher.getMessagesByCid) return false;
    const parent = await store.getTipSet(block.header.parents, options);
    const parentWeight = parent && await store.acceptedWeight(parent.key, options);
    if (!parent || parentWeight === undefined) return false;
    let messages: BlockMessageLists;
    try {
      messages = await fetcher.getMessagesByCid(block.blsMessages, block.secpkMessages, options);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      this.#o.log?.(
        `sync: messages of gossip block at ${block.header.height} not fetched by CID ` +
          `(${(err as Error).message}); syncing by chain exchange`,
      );
      return false;
    }
    const tipset = TipSet.fromBlocks([block.header]);
    this.#setStatus({ ...this.#status, phase: "messages", height: parent.height });
    await this.#validateTipSet(tipset, [messages], parent, parentWeight, target.peerId, options);
    const weight = consensus.weight(tipset, parentWeight);
    await store.putTipSets([{ tipset, messages: [messages] }], options);
    if (weight > store.weight) await store.setHead(tipset, weight, options);
    this.#stats.validated = 1;
    this.#setStatus({
      ...this.#status,
      height: tipset.height,
      phase: "complete",
      endedAt: this.#o.clock.now(),
    });
    this.#o.log?.(
      `sync: took gossip block ${tipset.cids[0]} at height ${tipset.height} ` +
        `(${block.blsMessages.length + block.secpkMessages.length} messages by CID)`,
    );
    return true;
  }

  /**
   * Walks back from the target until a tipset we accepted, storing headers as they come.
   * Returns the accepted ancestor and the keys above it, ascending.
   */
  async #collectHeaders(
    target: SyncTarget,
    options: AbortOptions,
  ): Promise<SyncPath> {
    const { store, fetcher, batchSize, maxGap } = this.#o;
    const descending: TipSetKey[] = [];
    const servedBy: ServedRange[] = [];
    let cursor: readonly CID[] = target.cids;
    // The next batch is asked for as soon as an answer names its lowest tipset's parents, so
    // the peer works on it while this answer is checked and stored. Aborted when the walk ends.
    const done = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
    const requestBatch = (head: readonly CID[]) => {
      const fetching = fetcher.getChain(head, batchSize, {
        signal,
        messages: false,
        preferPeer: target.peerId,
      });
      fetching.catch(() => {}); // awaited below, or dropped when the walk ends first
      return { key: TipSetKey.of(head).toString(), fetching };
    };
    let prefetched: ReturnType<typeof requestBatch> | undefined;
    try {
      while (true) {
        signal.throwIfAborted();
        const known = await store.getTipSet(cursor, { signal });
        if (known) {
          const weight = await store.acceptedWeight(known.key, { signal });
          if (weight !== undefined) {
            return { ancestor: known, weight, keys: descending.reverse(), servedBy };
          }
          // Stored by an earlier walk (before a crash or a failed batch) but not yet validated:
          // walk it locally instead of fetching it again, so a restarted sync picks up where the
          // last one stopped. Its blocks are still validated going forward.
          if (known.height === 0) {
            throw new SyncFailedError("the target's chain reaches a genesis that is not ours");
          }
          const bad = known.cids.find((c) => this.#bad.has(c.toString()));
          if (bad) throw new SyncFailedError(`the target's chain contains the bad block ${bad}`);
          if (descending.length >= maxGap) {
            throw new SyncFailedError(
              `no accepted ancestor within ${maxGap} tipsets of the target`,
            );
          }
          descending.push(known.key);
          const last = servedBy.at(-1);
          if (last && last.peerId === undefined) last.lowest = known.height;
          else servedBy.push({ lowest: known.height });
          cursor = known.parents.cids;
          if (descending.length % batchSize === 0) {
            this.#setStatus({ ...this.#status, height: known.height });
          }
          continue;
        }
        if (descending.length >= maxGap) {
          throw new SyncFailedError(`no accepted ancestor within ${maxGap} tipsets of the target`);
        }
        const request = prefetched?.key === TipSetKey.of(cursor).toString()
          ? prefetched
          : requestBatch(cursor);
        const answer = await request.fetching;
        const lowest = answer.tipsets.at(-1);
        // Not past an ancestor we have: that is where the walk ends.
        const more = lowest !== undefined && lowest.height > 0 &&
          await store.acceptedWeight(lowest.parents, { signal }) === undefined;
        prefetched = more ? requestBatch(lowest.parents.cids) : undefined;
        let reachedKnown: { tipset: TipSet; weight: bigint } | undefined;
        const fresh: { tipset: TipSet }[] = [];
        // An accepted tipset's ancestors are all accepted: unless the lowest tipset of the answer
        // is, none is, and one read settles the whole answer.
        const lowestAccepted = lowest && await store.acceptedWeight(lowest.key, { signal });
        for (const tipset of answer.tipsets) {
          const bad = tipset.cids.find((c) => this.#bad.has(c.toString()));
          if (bad) {
            this.#o.onBadPeer?.(answer.peerId, `served known-bad block ${bad}`);
            throw new SyncFailedError(`the target's chain contains the bad block ${bad}`);
          }
          const weight = lowestAccepted === undefined
            ? undefined
            : await store.acceptedWeight(tipset.key, { signal });
          if (weight !== undefined) {
            reachedKnown = { tipset, weight };
            break;
          }
          fresh.push({ tipset });
          descending.push(tipset.key);
        }
        // One batched write per answer (one commit per tipset was most of the walk's time).
        await store.putTipSets(fresh, { signal });
        if (fresh.length > 0) {
          servedBy.push({ lowest: fresh[fresh.length - 1].tipset.height, peerId: answer.peerId });
        }
        this.#stats.headers += fresh.length;
        if (reachedKnown) {
          return {
            ancestor: reachedKnown.tipset,
            weight: reachedKnown.weight,
            keys: descending.reverse(),
            servedBy,
          };
        }
        const last = answer.tipsets.at(-1);
        if (!last) throw new SyncFailedError("a peer answered with no tipsets");
        if (last.height === 0) {
          throw new SyncFailedError("the target's chain reaches a genesis that is not ours");
        }
        cursor = last.parents.cids;
        this.#setStatus({ ...this.#status, height: last.height });
      }
    } finally {
      done.abort(new DOMException("walk back ended", "AbortError"));
    }
  }

  /**
   * Validates the path from the accepted ancestor up, batch by batch, moving the head. The
   * headers are stored (the walk back put them there); only messages are fetched, and the next
   * batch's are fetched while this batch is validated, so the network and the CPU overlap.
   */
  async #validateForward(
    target: SyncTarget,
    path: SyncPath,
    options: AbortOptions,
  ): Promise<void> {
    const { store, batchSize, consensus } = this.#o;
    let parent = path.ancestor;
    let parentWeight = path.weight;
    this.#setStatus({ ...this.#status, phase: "messages", height: parent.height });
    // Aborted when this sync ends, however it ends: a prefetch must not outlive it.
    const done = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
    const load = (at: number) => {
      const loading = this.#loadBatch(path.keys.slice(at, at + batchSize), target, { signal });
      loading.catch(() => {}); // awaited below, or dropped when the sync fails first
      return loading;
    };
    try {
      let next = load(0);
      for (let at = 0; at < path.keys.length; at += batchSize) {
        const waited = performance.now();
        const batch = await next;
        this.#stats.waitMs += performance.now() - waited;
        if (at + batchSize < path.keys.length) next = load(at + batchSize);
        const started = performance.now();
        let ranSince = started;
        for (let i = 0; i < batch.tipsets.length; i++) {
          signal.throwIfAborted();
          // Validation is CPU work with no I/O await: without a macrotask turn now and then,
          // the next batch's prefetch (store reads, the request, the answer) cannot move, and
          // nothing overlaps (measured: forward took validate + load, not the larger of them).
          if (performance.now() - ranSince > YIELD_EVERY_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            ranSince = performance.now();
          }
          const tipset = batch.tipsets[i];
          await this.#validateTipSet(
            tipset,
            batch.messages[i],
            parent,
            parentWeight,
            servedBy(path.servedBy, tipset.height) ?? target.peerId,
            { signal },
          );
          parentWeight = consensus.weight(tipset, parentWeight);
          parent = tipset;
        }
        const validated = performance.now();
        await store.putTipSets(
          batch.tipsets.map((tipset, i) => ({ tipset, messages: batch.messages[i] })),
          { signal, headers: false },
        );
        this.#stats.validateMs += validated - started;
        this.#stats.storeMs += performance.now() - validated;
        this.#stats.validated += batch.tipsets.length;
        // Move the head once the batch is valid, if it is heavier: a crash resumes from here.
        if (parentWeight > store.weight) await store.setHead(parent, parentWeight, { signal });
        this.#setStatus({ ...this.#status, height: parent.height });
      }
    } finally {
      done.abort(new DOMException("sync batch no longer needed", "AbortError"));
    }
  }

  /**
   * A forward batch (ascending keys): its stored tipsets and their messages, ascending. Blocks
   * whose message root is the empty MsgMeta have no messages; no peer is asked about a batch of
   * only such blocks.
   */
  async #loadBatch(
    keys: readonly TipSetKey[],
    target: SyncTarget,
    options: AbortOptions,
  ): Promise<{ tipsets: TipSet[]; messages: (readonly BlockMessageLists[])[] }> {
    const started = performance.now();
    const tipsets: TipSet[] = [];
    for (const key of keys) {
      const tipset = await this.#o.store.getTipSet(key.cids, options);
      // The walk back stored it and nothing deletes unaccepted headers during a sync.
      if (!tipset) throw new SyncFailedError(`tipset ${key} is no longer stored`);
      tipsets.push(tipset);
    }
    const empty = (t: TipSet) => t.blocks.every((b) => b.messages.equals(EMPTY_MSG_META_BLOCK.cid));
    let messages: (readonly BlockMessageLists[])[];
    if (tipsets.every(empty)) {
      messages = tipsets.map((t) => t.blocks.map(() => NO_MESSAGES));
    } else {
      const got = await this.#o.fetcher.getMessages(tipsets.toReversed(), {
        ...options,
        preferPeer: target.peerId,
      });
      if (got.messages.length !== tipsets.length) {
        throw new SyncFailedError(
          `asked ${got.peerId} for the messages of ${tipsets.length} tipsets, got ` +
            `${got.messages.length}`,
        );
      }
      messages = got.messages.toReversed();
    }
    this.#stats.fetchMs += performance.now() - started;
    return { tipsets, messages };
  }

  async #validateTipSet(
    tipset: TipSet,
    messages: readonly BlockMessageLists[],
    parent: TipSet,
    parentWeight: bigint,
    peerId: string,
    options: AbortOptions,
  ): Promise<void> {
    const { clock, consensus, blockDelay } = this.#o;
    for (let j = 0; j < tipset.blocks.length; j++) {
      try {
        await validateBlock(
          tipset.blocks[j],
          messages[j] ?? NO_MESSAGES,
          { parent, parentWeight, blockDelay, clock, consensus },
          options,
        );
      } catch (err) {
        if (err instanceof BlockFromFutureError || options.signal?.aborted) throw err;
        const reason = (err as Error).message;
        this.#markBad(tipset.cids[j], reason);
        this.#o.onBadPeer?.(peerId, `invalid block ${tipset.cids[j]}: ${reason}`);
        throw new SyncFailedError(`invalid block ${tipset.cids[j]}: ${reason}`);
      }
    }
  }

  #markBad(cid: CID, reason: string): void {
    this.#bad.set(cid.toString(), reason);
    if (this.#bad.size > MAX_BAD_BLOCKS) this.#bad.delete(this.#bad.keys().next().value!);
  }

  #setStatus(status: SyncStatus): void {
    this.#status = status;
    this.emit("status", status);
  }
}

/** Longest stretch of validation before the event loop gets a turn (for I/O in flight). */
const YIELD_EVERY_MS = 10;

/** Counters of one sync. */
function newStats() {
  return { headers: 0, validated: 0, fetchMs: 0, waitMs: 0, validateMs: 0, storeMs: 0 };
}

/** A block without messages. */
const NO_MESSAGES: BlockMessageLists = { bls: [], secpk: [] };

/**
 * Which peer served the headers from `lowest` up (to the next range's start), in a walk back;
 * no peer for headers an earlier walk stored (a sync resumed after a restart).
 */
interface ServedRange {
  lowest: number;
  readonly peerId?: string;
}

/** What the walk back found: the accepted ancestor and the keys above it, ascending. */
interface SyncPath {
  readonly ancestor: TipSet;
  readonly weight: bigint;
  readonly keys: TipSetKey[];
  /** Descending by height, one entry per answer that brought new headers. */
  readonly servedBy: ServedRange[];
}

/**
 * The peer that served the header at `height`, or undefined when an earlier walk stored it (a
 * sync resumed after a restart): ranges are descending, so the first whose lowest height is at
 * or below `height` holds it.
 */
function servedBy(ranges: readonly ServedRange[], height: number): string | undefined {
  return ranges.find((range) => range.lowest <= height)?.peerId;
}
