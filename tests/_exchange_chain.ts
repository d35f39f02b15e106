/**
 * Test chains for chain exchange: headers that link and sort like real ones (distinct tickets,
 * 1-3 blocks per tipset) and commit to their messages ({@link exchangeMessagesOf}) through their
 * message roots, but are not signed or valid beyond that: exchange checks linkage and roots.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import { Address } from "../src/crypto/address.ts";
import { SigType } from "../src/crypto/signature.ts";
import { cidOf } from "../src/chain/types/cid.ts";
import {
  type BlockHeader,
  computeMsgMeta,
  type Message,
  messageCid,
  type SignedMessage,
  signedMessageCid,
  TipSet,
} from "../src/chain/types/mod.ts";

/** Stands in for every state root and receipts root. */
export const ANY_CID: CID = cidOf("any");

/** A header at `height` on `parents`; `i` and `salt` make its ticket distinct. */
export function exchangeHeader(
  parents: readonly CID[],
  height: number,
  i: number,
  salt = "",
): BlockHeader {
  const messages = exchangeBlockMessages(height, i);
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
    messages: computeMsgMeta(
      messages.bls.map((m) => messageCid(m)),
      messages.secpk.map((m) => signedMessageCid(m)),
    ).cid,
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

/** Messages of block `i` at `height`: one shared by every block of the tipset, one its own. */
function exchangeBlockMessages(
  height: number,
  i: number,
): { bls: Message[]; secpk: SignedMessage[] } {
  const secp: SignedMessage = {
    message: exchangeMessage(1_000_000 + height * 10 + i),
    signature: { type: SigType.SECP256K1, data: new Uint8Array(65).fill(i + 1) },
  };
  return {
    bls: [exchangeMessage(height * 100), exchangeMessage(height * 100 + 1 + i)],
    secpk: [secp],
  };
}

/** The messages `header` (made by {@link exchangeHeader}) commits to. */
export function exchangeMessagesOf(header: BlockHeader): {
  bls: Message[];
  secpk: SignedMessage[];
} {
  // The miner ID is 1000 + the index the header was made with (tipsets reorder blocks).
  return exchangeBlockMessages(header.height, Number(header.miner.id) - 1000);
}
