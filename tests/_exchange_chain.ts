/**
 * Test chains for chain exchange: headers that link and sort like real ones (distinct tickets,
 * 1-3 blocks per tipset) but are not signed or valid beyond that; exchange only checks linkage.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import { Address } from "../src/chain/address.ts";
import { cidOf } from "../src/chain/types/cid.ts";
import { type BlockHeader, type Message, TipSet } from "../src/chain/types/mod.ts";

/** Stands in for every state root, receipts root and message root. */
export const ANY_CID: CID = cidOf("any");

/** A header at `height` on `parents`; `i` and `salt` make its ticket distinct. */
export function exchangeHeader(
  parents: readonly CID[],
  height: number,
  i: number,
  salt = "",
): BlockHeader {
  return {
    miner: Address.fromId(1000 + i),
    ticket: { vrfProof: new TextEncoder().encode(`ticket ${height} ${i} ${salt}`) },
    electionProof: height === 0 ? null : { winCount: 1, vrfProof: new Uint8Array(32).fill(i) },
    beaconEntries: [],
    winPoStProof: [],
    parents: [...parents],
    parentWeight: BigInt(height * 10),
    height,
    parentStateRoot: ANY_CID,
    parentMessageReceipts: ANY_CID,
    messages: ANY_CID,
    blsAggregate: null,
    timestamp: 1_700_000_000 + height * 30,
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: 100n,
  };
}

/** `count` tipsets from a genesis-like one (index 0) up, 1-3 blocks each. */
export function exchangeChain(count: number, salt = ""): TipSet[] {
  const out = [TipSet.fromBlocks([exchangeHeader([], 0, 0, salt)])];
  for (let h = 1; h < count; h++) {
    const parents = out[h - 1].cids;
    const blocks = Array.from(
      { length: 1 + (h % 3) },
      (_, i) => exchangeHeader(parents, h, i, salt),
    );
    out.push(TipSet.fromBlocks(blocks));
  }
  return out;
}

/** An unsigned message with nonce `nonce` (exchange only checks it decodes and where it goes). */
export function exchangeMessage(nonce: number): Message {
  return {
    version: 0,
    to: Address.fromId(200),
    from: Address.fromId(100),
    nonce: BigInt(nonce),
    value: 1n,
    gasLimit: 1000n,
    gasFeeCap: 10n,
    gasPremium: 1n,
    method: 0n,
    params: new Uint8Array(0),
  };
}
