/**
 * Test chains: a devnet genesis and tipsets built on it, with made-up tickets, so chain store,
 * API and CLI tests can grow forks and null rounds without a miner.
 *
 * @module
 */
import { Address } from "../src/crypto/address.ts";
import { EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK } from "../src/chain/empty_msg_meta.ts";
import { buildGenesis, type Genesis } from "../src/chain/genesis.ts";
import { type BlockHeader, TipSet } from "../src/chain/types/mod.ts";

export function testGenesis(networkName = "testnet"): Genesis {
  return buildGenesis({ networkName, timestamp: 1_700_000_000, blockDelay: 4 });
}

/**
 * A tipset of `blocks` blocks at `height` on `parent`; `salt` makes sibling forks differ. Its
 * parent weight is the parent's height times 10, so a tipset's own weight is `height * 10`.
 */
export function childOf(
  parent: TipSet,
  options: { height?: number; blocks?: number; salt?: string } = {},
): TipSet {
  const height = options.height ?? parent.height + 1;
  const headers: BlockHeader[] = [];
  for (let i = 0; i < (options.blocks ?? 1); i++) {
    headers.push({
      miner: Address.fromId(1000 + i),
      ticket: { vrfProof: new TextEncoder().encode(`ticket ${height} ${i} ${options.salt ?? ""}`) },
      electionProof: { winCount: 1, vrfProof: new Uint8Array(96).fill(i + 1) },
      beaconEntries: [],
      winPoStProof: [],
      parents: [...parent.cids],
      parentWeight: weightOf(parent),
      height,
      parentStateRoot: parent.blocks[0].parentStateRoot,
      parentMessageReceipts: EMPTY_AMT_BLOCK.cid,
      messages: EMPTY_MSG_META_BLOCK.cid,
      blsAggregate: null,
      timestamp: 1_700_000_000 + height * 4,
      blockSig: null,
      forkSignaling: 0,
      parentBaseFee: 100n,
    });
  }
  return TipSet.fromBlocks(headers);
}

/** The made-up weight of a test tipset. */
export function weightOf(tipset: TipSet): bigint {
  return BigInt(tipset.height) * 10n;
}

/** Tipsets on `base` at each of `heights` (ascending), each on the previous. */
export function chainOf(
  base: TipSet,
  heights: readonly number[],
  options: { salt?: string; blocks?: number } = {},
): TipSet[] {
  const out: TipSet[] = [];
  let parent = base;
  for (const height of heights) {
    parent = childOf(parent, { height, ...options });
    out.push(parent);
  }
  return out;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
