/**
 * ChainStore: the node's chain. Block headers (and messages, when given, stored and read by
 * `message_store.ts`) live in the IpldStore as content-addressed blocks; the mutable part is a handful of small KV records under `["chain"]`:
 *
 * | key                                | value                               | meaning                                  |
 * | ---------------------------------- | ----------------------------------- | ---------------------------------------- |
 * | `["chain", "genesis"]`             | genesis CID bytes                   | names the network (see `genesis.ts`)     |
 * | `["chain", "head"]`                | `{ key, height, weight }`           | the heaviest tipset: key bytes, weight   |
 * | `["chain", "height", h]`           | tipset key bytes                    | the head chain's tipset at epoch `h`     |
 * | `["chain", "accepted", keyCid]`    | `{ height, weight }`                | ancestry of this tipset is stored        |
 * | `["chain", "reindex"]`             | `{ low, high }`                     | height index in flux (multi-commit move) |
 *
 * Invariant, kept across crashes: the head's ancestry down to genesis is stored, and every
 * tipset on it carries an "accepted" marker. `setHead()` checks the new head's unaccepted
 * ancestors are stored down to an accepted tipset (so the check costs only what is new), writes
 * their markers, and rewrites the height index for the changed range, in KV atomic commits of at
 * most 1000 mutations / 800 KiB. A deep reorg takes several commits: the first one records the
 * range in `["chain", "reindex"]` and the last one moves the head pointer and clears that record.
 * A crash before the last commit leaves the old head (whose ancestry is complete) and an index
 * that `open()` rebuilds from the head for the recorded range. Markers written for a head that
 * never became head are still true (those blocks are stored), so they need no cleanup.
 *
 * The store is passive (no timers, streams or handles), so it has no start/stop: it lives as long
 * as the KV it was opened on.
 *
 * Why over 600 lines: what remains is one concept, the head and the records that keep the
 * invariant above (accepted markers, the height index and its crash-safe multi-commit rewrite),
 * which must change together; message storage is `message_store.ts`.
 *
 * @example
 * ```ts
 * import { ChainStore } from "./chain_store.ts";
 * import { buildGenesis } from "./genesis.ts";
 * import { MemoryIpldStore } from "../ipld/memory_ipld_store.ts";
 * const kv = await Deno.openKv(":memory:");
 * const ipld = new MemoryIpldStore();
 * const genesis = buildGenesis({ networkName: "demo", timestamp: 0, blockDelay: 4 });
 * await ipld.putMany(genesis.blocks);
 * const chain = await ChainStore.open(kv, ipld, genesis.header);
 * if (chain.head().height !== 0 || chain.networkName !== "demo") throw new Error("unexpected");
 * kv.close();
 * ```
 *
 * @module
 */
import { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError, UserError } from "../errors.ts";
import { TypedEventTarget } from "../events.ts";
import type { Block } from "../ipld/block.ts";
import { BlockNotFoundError, type IpldStore } from "../ipld/ipld_store.ts";
import type { BlockMessageLists } from "./block_messages.ts";
import type { ChainHead, ChainView } from "./chain_view.ts";
import { EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK } from "./empty_msg_meta.ts";
import { messageBlocks, MessageStore } from "./message_store.ts";
import { assertGenesisHeader, readGenesisState } from "./genesis.ts";
import {
  type BlockHeader,
  blockHeaderCid,
  deserializeBlockHeader,
  InvalidChainDataError,
  serializeBlockHeader,
  TipSet,
  TipSetKey,
} from "./types/mod.ts";

/** Deno KV's cap on mutations in one atomic operation. */
export const MAX_COMMIT_MUTATIONS = 1000;
/** Deno KV's cap on the total size of one atomic operation is 800 KiB; keys and values count. */
export const MAX_COMMIT_BYTES = 800 * 1024;
/** Tipsets kept decoded in memory: a few hours of mainnet epochs, to make walks cheap. */
const TIPSET_CACHE_SIZE = 2048;

const HEAD_KEY: Deno.KvKey = ["chain", "head"];
const REINDEX_KEY: Deno.KvKey = ["chain", "reindex"];
const heightKey = (height: number): Deno.KvKey => ["chain", "height", height];
/** Keys remembered as accepted by descent (see `#acceptedByDescent`): a few answers' worth. */
const ACCEPTED_BY_DESCENT_MAX = 4096;

const acceptedKey = (key: TipSetKey): Deno.KvKey => ["chain", "accepted", key.cid().bytes];

interface HeadRecord {
  key: Uint8Array;
  height: number;
  weight: bigint;
}
interface AcceptedRecord {
  height: number;
  weight: bigint;
}
interface ReindexRecord {
  low: number;
  high: number;
}

/** A block's messages, in block order (Lotus `BlockMessages`, minus the CIDs). */
export type BlockMessages = BlockMessageLists;

/** What `head-changed` carries: the old and new head and the tipsets between them. */
export interface HeadChange {
  readonly from: TipSet;
  readonly to: TipSet;
  /** Tipsets no longer on the head chain, from the old head down to the fork point (excluded). */
  readonly reverted: readonly TipSet[];
  /** Tipsets newly on the head chain, from above the fork point up to the new head. */
  readonly applied: readonly TipSet[];
}

export type ChainStoreEvents = { "head-changed": CustomEvent<HeadChange> };

export interface ChainStoreOptions extends AbortOptions {
  /** Network name when genesis is not a filnode devnet genesis (whose state names it). */
  networkName?: string;
  /** Split commits smaller than Deno KV's limits (tests force multi-commit head moves). */
  maxCommitMutations?: number;
  maxCommitBytes?: number;
  /**
   * Called before each KV commit of a head move or index repair, with its index and the number
   * of commits. Tests throw from it to simulate a crash between commits.
   */
  beforeCommit?: (index: number, total: number) => void | Promise<void>;
}

/** Options of {@link ChainStore.getTipSetByHeight}. */
export interface TipSetByHeightOptions extends AbortOptions {
  /** Look back from this tipset instead of the head. */
  from?: TipSet;
  /** On a null round, answer the tipset above it (Lotus `ChainGetTipSetAfterHeight`). */
  next?: boolean;
}

/** `setHead()` on a tipset whose ancestry is not stored, or that does not reach our genesis. */
export class MissingAncestryError extends UserError {}

/** The KV changed under a head move (another writer): nothing was moved. */
export class ConcurrentHeadChangeError extends Error {
  constructor() {
    super("the chain head changed during a head move");
    this.name = "ConcurrentHeadChangeError";
  }
}

type Op = { key: Deno.KvKey; value?: unknown; bytes: number };

/** The node's chain: tipsets by key and height, the heaviest head, and head-change events. */
export class ChainStore extends TypedEventTarget<ChainStoreEvents> implements ChainView {
  readonly genesis: CID;
  readonly networkName: string;
  /** The genesis tipset. */
  readonly genesisTipSet: TipSet;
  readonly #kv: Deno.Kv;
  readonly #ipld: IpldStore;
  readonly #messages: MessageStore;
  readonly #options: ChainStoreOptions;
  #head: TipSet;
  #weight: bigint;
  #cache = new Map<string, TipSet>();
  /**
   * Keys known accepted without a read: parents of tipsets found accepted (an accepted tipset's
   * ancestry is accepted, and acceptance is never taken back). Serving a chain walks parents,
   * so this saves one KV read per tipset served. Bounded; oldest forgotten first.
   */
  readonly #acceptedByDescent = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    kv: Deno.Kv,
    ipld: IpldStore,
    genesis: TipSet,
    networkName: string,
    options: ChainStoreOptions,
  ) {
    super();
    this.#kv = kv;
    this.#ipld = ipld;
    this.#messages = new MessageStore(ipld);
    this.#options = options;
    this.genesisTipSet = genesis;
    this.genesis = genesis.cids[0];
    this.networkName = networkName;
    this.#head = genesis;
    this.#weight = 0n;
  }

  /**
   * Opens the chain on `kv` + `ipld` for `genesis` (its header, or the CID of a stored one). A new
   * chain starts with genesis as head; an existing one is checked to belong to this genesis, and
   * a height index left in flux by a crash is rebuilt from the head.
   *
   * @throws CorruptRecordError when the head record or a block it needs is damaged or missing.
   */
  static async open(
    kv: Deno.Kv,
    ipld: IpldStore,
    genesis: BlockHeader | CID,
    options: ChainStoreOptions = {},
  ): Promise<ChainStore> {
    let header: BlockHeader;
    if (genesis instanceof CID) {
      const loaded = await loadHeader(ipld, genesis, options);
      if (!loaded) throw new CorruptRecordError(`the genesis block ${genesis} is not stored`);
      header = loaded;
    } else {
      header = genesis;
      const bytes = serializeBlockHeader(header);
      await ipld.put(blockHeaderCid(header), bytes, options);
    }
    const genesisTs = TipSet.fromBlocks([header]);
    assertGenesisHeader(header, genesisTs.cids[0]);
    if (header.messages.equals(EMPTY_MSG_META_BLOCK.cid)) {
      await ipld.putMany([EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK], options);
    }
    const state = await readGenesisState(ipld, header, options);
    const networkName = state?.networkName ?? options.networkName;
    if (networkName === undefined) {
      throw new UserError(
        `genesis ${genesisTs.cids[0]} does not name its network; give the network name`,
      );
    }
    const store = new ChainStore(kv, ipld, genesisTs, networkName, options);
    await store.#load(options);
    return store;
  }

  async #load(options: AbortOptions): Promise<void> {
    const entry = await this.#kv.get<HeadRecord>(HEAD_KEY);
    if (entry.value === null) {
      // A new chain: genesis is head, indexed and accepted, in one commit.
      const g = this.genesisTipSet;
      const ok = await this.#kv.atomic()
        .check(entry)
        .set(HEAD_KEY, { key: g.key.bytes, height: 0, weight: 0n } satisfies HeadRecord)
        .set(heightKey(0), g.key.bytes)
        .set(acceptedKey(g.key), { height: 0, weight: 0n } satisfies AcceptedRecord)
        .commit();
      if (!ok.ok) throw new ConcurrentHeadChangeError();
      return;
    }
    const record = entry.value;
    if (
      typeof record !== "object" || !(record.key instanceof Uint8Array) ||
      typeof record.weight !== "bigint"
    ) {
      throw new CorruptRecordError("the chain head record is damaged; run `filnode repo fsck`");
    }
    let key: TipSetKey;
    try {
      key = TipSetKey.fromBytes(record.key);
    } catch (err) {
      throw new CorruptRecordError("the chain head record is damaged", { cause: err });
    }
    const head = await this.getTipSet(key.cids, options);
    if (!head) {
      throw new CorruptRecordError(
        `the chain head ${key} is not stored; run \`filnode repo fsck\``,
      );
    }
    this.#head = head;
    this.#weight = record.weight;
    await this.#repairIndex(options);
    const base = await this.#indexed(0);
    if (!base || !base.equals(this.genesisTipSet.key)) {
      throw new CorruptRecordError(
        `the chain head ${head.key} does not descend from genesis ${this.genesis}`,
      );
    }
  }

  /** The heaviest tipset's key, height and weight (what Hello advertises). Sync, cached. */
  head(): ChainHead {
    return { cids: this.#head.cids, height: this.#head.height, weight: this.#weight };
  }

  /** The heaviest tipset. */
  get heaviest(): TipSet {
    return this.#head;
  }

  /** Weight of the heaviest tipset. */
  get weight(): bigint {
    return this.#weight;
  }

  /**
   * Stores `tipset`'s headers and, when given, its messages (`messages[i]` belongs to
   * `tipset.blocks[i]`), in one batched `putMany`. Storing is not accepting: only `setHead()`
   * makes a tipset part of the chain.
   */
  async putTipSet(
    tipset: TipSet,
    messages?: readonly BlockMessages[],
    options: AbortOptions = {},
  ): Promise<void> {
    await this.putTipSets([{ tipset, messages }], options);
  }

  /**
   * Stores many tipsets in one batched `putMany` (a sync stores a whole chain-exchange answer at
   * once: one KV commit per tipset was the walk back's main cost). `headers: false` stores only
   * the messages, for tipsets whose headers are already stored. Throws InvalidChainDataError,
   * storing nothing, when messages do not match their block's message root.
   */
  async putTipSets(
    entries: readonly { tipset: TipSet; messages?: readonly BlockMessages[] }[],
    options: AbortOptions & { headers?: boolean } = {},
  ): Promise<void> {
    const blocks: Block[] = [];
    for (const { tipset, messages } of entries) {
      blocks.push(...tipSetBlocks(tipset, messages, options.headers ?? true));
    }
    if (blocks.length > 0) await this.#ipld.putMany(blocks, options);
  }

  /** A stored header, or undefined. @throws CorruptRecordError if the stored bytes are not one. */
  getBlockHeader(cid: CID, options: AbortOptions = {}): Promise<BlockHeader | undefined> {
    return loadHeader(this.#ipld, cid, options);
  }

  /**
   * The tipset of these block CIDs (in canonical order, as a TipSetKey lists them), or undefined
   * when a block is not stored or the CIDs are not a tipset's key. The shape chain exchange
   * serves from (`ChainExchangeSource.getTipSet`).
   */
  async getTipSet(cids: readonly CID[], options: AbortOptions = {}): Promise<TipSet | undefined> {
    if (cids.length === 0) return undefined;
    const key = TipSetKey.of(cids);
    const name = key.toString();
    const cached = this.#cache.get(name);
    if (cached) {
      this.#cache.delete(name);
      this.#cache.set(name, cached);
      return cached;
    }
    const headers: BlockHeader[] = [];
    for (const cid of cids) {
      const header = await this.getBlockHeader(cid, options);
      if (!header) return undefined;
      headers.push(header);
    }
    let tipset: TipSet;
    try {
      tipset = TipSet.fromBlocks(headers);
    } catch (err) {
      if (err instanceof InvalidChainDataError) return undefined;
      throw err;
    }
    if (!tipset.key.equals(key)) return undefined;
    this.#cache.set(name, tipset);
    if (this.#cache.size > TIPSET_CACHE_SIZE) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    return tipset;
  }

  /**
   * A block's messages, or undefined when they are not stored or cannot be read yet. The shape
   * chain exchange serves from (`ChainExchangeSource.getBlockMessages`).
   */
  getBlockMessages(
    header: BlockHeader,
    options: AbortOptions = {},
  ): Promise<BlockMessages | undefined> {
    return this.#messages.get(header, options);
  }

  /** True when `key`'s tipset was accepted (its ancestry to genesis is stored). */
  async isAccepted(key: TipSetKey): Promise<boolean> {
    return (await this.#kv.get(acceptedKey(key))).value !== null;
  }

  /**
   * The weight of an accepted tipset, or undefined when `key`'s tipset was not accepted. Sync
   * starts validating from such a tipset and needs its weight (a fork point may lie off the
   * current head's chain, so the head cannot tell it).
   */
  /**
   * The tipset of these block CIDs if it was accepted (its ancestry stored and valid), else
   * undefined: what this node serves to peers. Headers stored by a sync that has not validated
   * them yet are not served: an honest node relaying them would take the blame for a liar's
   * blocks (measured: a node that had tried a forged chain served it on, and was penalised).
   */
  async getAcceptedTipSet(
    cids: readonly CID[],
    options: AbortOptions = {},
  ): Promise<TipSet | undefined> {
    const tipset = await this.getTipSet(cids, options);
    if (!tipset) return undefined;
    const name = tipset.key.toString();
    if (!this.#acceptedByDescent.has(name)) {
      if (await this.acceptedWeight(tipset.key, options) === undefined) return undefined;
    }
    this.#acceptedByDescent.add(tipset.parents.toString());
    if (this.#acceptedByDescent.size > ACCEPTED_BY_DESCENT_MAX) {
      this.#acceptedByDescent.delete(this.#acceptedByDescent.values().next().value!);
    }
    return tipset;
  }

  async acceptedWeight(key: TipSetKey, options: AbortOptions = {}): Promise<bigint | undefined> {
    options.signal?.throwIfAborted();
    const record = (await this.#kv.get<AcceptedRecord>(acceptedKey(key))).value;
    return record === null ? undefined : record.weight;
  }

  /**
   * Makes `tipset` the head, with `weight`. Its ancestors not yet accepted must be stored down to
   * an accepted tipset; their weights are taken from their children's ParentWeight. Moves the
   * head pointer and the height index atomically as seen from a crash (see the module doc), then
   * emits `head-changed`. Head moves run one at a time. Returns the change, or undefined when
   * `tipset` already is the head.
   *
   * @throws MissingAncestryError when an ancestor is not stored or the chain misses our genesis.
   */
  setHead(
    tipset: TipSet,
    weight: bigint,
    options: AbortOptions = {},
  ): Promise<HeadChange | undefined> {
    return this.#exclusive(() => this.#setHead(tipset, weight, options));
  }

  async #setHead(
    tipset: TipSet,
    weight: bigint,
    options: AbortOptions,
  ): Promise<HeadChange | undefined> {
    const from = this.#head;
    if (tipset.equals(from)) return undefined;
    const headEntry = await this.#kv.get(HEAD_KEY);

    // 1. The unaccepted part of the new head's ancestry must be stored.
    const accept: Op[] = [];
    let cur = tipset;
    let curWeight = weight;
    while (!await this.isAccepted(cur.key)) {
      options.signal?.throwIfAborted();
      const stored = await this.getTipSet(cur.cids, options);
      if (!stored) throw new MissingAncestryError(`tipset ${cur.key} is not stored`);
      accept.push(op(acceptedKey(cur.key), { height: cur.height, weight: curWeight }));
      if (cur.blocks[0].parents.length === 0) {
        throw new MissingAncestryError(`tipset ${tipset.key} does not descend from our genesis`);
      }
      const parent = await this.getTipSet(cur.parents.cids, options);
      if (!parent) {
        throw new MissingAncestryError(
          `ancestor ${cur.parents} of ${tipset.key} (height ${
            cur.height - 1
          } or below) is not stored`,
        );
      }
      if (parent.height >= cur.height) {
        throw new InvalidChainDataError(`tipset ${cur.key} is not above its parent`);
      }
      curWeight = cur.parentWeight;
      cur = parent;
    }

    // 2. Fork point: walk the higher side down until both sides meet.
    const reverted: TipSet[] = [];
    const applied: TipSet[] = [];
    let a = from;
    let b = tipset;
    while (!a.equals(b)) {
      options.signal?.throwIfAborted();
      if (a.height >= b.height) {
        reverted.push(a);
        a = await this.#parentOf(a, options);
      } else {
        applied.push(b);
        b = await this.#parentOf(b, options);
      }
    }
    applied.reverse();

    // 3. Index changes; head pointer last.
    const index: Op[] = applied.map((t) => op(heightKey(t.height), t.key.bytes));
    const appliedHeights = new Set(applied.map((t) => t.height));
    for (const t of reverted) {
      if (!appliedHeights.has(t.height)) index.push(op(heightKey(t.height)));
    }
    const heights = [...applied, ...reverted].map((t) => t.height);
    const range: ReindexRecord = { low: Math.min(...heights), high: Math.max(...heights) };
    await this.#commit(
      [...accept, ...index],
      [
        op(HEAD_KEY, { key: tipset.key.bytes, height: tipset.height, weight } satisfies HeadRecord),
      ],
      range,
      headEntry,
    );

    this.#head = tipset;
    this.#weight = weight;
    const change: HeadChange = { from, to: tipset, reverted, applied };
    this.emit("head-changed", change);
    return change;
  }

  async #parentOf(tipset: TipSet, options: AbortOptions): Promise<TipSet> {
    const parent = tipset.blocks[0].parents.length === 0
      ? undefined
      : await this.getTipSet(tipset.parents.cids, options);
    if (!parent) {
      throw new CorruptRecordError(`the parent of accepted tipset ${tipset.key} is not stored`);
    }
    return parent;
  }

  /**
   * Applies `ops` then `last` in as few commits as the limits allow. When that takes more than
   * one commit, the first records `range` under the reindex key and the last clears it, so a
   * crash in between is repaired by `open()`. The last commit checks `check` (the head record as
   * read before the move).
   */
  async #commit(
    ops: Op[],
    last: Op[],
    range: ReindexRecord,
    check?: Deno.AtomicCheck,
  ): Promise<void> {
    const maxOps = this.#options.maxCommitMutations ?? MAX_COMMIT_MUTATIONS;
    const maxBytes = this.#options.maxCommitBytes ?? MAX_COMMIT_BYTES;
    const fits = (batch: Op[], extra: Op[]) =>
      batch.length + extra.length <= maxOps &&
      [...batch, ...extra].reduce((n, o) => n + o.bytes, 0) <= maxBytes;
    if (!fits(ops, last)) {
      ops = [op(REINDEX_KEY, range), ...ops];
      last = [...last, op(REINDEX_KEY)];
    }
    const batches: Op[][] = [];
    let batch: Op[] = [];
    for (const o of ops) {
      if (batch.length > 0 && !fits(batch, [o])) {
        batches.push(batch);
        batch = [];
      }
      batch.push(o);
    }
    if (batch.length > 0 && !fits(batch, last)) {
      batches.push(batch);
      batch = [];
    }
    batches.push([...batch, ...last]);
    for (const [i, ops] of batches.entries()) {
      await this.#options.beforeCommit?.(i, batches.length);
      const atomic = this.#kv.atomic();
      if (i === batches.length - 1 && check) atomic.check(check);
      for (const o of ops) {
        if (o.value === undefined) atomic.delete(o.key);
        else atomic.set(o.key, o.value);
      }
      const result = await atomic.commit();
      if (!result.ok) throw new ConcurrentHeadChangeError();
    }
  }

  /**
   * Makes the height index agree with the head: the range a crashed head move left in flux,
   * plus anything above the head or disagreeing at its height (a damaged index).
   */
  async #repairIndex(options: AbortOptions): Promise<void> {
    const head = this.#head;
    const marker = (await this.#kv.get<ReindexRecord>(REINDEX_KEY)).value;
    let low = Infinity;
    let high = -Infinity;
    if (marker) {
      low = marker.low;
      high = marker.high;
    }
    const top = this.#kv.list<Uint8Array>({ prefix: ["chain", "height"] }, {
      reverse: true,
      limit: 1,
    });
    for await (const entry of top) {
      const h = entry.key[2] as number;
      if (h > head.height) {
        low = Math.min(low, head.height);
        high = Math.max(high, h);
      }
    }
    const atHead = await this.#indexed(head.height);
    if (!atHead || !atHead.equals(head.key)) {
      // Walk down until the index agrees (or genesis), rebuilding from there.
      let t = head;
      while (t.height > 0) {
        const have = await this.#indexed(t.height);
        if (have && have.equals(t.key)) break;
        t = await this.#parentOf(t, options);
      }
      low = Math.min(low, t.height);
      high = Math.max(high, head.height);
    }
    if (low > high) return;

    const want = new Map<number, TipSet>();
    for (let t = head; t.height >= low;) {
      if (t.height <= high) want.set(t.height, t);
      if (t.height === 0) break;
      t = await this.#parentOf(t, options);
    }
    const ops: Op[] = [];
    const seen = new Set<number>();
    const existing = this.#kv.list<Uint8Array>({
      start: heightKey(low),
      end: heightKey(high + 1),
    });
    for await (const entry of existing) {
      const h = entry.key[2] as number;
      seen.add(h);
      const t = want.get(h);
      if (!t) ops.push(op(entry.key));
      else if (!bytesEqual(entry.value, t.key.bytes)) ops.push(op(entry.key, t.key.bytes));
    }
    for (const [h, t] of want) if (!seen.has(h)) ops.push(op(heightKey(h), t.key.bytes));
    await this.#commit(ops, [op(REINDEX_KEY)], { low, high });
  }

  async #indexed(height: number): Promise<TipSetKey | undefined> {
    const entry = await this.#kv.get<Uint8Array>(heightKey(height));
    if (!(entry.value instanceof Uint8Array)) return undefined;
    try {
      return TipSetKey.fromBytes(entry.value);
    } catch {
      return undefined;
    }
  }

  /**
   * The tipset at `height` on the chain ending at `from` (default: the head), as Lotus
   * `GetTipsetByHeight`: on a null round, the tipset below it, or with `next` the one above.
   *
   * @throws RangeError when `height` is negative or above `from`.
   */
  async getTipSetByHeight(height: number, options: TipSetByHeightOptions = {}): Promise<TipSet> {
    await this.#queue; // never read the index halfway through a head move
    const from = options.from ?? this.#head;
    if (!Number.isSafeInteger(height) || height < 0) {
      throw new RangeError(`height must be a whole number >= 0, got ${height}`);
    }
    if (height > from.height) {
      throw new RangeError(`height ${height} is above the starting tipset's ${from.height}`);
    }
    if (height === from.height) return from;
    const onIndex = (await this.#indexed(from.height))?.equals(from.key) ?? false;
    if (onIndex) {
      const exact = await this.#indexed(height);
      let key = exact;
      if (!key) {
        const list = options.next
          ? this.#kv.list<Uint8Array>(
            { start: heightKey(height), end: heightKey(from.height + 1) },
            {
              limit: 1,
            },
          )
          : this.#kv.list<Uint8Array>({ start: heightKey(0), end: heightKey(height) }, {
            limit: 1,
            reverse: true,
          });
        for await (const entry of list) key = TipSetKey.fromBytes(entry.value);
      }
      const found = key && await this.getTipSet(key.cids, options);
      if (!found) throw new CorruptRecordError(`the height index has no tipset near ${height}`);
      return found;
    }
    let child = from;
    let t = from;
    while (t.height > height) {
      child = t;
      t = await this.#parentOf(t, options);
    }
    return t.height === height || !options.next ? t : child;
  }

  /** Runs head moves one at a time. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

async function loadHeader(
  ipld: IpldStore,
  cid: CID,
  options: AbortOptions,
): Promise<BlockHeader | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await ipld.get(cid, options);
  } catch (err) {
    if (err instanceof BlockNotFoundError) return undefined;
    throw err;
  }
  try {
    return deserializeBlockHeader(bytes, { maxBytes: bytes.length });
  } catch (err) {
    throw new CorruptRecordError(`stored block ${cid} is not a block header`, { cause: err });
  }
}

/** A KV set (or, without `value`, delete), with its size estimate for the commit limit. */
function op(key: Deno.KvKey, value?: unknown): Op {
  const keyBytes = key.reduce<number>(
    (n, part) => n + (part instanceof Uint8Array ? part.length : String(part).length) + 2,
    0,
  );
  const valueBytes = value === undefined
    ? 0
    : value instanceof Uint8Array
    ? value.length
    : typeof value === "object" && value !== null && "key" in value &&
        (value as HeadRecord).key instanceof Uint8Array
    ? (value as HeadRecord).key.length + 64
    : 64;
  return { key, value, bytes: keyBytes + valueBytes + 32 };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The IPLD blocks that store `tipset`: its headers (with the empty MsgMeta and AMT when a block
 * names them) unless `headers` is false, and, when given, its messages with their MsgMeta and
 * AMT nodes, checked against each header's message root.
 */
function tipSetBlocks(
  tipset: TipSet,
  messages: readonly BlockMessages[] | undefined,
  headers: boolean,
): Block[] {
  if (messages && messages.length !== tipset.blocks.length) {
    throw new RangeError(
      `${messages.length} message lists for a tipset of ${tipset.blocks.length} blocks`,
    );
  }
  const blocks: Block[] = [];
  tipset.blocks.forEach((header, i) => {
    const emptyRoot = header.messages.equals(EMPTY_MSG_META_BLOCK.cid);
    if (headers) {
      blocks.push({ cid: tipset.cids[i], bytes: serializeBlockHeader(header) });
      if (emptyRoot) blocks.push(EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK);
    }
    const msgs = messages?.[i];
    if (msgs) blocks.push(...messageBlocks(header, tipset.cids[i], msgs));
  });
  return blocks;
}
