/**
 * Filecoin chain data types and their CBOR codecs, byte-compatible with Lotus and Forest.
 *
 * Every type has `encodeX` / `decodeX` between the typed value and its CBOR tuple form (the
 * dag-cbor data model: arrays, byte strings, integers, CIDs), and the top-level ones have
 * `serializeX` / `deserializeX` to and from bytes plus a CID helper. `deserializeX` is what to
 * call on peer bytes: it caps the input size before parsing, decodes strictly, bounds every list
 * and field, and refuses bytes that would not re-encode identically, throwing only
 * InvalidChainDataError.
 *
 * @example
 * ```ts
 * import { Address } from "../../crypto/address.ts";
 * import { deserializeMessage, messageCid, serializeMessage } from "./mod.ts";
 * const message = {
 *   version: 0,
 *   to: Address.fromId(4),
 *   from: Address.fromId(0),
 *   nonce: 34n,
 *   value: 0n,
 *   gasLimit: 123n,
 *   gasFeeCap: 234n,
 *   gasPremium: 234n,
 *   method: 6n,
 *   params: new TextEncoder().encode("hai"),
 * };
 * const bytes = serializeMessage(message);
 * if (deserializeMessage(bytes).nonce !== 34n) throw new Error("round trip failed");
 * // Lotus chain/types/message_test.go TestMessageJson names this message so:
 * const want = "bafy2bzaced5rdpz57e64sc7mdwjn3blicglhpialnrph2dlbufhf6iha63dmc";
 * if (messageCid(message).toString() !== want) throw new Error("CID differs from Lotus");
 * ```
 *
 * @module
 */
export {
  type DecodeOptions,
  DEFAULT_MAX_BYTES,
  MAX_ADDRESS_BYTES,
  MAX_LIST_LENGTH,
} from "./_cbor.ts";
export { InvalidChainDataError, InvalidTipSetError } from "./errors.ts";
export { cidOf, cidOfBytes } from "./cid.ts";
export * from "./ticket.ts";
export * from "./election_proof.ts";
export * from "./beacon_entry.ts";
export * from "./post_proof.ts";
export * from "./block_header.ts";
export * from "./message.ts";
export * from "./signed_message.ts";
export * from "./tipset_key.ts";
export * from "./tipset.ts";
export * from "./msg_meta.ts";
export * from "./block_msg.ts";
