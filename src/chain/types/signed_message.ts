/**
 * SignedMessage, Lotus `types.SignedMessage`: CBOR `[Message, Signature]`, the signature over the
 * unsigned message's CID bytes.
 *
 * Its CID follows Lotus `SignedMessage.Cid()`: a BLS-signed message is named by the unsigned
 * message's CID (BLS signatures are aggregated into the block header and the message is stored
 * unsigned), any other by the CID of the signed encoding.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import { type Signature, SigType } from "../signature.ts";
import {
  type DecodeOptions,
  deserialize,
  readSignature,
  readTuple,
  serialize,
  signatureBytes,
} from "./_cbor.ts";
import { cidOfBytes } from "./cid.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  messageCid,
  type MessageTuple,
} from "./message.ts";

/** A message with its sender's signature. */
export interface SignedMessage {
  readonly message: Message;
  readonly signature: Signature;
}

/** CBOR tuple form of a SignedMessage. */
export type SignedMessageTuple = [message: MessageTuple, signature: Uint8Array];

/** The tuple form of `signed`. */
export function encodeSignedMessage(signed: SignedMessage): SignedMessageTuple {
  return [
    encodeMessage(signed.message),
    signatureBytes(signed.signature, "signed message.Signature"),
  ];
}

/** Read a decoded CBOR value as a SignedMessage; throws InvalidChainDataError. */
export function decodeSignedMessage(
  value: unknown,
  options: Pick<DecodeOptions, "network"> = {},
  what = "signed message",
): SignedMessage {
  const [message, signature] = readTuple(value, what, 2);
  return {
    message: decodeMessage(message, options, `${what}.Message`),
    signature: readSignature(signature, `${what}.Signature`),
  };
}

/** The signed message's canonical bytes. */
export function serializeSignedMessage(signed: SignedMessage): Uint8Array {
  return serialize(encodeSignedMessage(signed));
}

/** Decode a signed message from peer bytes: strict, bounded, canonical. */
export function deserializeSignedMessage(
  bytes: Uint8Array,
  options?: DecodeOptions,
): SignedMessage {
  return deserialize(
    bytes,
    "signed message",
    (v) => decodeSignedMessage(v, options),
    encodeSignedMessage,
    options,
  );
}

/** The CID Lotus names this signed message by (see the module comment). */
export function signedMessageCid(signed: SignedMessage): CID {
  if (signed.signature.type === SigType.BLS) return messageCid(signed.message);
  return cidOfBytes(serializeSignedMessage(signed));
}
