/**
 * MsgMeta, Lotus `types.MsgMeta`: CBOR `[BlsMessages CID, SecpkMessages CID]`, the object a block
 * header's `messages` field names. Each field is the root of an AMT (array-mapped trie) whose
 * entries are the CIDs of the block's BLS-signed messages (stored unsigned) and of its
 * secp256k1-signed messages (stored signed), in block order.
 *
 * `computeMsgMeta` builds both AMT roots from the message CIDs as Lotus's `computeMsgMeta` does
 * (AMT v0, bit width 3: see src/ipld/amt.ts); `readAmtV0` reads them back.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import { amtV0Blocks } from "../../ipld/amt.ts";
import type { Block } from "../../ipld/block.ts";
import { type DecodeOptions, deserialize, readCid, readTuple, serialize } from "./_cbor.ts";
import { cidOfBytes } from "./cid.ts";

/** The pair of message AMT roots a block commits to. */
export interface MsgMeta {
  /** AMT root of the CIDs of the block's BLS messages (unsigned). */
  readonly blsMessages: CID;
  /** AMT root of the CIDs of the block's secp256k1 (signed) messages. */
  readonly secpkMessages: CID;
}

/** CBOR tuple form of a MsgMeta. */
export type MsgMetaTuple = [blsMessages: CID, secpkMessages: CID];

/** The tuple form of `meta`. */
export function encodeMsgMeta(meta: MsgMeta): MsgMetaTuple {
  return [meta.blsMessages, meta.secpkMessages];
}

/** Read a decoded CBOR value as a MsgMeta; throws InvalidChainDataError. */
export function decodeMsgMeta(value: unknown, what = "msg meta"): MsgMeta {
  const [bls, secpk] = readTuple(value, what, 2);
  return {
    blsMessages: readCid(bls, `${what}.BlsMessages`),
    secpkMessages: readCid(secpk, `${what}.SecpkMessages`),
  };
}

/** The MsgMeta's canonical bytes. */
export function serializeMsgMeta(meta: MsgMeta): Uint8Array {
  return serialize(encodeMsgMeta(meta));
}

/** Decode a MsgMeta from peer bytes: strict, bounded, canonical. */
export function deserializeMsgMeta(bytes: Uint8Array, options?: DecodeOptions): MsgMeta {
  return deserialize(bytes, "msg meta", (v) => decodeMsgMeta(v), encodeMsgMeta, options);
}

/** The MsgMeta's CID: what a header's `messages` field must equal. */
export function msgMetaCid(meta: MsgMeta): CID {
  return cidOfBytes(serializeMsgMeta(meta));
}

/** What `computeMsgMeta` gives: the MsgMeta, its CID and every block that holds them. */
export interface ComputedMsgMeta {
  readonly meta: MsgMeta;
  /** The CID a header's `messages` field must equal. */
  readonly cid: CID;
  /** Both AMTs' blocks and the MsgMeta block, each CID once; the caller stores them. */
  readonly blocks: Block[];
}

/**
 * The MsgMeta of a block carrying these messages, as Lotus's `computeMsgMeta`: an AMT v0 of the
 * BLS messages' (unsigned) CIDs and one of the secp256k1 messages' (signed) CIDs, in block
 * order. Pure, so a miner or a validator can batch the writes with its other blocks.
 *
 * @example
 * ```ts
 * import { computeMsgMeta } from "./msg_meta.ts";
 * const { cid } = computeMsgMeta([], []);
 * if (cid.toString() !== "bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba") {
 *   throw new Error("not the MsgMeta of a block without messages");
 * }
 * ```
 */
export function computeMsgMeta(
  blsMessageCids: readonly CID[],
  secpkMessageCids: readonly CID[],
): ComputedMsgMeta {
  const bls = amtV0Blocks(blsMessageCids);
  const secpk = amtV0Blocks(secpkMessageCids);
  const meta: MsgMeta = { blsMessages: bls.root, secpkMessages: secpk.root };
  const bytes = serializeMsgMeta(meta);
  const cid = cidOfBytes(bytes);
  const blocks = new Map<string, Block>();
  for (const block of [...bls.blocks, ...secpk.blocks, { cid, bytes }]) {
    blocks.set(block.cid.toString(), block);
  }
  return { meta, cid, blocks: [...blocks.values()] };
}
