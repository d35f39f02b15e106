/**
 * Message, Lotus `types.Message`: an unsigned call from one actor to another, CBOR a 10-field
 * tuple `[Version, To, From, Nonce, Value, GasLimit, GasFeeCap, GasPremium, Method, Params]`.
 * Its CID (dag-cbor, blake2b-256) is what a secp256k1 or BLS key signs.
 *
 * The 64-bit integers are bigints: the protocol uses their full range (published Lotus vectors
 * carry nonces, gas limits and method numbers above 2^53), and a number would round them.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { Address } from "../../crypto/address.ts";
import {
  bigIntBytes,
  checkInt64,
  checkSafeUint,
  checkUint64,
  type DecodeOptions,
  DEFAULT_MAX_BYTES,
  MAX_ADDRESS_BYTES,
  readAddress,
  readBigInt,
  readBytes,
  readInt64,
  readSafeUint,
  readTuple,
  readUint64,
  serialize,
} from "./_cbor.ts";
import { type CanonicalCborReader, deserializeCanonical } from "./canonical_cbor_reader.ts";
import { cidOfBytes } from "./cid.ts";
import { MAX_BIG_INT_BYTES } from "../big_int.ts";

/** Fields in a message tuple. */
export const MESSAGE_FIELDS = 10;

/** The only message version Lotus accepts into blocks (`MessageVersion`). */
export const MESSAGE_VERSION = 0;

/** An unsigned message. */
export interface Message {
  /** Message format version (uint64 in Lotus; must be 0 to be included in a block). */
  readonly version: number;
  readonly to: Address;
  readonly from: Address;
  /** Sender's sequence number (uint64). */
  readonly nonce: bigint;
  /** attoFIL transferred (BigInt). */
  readonly value: bigint;
  /** Gas units the sender allows (int64). */
  readonly gasLimit: bigint;
  /** Most attoFIL per gas unit the sender pays (BigInt). */
  readonly gasFeeCap: bigint;
  /** attoFIL per gas unit offered to the miner (BigInt). */
  readonly gasPremium: bigint;
  /** Method number on the receiving actor (uint64; 0 is a plain send). */
  readonly method: bigint;
  /** CBOR-encoded method parameters; empty for none. */
  readonly params: Uint8Array;
}

/** CBOR tuple form of a Message. */
export type MessageTuple = [
  version: number,
  to: Uint8Array,
  from: Uint8Array,
  nonce: bigint,
  value: Uint8Array,
  gasLimit: bigint,
  gasFeeCap: Uint8Array,
  gasPremium: Uint8Array,
  method: bigint,
  params: Uint8Array,
];

/** The tuple form of `message`; throws InvalidChainDataError for out-of-range fields. */
export function encodeMessage(message: Message): MessageTuple {
  const w = "message";
  return [
    checkSafeUint(message.version, `${w}.Version`),
    message.to.bytes,
    message.from.bytes,
    checkUint64(message.nonce, `${w}.Nonce`),
    bigIntBytes(message.value, `${w}.Value`),
    checkInt64(message.gasLimit, `${w}.GasLimit`),
    bigIntBytes(message.gasFeeCap, `${w}.GasFeeCap`),
    bigIntBytes(message.gasPremium, `${w}.GasPremium`),
    checkUint64(message.method, `${w}.Method`),
    message.params,
  ];
}

/** Read a decoded CBOR value as a Message; throws InvalidChainDataError naming the field. */
export function decodeMessage(
  value: unknown,
  options: Pick<DecodeOptions, "network"> = {},
  what = "message",
): Message {
  const f = readTuple(value, what, MESSAGE_FIELDS);
  return {
    version: readSafeUint(f[0], `${what}.Version`),
    to: readAddress(f[1], `${what}.To`, options.network),
    from: readAddress(f[2], `${what}.From`, options.network),
    nonce: readUint64(f[3], `${what}.Nonce`),
    value: readBigInt(f[4], `${what}.Value`),
    gasLimit: readInt64(f[5], `${what}.GasLimit`),
    gasFeeCap: readBigInt(f[6], `${what}.GasFeeCap`),
    gasPremium: readBigInt(f[7], `${what}.GasPremium`),
    method: readUint64(f[8], `${what}.Method`),
    params: readBytes(f[9], `${what}.Params`),
  };
}

/**
 * Read a Message at the reader's position: the same checks as `decodeMessage`, on canonical
 * bytes only (see `CanonicalCborReader`).
 */
export function readMessage(
  reader: CanonicalCborReader,
  options: Pick<DecodeOptions, "network"> = {},
  what = "message",
): Message {
  reader.tuple(what, MESSAGE_FIELDS);
  // Property values are evaluated in source order: the fields are read in tuple order.
  return {
    version: reader.safeUint(`${what}.Version`),
    to: readAddress(reader.bytes(`${what}.To`, MAX_ADDRESS_BYTES), `${what}.To`, options.network),
    from: readAddress(
      reader.bytes(`${what}.From`, MAX_ADDRESS_BYTES),
      `${what}.From`,
      options.network,
    ),
    nonce: reader.uint64(`${what}.Nonce`),
    value: readBigInt(reader.bytes(`${what}.Value`, MAX_BIG_INT_BYTES), `${what}.Value`),
    gasLimit: reader.int64(`${what}.GasLimit`),
    gasFeeCap: readBigInt(
      reader.bytes(`${what}.GasFeeCap`, MAX_BIG_INT_BYTES),
      `${what}.GasFeeCap`,
    ),
    gasPremium: readBigInt(
      reader.bytes(`${what}.GasPremium`, MAX_BIG_INT_BYTES),
      `${what}.GasPremium`,
    ),
    method: reader.uint64(`${what}.Method`),
    // A copy: the message outlives the buffer it came in (a gossip frame, a KV read).
    params: reader.bytes(`${what}.Params`, DEFAULT_MAX_BYTES).slice(),
  };
}

/** The message's canonical bytes. */
export function serializeMessage(message: Message): Uint8Array {
  return serialize(encodeMessage(message));
}

/** Decode a message from peer bytes: strict, bounded, canonical. Throws InvalidChainDataError. */
export function deserializeMessage(bytes: Uint8Array, options?: DecodeOptions): Message {
  return deserializeCanonical(bytes, "message", (r) => readMessage(r, options), options);
}

/** The message's CID (Lotus `Message.Cid`); its bytes are what the sender signs. */
export function messageCid(message: Message): CID {
  return cidOfBytes(serializeMessage(message));
}
