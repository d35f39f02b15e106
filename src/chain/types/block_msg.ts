/**
 * BlockMsg, Lotus `types.BlockMsg`: what a miner gossips on `/fil/blocks/<network>`, CBOR
 * `[Header, BlsMessages []CID, SecpkMessages []CID]`. The message lists let receivers rebuild the
 * block's MsgMeta from messages they already hold instead of fetching it.
 *
 * Unlike Lotus, a null header is refused: Lotus's decoder lets `[null, [], []]` through, but a
 * block message without a block is useless to every consumer, so it fails here, once.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import {
  type DecodeOptions,
  deserialize,
  fail,
  readCid,
  readList,
  readTuple,
  serialize,
} from "./_cbor.ts";
import {
  type BlockHeader,
  type BlockHeaderTuple,
  decodeBlockHeader,
  encodeBlockHeader,
} from "./block_header.ts";

/** A gossiped block: its header and the CIDs of its messages. */
export interface BlockMsg {
  readonly header: BlockHeader;
  /** CIDs of the BLS messages (unsigned message CIDs), in block order. */
  readonly blsMessages: readonly CID[];
  /** CIDs of the secp256k1 messages (signed message CIDs), in block order. */
  readonly secpkMessages: readonly CID[];
}

/** CBOR tuple form of a BlockMsg. */
export type BlockMsgTuple = [header: BlockHeaderTuple, blsMessages: CID[], secpkMessages: CID[]];

/** The tuple form of `msg`. */
export function encodeBlockMsg(msg: BlockMsg): BlockMsgTuple {
  return [encodeBlockHeader(msg.header), [...msg.blsMessages], [...msg.secpkMessages]];
}

/** Read a decoded CBOR value as a BlockMsg; throws InvalidChainDataError. */
export function decodeBlockMsg(
  value: unknown,
  options: Pick<DecodeOptions, "network"> = {},
): BlockMsg {
  const w = "block msg";
  const [header, bls, secpk] = readTuple(value, w, 3);
  if (header === null) fail(`${w}.Header`, "must not be null");
  return {
    header: decodeBlockHeader(header, options),
    blsMessages: readList(bls, `${w}.BlsMessages`).map((v, i) =>
      readCid(v, `${w}.BlsMessages[${i}]`)
    ),
    secpkMessages: readList(secpk, `${w}.SecpkMessages`).map((v, i) =>
      readCid(v, `${w}.SecpkMessages[${i}]`)
    ),
  };
}

/** The BlockMsg's canonical bytes (Lotus `BlockMsg.Serialize`). */
export function serializeBlockMsg(msg: BlockMsg): Uint8Array {
  return serialize(encodeBlockMsg(msg));
}

/** Decode a gossiped BlockMsg: strict, bounded, canonical (Lotus `DecodeBlockMsg`). */
export function deserializeBlockMsg(bytes: Uint8Array, options?: DecodeOptions): BlockMsg {
  return deserialize(
    bytes,
    "block msg",
    (v) => decodeBlockMsg(v, options),
    encodeBlockMsg,
    options,
  );
}
