/**
 * `MessageStore`: a block's messages in the IpldStore, as Filecoin stores them: each message a
 * block of its own, two AMTs (v0) of their CIDs (BLS messages, signed secp256k1 messages), and a
 * MsgMeta naming both AMTs, whose CID is the header's message root. The chain store keeps headers
 * and the chain's mutable records; this file is how it reads and writes what a block carries.
 *
 * @module
 */
import { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError } from "../errors.ts";
import { MissingAmtNodeError, readAmtV0 } from "../ipld/amt.ts";
import type { Block } from "../ipld/block.ts";
import { BlockNotFoundError, type IpldStore } from "../ipld/ipld_store.ts";
import { BLOCK_MESSAGE_LIMIT, type BlockMessageLists } from "./block_messages.ts";
import { EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK } from "./empty_msg_meta.ts";
import {
  type BlockHeader,
  computeMsgMeta,
  deserializeMessage,
  deserializeMsgMeta,
  deserializeSignedMessage,
  InvalidChainDataError,
  type Message,
  messageCid,
  serializeMessage,
  serializeSignedMessage,
  type SignedMessage,
  signedMessageCid,
} from "./types/mod.ts";

/** Reads blocks' messages back from an IpldStore; see the module doc for the layout. */
export class MessageStore {
  readonly #ipld: IpldStore;

  constructor(ipld: IpldStore) {
    this.#ipld = ipld;
  }

  /**
   * A block's messages, or undefined when they are not stored or cannot be read yet (headers
   * synced before their messages). @throws CorruptRecordError for a message list that is not one.
   */
  async get(
    header: BlockHeader,
    options: AbortOptions = {},
  ): Promise<BlockMessageLists | undefined> {
    if (header.messages.equals(EMPTY_MSG_META_BLOCK.cid)) return { bls: [], secpk: [] };
    let bytes: Uint8Array;
    try {
      bytes = await this.#ipld.get(header.messages, options);
    } catch (err) {
      if (err instanceof BlockNotFoundError) return undefined;
      throw err;
    }
    const meta = deserializeMsgMeta(bytes);
    if (
      meta.blsMessages.equals(EMPTY_AMT_BLOCK.cid) && meta.secpkMessages.equals(meta.blsMessages)
    ) {
      return { bls: [], secpk: [] };
    }
    try {
      const [blsCids, secpkCids] = await Promise.all([
        readAmtV0(this.#ipld, meta.blsMessages, { maxCount: BLOCK_MESSAGE_LIMIT, ...options }),
        readAmtV0(this.#ipld, meta.secpkMessages, { maxCount: BLOCK_MESSAGE_LIMIT, ...options }),
      ]);
      // Batched reads (getMany groups them): one await per message was most of serving time.
      const bls: Message[] = [];
      for await (const block of this.#ipld.getMany(blsCids.map(asCid), options)) {
        bls.push(deserializeMessage(block.bytes));
      }
      const secpk: SignedMessage[] = [];
      for await (const block of this.#ipld.getMany(secpkCids.map(asCid), options)) {
        secpk.push(deserializeSignedMessage(block.bytes));
      }
      return { bls, secpk };
    } catch (err) {
      // Headers synced without their messages yet: not an error, just not here.
      if (err instanceof MissingAmtNodeError || err instanceof BlockNotFoundError) return undefined;
      throw err;
    }
  }
}

/**
 * The IPLD blocks that store `msgs` as the messages of block `blockCid` (whose header is
 * `header`): each message, then the MsgMeta and AMT nodes, checked against the header's message
 * root. None for a message-less block naming the empty MsgMeta (those two blocks go with its
 * header).
 *
 * @throws InvalidChainDataError when the messages are not the ones the header commits to.
 */
export function messageBlocks(
  header: BlockHeader,
  blockCid: CID,
  msgs: BlockMessageLists,
): Block[] {
  const emptyRoot = header.messages.equals(EMPTY_MSG_META_BLOCK.cid);
  const none = msgs.bls.length === 0 && msgs.secpk.length === 0;
  if (!none && emptyRoot) {
    throw new InvalidChainDataError(`block ${blockCid} has no messages, but some given`);
  }
  // A message-less block naming the empty MsgMeta: nothing to compute on the sync hot path
  // (its MsgMeta and AMT go with the header).
  if (none && emptyRoot) return [];
  const blocks: Block[] = [];
  for (const m of msgs.bls) blocks.push({ cid: messageCid(m), bytes: serializeMessage(m) });
  for (const m of msgs.secpk) {
    blocks.push({ cid: signedMessageCid(m), bytes: serializeSignedMessage(m) });
  }
  // The message lists must be the ones the header commits to: a store that served other
  // messages under this header would feed peers (and our own state) a lie.
  const computed = computeMsgMeta(
    msgs.bls.map((m) => messageCid(m)),
    msgs.secpk.map((m) => signedMessageCid(m)),
  );
  if (!computed.cid.equals(header.messages)) {
    throw new InvalidChainDataError(
      `messages given for block ${blockCid} do not match its message root`,
    );
  }
  blocks.push(...computed.blocks);
  return blocks;
}

/** An AMT entry of a message list: a CID, or the list is corrupt. */
function asCid(value: unknown): CID {
  const cid = CID.asCID(value);
  if (!cid) throw new CorruptRecordError("a message list entry is not a CID");
  return cid;
}
