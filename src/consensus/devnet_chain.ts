/**
 * Grows a valid devnet chain on a chain store's head without running a miner: what sync tests and
 * benches use to make 10,000-tipset chains in seconds. Deterministic: the same store head,
 * options and devnet miners give the same blocks, so separate roots grown alike serve one chain.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import type { Consensus } from "./consensus.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import type { ChainStore } from "../chain/chain_store.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import { type MadeTipSet, makeDevnetTipSet, signDevnetTransfer } from "./devnet_block_maker.ts";
import { type DevnetMiner, devnetMinerFromSeed } from "../crypto/devnet_key.ts";
import { TipSet } from "../chain/types/mod.ts";

/** Tipsets stored per head move: bounds memory and what a crash can lose. */
const HEAD_EVERY = 500;

export interface GrowOptions extends AbortOptions {
  readonly count: number;
  /** Miners taking turns, `blocksPerTipSet` of them per tipset. */
  readonly miners: readonly DevnetMiner[];
  readonly blocksPerTipSet?: number;
  readonly blockDelay: number;
  readonly consensus: Consensus;
  /** Makes a fork differ from the main chain grown on the same head. */
  readonly salt?: string;
  /**
   * Signed secp256k1 transfers per block (default none), from one devnet account, nonces
   * counting up from the grown chain's first height: real chains carry messages, and syncing
   * them (fetch, signature checks, message roots) is most of a sync's work.
   */
  readonly messagesPerBlock?: number;
  /**
   * Test only: at this height, store a block its miner did not sign (and build on it), to make
   * a chain honest nodes must refuse. The head moves onto it regardless.
   */
  readonly corruptAt?: number;
}

/** Grows `count` tipsets on the store's head and moves the head to the last. Returns it. */
export async function growDevnetChain(
  store: ChainStore,
  ipld: IpldStore,
  options: GrowOptions,
): Promise<MadeTipSet> {
  let parent = store.heaviest;
  let weight = store.weight;
  const per = options.blocksPerTipSet ?? 1;
  let last: MadeTipSet | undefined;
  for (let i = 0; i < options.count; i++) {
    options.signal?.throwIfAborted();
    const miners = Array.from(
      { length: per },
      (_, j) => options.miners[(parent.height + j) % options.miners.length],
    );
    let made = makeDevnetTipSet(parent, weight, {
      miners,
      blockDelay: options.blockDelay,
      consensus: options.consensus,
      salt: options.salt,
      messages: devnetMessages(parent.height + 1, per, options.messagesPerBlock ?? 0),
    });
    if (made.tipset.height === options.corruptAt) made = corrupt(made);
    await ipld.putMany(made.blocks, options);
    await store.putTipSet(made.tipset, made.messages, options);
    parent = made.tipset;
    weight = made.weight;
    last = made;
    if ((i + 1) % HEAD_EVERY === 0 || i === options.count - 1) {
      await store.setHead(parent, weight, options);
    }
  }
  if (!last) throw new RangeError("count must be at least 1");
  return last;
}

/** The account devnet chains' transfers come from. */
const DEVNET_SENDER = devnetMinerFromSeed("devnet chain sender");

/** `perBlock` distinct transfers for each of `blocks` blocks at `height`. */
function devnetMessages(height: number, blocks: number, perBlock: number): BlockMessageLists[] {
  return Array.from({ length: blocks }, (_, b) => ({
    bls: [],
    secpk: Array.from(
      { length: perBlock },
      (_, i) => signDevnetTransfer(DEVNET_SENDER, (height * blocks + b) * perBlock + i),
    ),
  }));
}

/** The same tipset with its first block's signature damaged. */
function corrupt(made: MadeTipSet): MadeTipSet {
  const [first, ...rest] = made.tipset.blocks;
  const data = first.blockSig!.data.slice();
  data[5] ^= 0xff;
  const tipset = TipSet.fromBlocks([{ ...first, blockSig: { ...first.blockSig!, data } }, ...rest]);
  // Blocks sort by ticket first, and the tickets are unchanged: the message lists still line up.
  return { ...made, tipset };
}
