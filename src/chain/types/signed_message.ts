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
import { type Signature, SIGNATURE_MAX_LENGTH, SigType } from "../../crypto/signature.ts";
import {
  type DecodeOptions,
  readSignature,
  readTuple,
  serialize,
  signatureBytes,
} from "./_cbor.ts";
import { deserializeCanonical } from "./canonical_cbor_reader.ts";
import { cidOfBytes } from "./cid.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  messageCid,
  type MessageTuple,
  readMessage,
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

/** A signed message decoded from peer bytes, with the unsigned message's own encoding. */
export interface ReceivedSignedMessage {
  readonly signed: SignedMessage;
  /**
   * The unsigned message's bytes inside the input (a view, not a copy). The input is canonical,
   * so these are exactly `serializeMessage(signed.message)`: the message CID is their hash.
   */
  readonly messageBytes: Uint8Array;
}

/** Decode a signed message from peer bytes: strict, bounded, canonical. */
export function deserializeSignedMessage(
  bytes: Uint8Array,
  options?: DecodeOptions,
): SignedMessage {
  return deserializeReceivedSignedMessage(bytes, options).signed;
}

/**
 * `deserializeSignedMessage`, also handing back the unsigned message's bytes, so a validator
 * names the message (and checks its signature) without encoding it again.
 */
export function deserializeReceivedSignedMessage(
  bytes: Uint8Array,
  options?: DecodeOptions,
): ReceivedSignedMessage {
  const what = "signed message";
  return deserializeCanonical(bytes, what, (reader) => {
    reader.tuple(what, 2);
    const start = reader.position;
    const message = readMessage(reader, options, `${what}.Message`);
    const messageBytes = reader.between(start, reader.position);
    const signature = readSignature(
      reader.bytes(`${what}.Signature`, SIGNATURE_MAX_LENGTH),
      `${what}.Signature`,
    );
    return { signed: { message, signature }, messageBytes };
  }, options);
}

/** The CID Lotus names this signed message by (see the module comment). */
export function signedMessageCid(signed: SignedMessage): CID {
  if (signed.signature.type === SigType.BLS) return messageCid(signed.message);
  return cidOfBytes(serializeSignedMessage(signed));
}
