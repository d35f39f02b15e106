/**
 * What the syncer sees of the world: the targets peers claim, the slice of the chain store it
 * reads and writes, and the slice of chain exchange it fetches through. Narrow on purpose: the
 * wiring (`chain_sync.ts`) adapts the real systems to these, tests pass fakes.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import type { BlockMsg, TipSet, TipSetKey } from "../chain/types/mod.ts";

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
  /**
   * Set by the blocks gossip validator only: the consensus precheck (`precheckGossipBlock`:
   * miner, block signature) passed for `block.header`, so validation does not repeat it.
   */
  readonly prechecked?: boolean;
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
