/**
 * The chain system's gossipsub validators for `/fil/blocks/<net>` and `/fil/msgs/<net>`: quick
 * verdicts before a message is forwarded, as Lotus's `BlockValidator` / `MessageValidator` do.
 *
 * - `reject` (the sender is penalised by gossipsub and by our reputation): bytes that do not
 *   decode as the topic's type, a block from a known-bad chain, over the message limit, message
 *   CID lists that are not what the header's message root commits to (Lotus `validateMsgMeta`),
 *   or not passing the consensus checks (miner, election, signature); a message whose
 *   key-address sender did not sign it, or one not in its canonical encoding (Lotus's cbor-gen
 *   refuses non-minimal heads and floats too; we refuse whatever would re-encode differently,
 *   as `deserializeSignedMessage` does for all peer bytes).
 * - `ignore` (dropped, no penalty): a block more than {@link MAX_FUTURE_EPOCHS} epochs ahead of
 *   the clock (Lotus: it may be valid later, but we will not hold it), or one we already have.
 * - `accept`: forwarded; a block becomes a sync target (the syncer fetches what it misses by
 *   chain exchange and validates fully before it touches the head).
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import type { GossipValidator } from "../net/gossip.ts";
import type { Clock } from "../clock/clock.ts";
import type { Consensus } from "../consensus/consensus.ts";
import { Protocol } from "../crypto/address.ts";
import { BLOCK_MESSAGE_LIMIT } from "../chain/block_messages.ts";
import { verifySignature } from "../crypto/signature.ts";
import type { SyncTarget } from "./syncer.ts";
import {
  type BlockHeader,
  blockHeaderCid,
  type BlockMsg,
  cidOfBytes,
  computeMsgMeta,
  decodeBlockMsg,
  deserializeReceivedSignedMessage,
  InvalidChainDataError,
  TipSet,
} from "../chain/types/mod.ts";

/** Lotus ignores gossip blocks this many epochs or more ahead of its clock. */
export const MAX_FUTURE_EPOCHS = 5;

export interface BlockGossipDeps {
  readonly clock: Clock;
  readonly consensus: Consensus;
  /** A block CID known bad (the syncer's cache). */
  readonly isBad: (cid: CID) => boolean;
  /** Whether the block is already stored (a duplicate is ignored). */
  readonly has: (cid: CID) => Promise<boolean>;
  /** Where accepted blocks go: the syncer's targets, carrying the block and its message CIDs. */
  readonly onBlock: (target: SyncTarget, header: BlockHeader) => void;
}

/** The blocks-topic validator. */
export function blockGossipValidator(deps: BlockGossipDeps): GossipValidator {
  return async (from, data) => {
    let msg: BlockMsg;
    let header: BlockHeader;
    let cid: CID;
    try {
      let decoded: unknown;
      try {
        decoded = dagCbor.decode(data);
      } catch {
        return { verdict: "reject", reason: "not DAG-CBOR" };
      }
      msg = decodeBlockMsg(decoded);
      header = msg.header;
      if (msg.blsMessages.length + msg.secpkMessages.length > BLOCK_MESSAGE_LIMIT) return "reject";
      // The CID lists travel beside the header: a relayer could swap them. Checked here, they
      // are the block's own, and fetching messages by them cannot wrong the block.
      if (!computeMsgMeta(msg.blsMessages, msg.secpkMessages).cid.equals(header.messages)) {
        return "reject";
      }
      cid = blockHeaderCid(header);
    } catch (err) {
      if (err instanceof InvalidChainDataError || err instanceof RangeError) {
        return { verdict: "reject", reason: err.message };
      }
      throw err;
    }
    if (deps.isBad(cid) || header.parents.some((p) => deps.isBad(p))) return "reject";
    if (header.height >= deps.clock.currentEpoch() + MAX_FUTURE_EPOCHS) return "ignore";
    if (await deps.has(cid)) return "ignore";
    try {
      await deps.consensus.precheckGossipBlock(header);
    } catch {
      return "reject";
    }
    const tipset = TipSet.fromBlocks([header]);
    deps.onBlock({
      peerId: from,
      cids: tipset.cids,
      height: header.height,
      weight: deps.consensus.weight(tipset, header.parentWeight),
      block: msg,
      prechecked: true,
    }, header);
    return "accept";
  };
}

/**
 * The messages-topic validator: decodes and checks what can be checked without state. It runs on
 * every message the node hears, first copies on the path to every peer, so it decodes in one
 * pass (`deserializeReceivedSignedMessage`) and names the message by hashing the bytes it came
 * in, which that decoder guarantees are canonical, instead of encoding it again.
 */
export function messageGossipValidator(): GossipValidator {
  return (_from, data) => {
    try {
      const { signed, messageBytes } = deserializeReceivedSignedMessage(data);
      if (signed.message.from.protocol === Protocol.SECP256K1) {
        const ok = verifySignature(
          signed.signature,
          cidOfBytes(messageBytes).bytes,
          signed.message.from,
        );
        if (!ok) return { verdict: "reject", reason: "not signed by its sender" };
      }
      return "accept";
    } catch (err) {
      if (err instanceof InvalidChainDataError || err instanceof RangeError) {
        return { verdict: "reject", reason: err.message };
      }
      // BLS verification is not implemented yet: forward without judging rather than reject.
      return { verdict: "ignore", reason: (err as Error).message };
    }
  };
}
