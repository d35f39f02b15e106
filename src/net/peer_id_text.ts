/**
 * libp2p peer IDs as text: the one parser the ban list, the peer book, the control API and the
 * CLI share, so that a peer written in any accepted form is the same peer everywhere.
 *
 * Accepted: the legacy base58btc multihash form (`12D3KooW…` identity-hashed keys, `Qm…`
 * sha2-256) and a CIDv1 with the libp2p-key codec (`bafz…`); the canonical form is base58btc,
 * which is what js-libp2p's `peerId.toString()` gives and what the connection gater looks up.
 *
 * @module
 */
import { base58btc } from "multiformats/bases/base58";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";

/** Longest peer ID text accepted: identity-hashed secp256k1 keys are 53 characters. */
const MAX_PEER_ID_CHARS = 128;
const LIBP2P_KEY_CODEC = 0x72;
const IDENTITY_CODE = 0x00;
const SHA2_256_CODE = 0x12;
/** libp2p inlines public keys of up to 42 bytes in the peer ID (identity multihash). */
const MAX_INLINE_KEY_LENGTH = 42;

/** A libp2p peer ID in its canonical base58btc text form (`12D3KooW...`, `Qm...`). */
export type PeerId = string;

/**
 * Text that is not a peer ID. A `RangeError` (the API maps a param decoder's throw to -32602,
 * the CLI wraps it in a usage error), named so callers can tell it from other failures.
 */
export class PeerIdError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "PeerIdError";
  }
}

/**
 * Checks a peer ID and returns its canonical base58btc form. Accepts the legacy base58btc
 * multihash form (`12D3KooW...` identity-hashed keys, `Qm...` sha2-256) and a CIDv1 with the
 * libp2p-key codec (`bafz...`).
 *
 * @throws {PeerIdError} saying what is wrong.
 */
export function parsePeerId(text: string): PeerId {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_PEER_ID_CHARS) {
    throw new PeerIdError("not a peer ID");
  }
  let multihash: Uint8Array;
  if (text.startsWith("1") || text.startsWith("Q")) {
    try {
      multihash = base58btc.baseDecode(text);
    } catch {
      throw new PeerIdError(`not a peer ID: ${JSON.stringify(text)} is not base58btc`);
    }
  } else {
    let cid: CID;
    try {
      cid = CID.parse(text);
    } catch {
      throw new PeerIdError(`not a peer ID: ${JSON.stringify(text)}`);
    }
    if (cid.version !== 1 || cid.code !== LIBP2P_KEY_CODEC) {
      throw new PeerIdError("not a peer ID: a CID must have the libp2p-key codec");
    }
    multihash = cid.multihash.bytes;
  }
  let digest: Digest.Digest<number, number>;
  try {
    digest = Digest.decode(multihash);
  } catch {
    throw new PeerIdError(`not a peer ID: ${JSON.stringify(text)} is not a multihash`);
  }
  const ok = (digest.code === IDENTITY_CODE && digest.size > 0 &&
    digest.size <= MAX_INLINE_KEY_LENGTH) ||
    (digest.code === SHA2_256_CODE && digest.size === 32);
  if (!ok) throw new PeerIdError(`not a peer ID: ${JSON.stringify(text)} has the wrong hash`);
  return base58btc.baseEncode(digest.bytes);
}

/** True when `text` is a peer ID in any accepted form (see {@link parsePeerId}). */
export function isPeerIdString(text: string): boolean {
  if (typeof text !== "string") return false;
  try {
    parsePeerId(text);
    return true;
  } catch {
    return false;
  }
}
