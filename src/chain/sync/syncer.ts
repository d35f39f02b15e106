/**
 * The chain sync system: catches the node up with heavier heads its peers advertise (in Hello or
 * on gossip), as the spec's "Syncing" section describes, and tells mining when it may run.
 *
 * For a target heavier than our head it:
 * 1. walks back from the target in batches of headers (chain exchange), storing each header as
 *    it arrives and keeping only tipset keys in memory, until it reaches a tipset we accepted;
 * 2. goes forward from there in batches: fetches the batch's messages, validates every block on
 *    its (already valid) parent, stores the tipset with its messages, and moves the head after
 *    each batch when the chain got heavier. A crash loses at most one batch of work: the head
 *    only ever names validated tipsets whose ancestry is stored, and the next start resumes from
 *    it;
 * 3. switches to the heavier fork when the target's chain branches below our head (a reorg is the
 *    chain store's `setHead` on a tipset whose ancestry leaves our chain).
 *
 * A block that fails validation is remembered as bad (its descendants too), the peer that sent it
 * is penalised, and the target is dropped; the next target (another peer's) is tried. Memory is
 * bounded by the batch size plus one tipset key per height of the gap.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../../abort.ts";
import type { Clock } from "../../clock/clock.ts";
import type { Consensus } from "../../consensus/consensus.ts";
import { TypedEventTarget } from "../../events.ts";
import { UserError } from "../../errors.ts";
import { BlockFromFutureError, type BlockMessageLists, validateBlock } from "../block_validator.ts";
import { type TipSet, TipSetKey } from "../types/mod.ts";

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
}

/** What the syncer reads and writes of the chain store. */
export interface SyncChainStore {
  /** The current head and its weight. */
  readonly heaviest: TipSet;
  readonly weight: bigint;
  getTipSet(cids: readonly CID[], options?: AbortOptions): Promise<TipSet | undefined>;
  /** The weight of an accepted tipset (its ancestry is stored and valid), else undefined. */
  acceptedWeight(key: TipSetKey, options?: AbortOptions): Promise<bigint | undefined>;
  putTipSet(
    tipset: TipSet,
    messages?: readonly BlockMessageLists[],
    options?: AbortOptions,
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
    const path = await this.#collectHeaders(target, options);
    if (path.keys.length === 0) return; // the target is already accepted
    await this.#validateForward(target, path, options);
    this.#setStatus({ ...this.#status, phase: "complete", endedAt: this.#o.clock.now() });
  }

  /**
   * Walks back from the target until a tipset we accepted, storing headers as they come.
   * Returns the accepted ancestor and the keys above it, ascending.
   */
  async #collectHeaders(
    target: SyncTarget,
    options: AbortOptions,
  ): Promise<{ ancestor: TipSet; weight: bigint; keys: TipSetKey[] }> {
    const { store, fetcher, batchSize, maxGap } = this.#o;
    const descending: TipSetKey[] = [];
    let cursor: readonly CID[] = target.cids;
    while (true) {
      options.signal?.throwIfAborted();
      const known = await store.getTipSet(cursor, options);
      if (known) {
        const weight = await store.acceptedWeight(known.key, options);
        if (weight !== undefined) return { ancestor: known, weight, keys: descending.reverse() };
        // Stored by an earlier walk (before a crash or a failed batch) but not yet validated:
        // walk it locally instead of fetching it again, so a restarted sync picks up where the
        // last one stopped. Its blocks are still validated going forward.
        if (known.height === 0) {
          throw new SyncFailedError("the target's chain reaches a genesis that is not ours");
        }
        const bad = known.cids.find((c) => this.#bad.has(c.toString()));
        if (bad) throw new SyncFailedError(`the target's chain contains the bad block ${bad}`);
        if (descending.length >= maxGap) {
          throw new SyncFailedError(`no accepted ancestor within ${maxGap} tipsets of the target`);
        }
        descending.push(known.key);
        cursor = known.parents.cids;
        if (descending.length % batchSize === 0) {
          this.#setStatus({ ...this.#status, height: known.height });
        }
        continue;
      }
      if (descending.length >= maxGap) {
        throw new SyncFailedError(`no accepted ancestor within ${maxGap} tipsets of the target`);
      }
      const answer = await fetcher.getChain(cursor, batchSize, {
        ...options,
        messages: false,
        preferPeer: target.peerId,
      });
      let reachedKnown: { tipset: TipSet; weight: bigint } | undefined;
      for (const tipset of answer.tipsets) {
        const bad = tipset.cids.find((c) => this.#bad.has(c.toString()));
        if (bad) {
          this.#o.onBadPeer?.(answer.peerId, `served known-bad block ${bad}`);
          throw new SyncFailedError(`the target's chain contains the bad block ${bad}`);
        }
        const weight = await store.acceptedWeight(tipset.key, options);
        if (weight !== undefined) {
          reachedKnown = { tipset, weight };
          break;
        }
        await store.putTipSet(tipset, undefined, options);
        descending.push(tipset.key);
      }
      if (reachedKnown) {
        return {
          ancestor: reachedKnown.tipset,
          weight: reachedKnown.weight,
          keys: descending.reverse(),
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
  }

  /**
   * Validates the path from the accepted ancestor up, batch by batch, moving the head. Asks for
   * headers and messages again (Headers | Messages): simple, but headers cross the wire twice;
   * Lotus asks for messages only and matches them to the stored headers, the next step here.
   */
  async #validateForward(
    target: SyncTarget,
    path: { ancestor: TipSet; weight: bigint; keys: TipSetKey[] },
    options: AbortOptions,
  ): Promise<void> {
    const { store, fetcher, batchSize, consensus } = this.#o;
    let parent = path.ancestor;
    let parentWeight = path.weight;
    this.#setStatus({ ...this.#status, phase: "messages", height: parent.height });
    for (let at = 0; at < path.keys.length; at += batchSize) {
      const batch = path.keys.slice(at, at + batchSize);
      const top = batch[batch.length - 1];
      const answer = await fetcher.getChain(top.cids, batch.length, {
        ...options,
        messages: true,
        preferPeer: target.peerId,
      });
      if (!answer.messages || answer.tipsets.length !== batch.length) {
        throw new SyncFailedError(
          `asked ${answer.peerId} for ${batch.length} tipsets with messages, got ` +
            `${answer.tipsets.length}${answer.messages ? "" : " without messages"}`,
        );
      }
      // The answer is descending; validate ascending.
      for (let i = batch.length - 1; i >= 0; i--) {
        options.signal?.throwIfAborted();
        const tipset = answer.tipsets[i];
        if (!tipset.key.equals(batch[batch.length - 1 - i])) {
          throw new SyncFailedError(`${answer.peerId} answered with a different chain`);
        }
        const messages = answer.messages[i];
        await this.#validateTipSet(tipset, messages, parent, parentWeight, answer.peerId, options);
        parentWeight = consensus.weight(tipset, parentWeight);
        await store.putTipSet(tipset, messages, options);
        parent = tipset;
      }
      // Move the head once the batch is valid, if it is heavier: a crash resumes from here.
      if (parentWeight > store.weight) await store.setHead(parent, parentWeight, options);
      this.#setStatus({ ...this.#status, height: parent.height });
    }
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
          messages[j] ?? { bls: [], secpk: [] },
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
