/**
 * The two objects every block without messages points at: the empty AMT v0 root and the MsgMeta
 * over two empty AMTs. Genesis and message-less blocks need these blocks stored, and the chain
 * store recognises them so it can answer "no messages" without an AMT reader.
 *
 * Why constants: both CIDs are fixed by the protocol. The MsgMeta CID is what Lotus and Forest put
 * in the `Messages` field of every mainnet block without messages (Forest `empty_msg_meta_vector`),
 * and `tests/chain_types_tipset_test.ts` checks it.
 *
 * @module
 */
import type { Block } from "../ipld/block.ts";
import { cidOfBytes } from "./types/cid.ts";
import { serialize } from "./types/_cbor.ts";
import { serializeMsgMeta } from "./types/msg_meta.ts";

/** An empty AMT v0 root: `[height 0, count 0, node [bitmap 0x00, no links, no values]]`. */
export const EMPTY_AMT_BLOCK: Block = blockOf(serialize([0, 0, [new Uint8Array([0]), [], []]]));

/** MsgMeta `[empty AMT, empty AMT]`: the `Messages` field of a block without messages. */
export const EMPTY_MSG_META_BLOCK: Block = blockOf(
  serializeMsgMeta({ blsMessages: EMPTY_AMT_BLOCK.cid, secpkMessages: EMPTY_AMT_BLOCK.cid }),
);

/** Known value of `EMPTY_MSG_META_BLOCK.cid`, checked at load so a codec change cannot drift. */
export const EMPTY_MSG_META_CID = "bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba";

if (EMPTY_MSG_META_BLOCK.cid.toString() !== EMPTY_MSG_META_CID) {
  throw new Error(`empty MsgMeta CID drifted: ${EMPTY_MSG_META_BLOCK.cid}`);
}

function blockOf(bytes: Uint8Array): Block {
  return { cid: cidOfBytes(bytes), bytes };
}
