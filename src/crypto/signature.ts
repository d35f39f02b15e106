/**
 * Filecoin signatures, as Lotus's `crypto.Signature` and `lib/sigs`.
 *
 * A secp256k1 signature is 65 bytes `r(32) || s(32) || v(1)` over blake2b-256 of the message,
 * where `v` is the public-key recovery id. Verification does not need the public key: it recovers
 * the key from the signature and compares the f1 address derived from it with the expected
 * signer, exactly as Lotus's `sigs.Verify(sig, addr, msg)`. On the wire a signature is
 * `type byte || data` (Lotus `Signature.MarshalBinary`), type 1 = secp256k1, 2 = BLS.
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1";
import { blake2b256Digest } from "./blake2b.ts";
import { UserError } from "../errors.ts";
import { Address, type Network, Protocol } from "./address.ts";
import { SignerKeyCache } from "./secp256k1_signer_keys.ts";

/** Signature types, as Lotus `crypto.SigType`. */
export const SigType = {
  SECP256K1: 1,
  BLS: 2,
} as const;
export type SigType = typeof SigType[keyof typeof SigType];

/** A typed signature: what blocks and signed messages carry. */
export interface Signature {
  readonly type: SigType;
  readonly data: Uint8Array;
}

/** Length of a Filecoin secp256k1 signature: r(32) || s(32) || recovery id(1). */
export const SECP256K1_SIGNATURE_LENGTH = 65;
/** Length of a BLS signature (compressed G2 point). */
export const BLS_SIGNATURE_LENGTH = 96;
/** Length of a secp256k1 private key. */
export const SECP256K1_PRIVATE_KEY_LENGTH = 32;
/**
 * Longest serialized signature we decode, as Lotus `crypto.SignatureMaxLength` (200): bounds
 * what a peer can make us allocate for one signature field.
 */
export const SIGNATURE_MAX_LENGTH = 200;

/** Bytes that are not a well-formed serialized signature. */
export class InvalidSignatureError extends UserError {}

/** A signature type this node cannot check yet (BLS) or does not know. */
export class UnsupportedSignatureError extends UserError {}

/** blake2b-256 of `message`: what a Filecoin secp256k1 signature signs. */
export function signingDigest(message: Uint8Array): Uint8Array {
  return blake2b256Digest(message);
}

/**
 * Sign `message` with a 32-byte secp256k1 private key, the way Lotus does: ECDSA over
 * blake2b-256(message) with an RFC 6979 deterministic nonce and low-s, returned as the 65-byte
 * `r || s || v` form. Deterministic: the same key and message always give the same bytes.
 */
export function signSecp256k1(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  if (privateKey.length !== SECP256K1_PRIVATE_KEY_LENGTH) {
    throw new RangeError(`secp256k1 private key must be 32 bytes, got ${privateKey.length}`);
  }
  const sig = secp256k1.sign(signingDigest(message), privateKey, { lowS: true });
  const out = new Uint8Array(SECP256K1_SIGNATURE_LENGTH);
  out.set(sig.toCompactRawBytes(), 0);
  out[64] = sig.recovery;
  return out;
}

/**
 * Recover the 65-byte uncompressed public key that produced `signature` over `message`, or
 * `undefined` when the bytes are not a valid recoverable signature. Like libsecp256k1's recover
 * (what Lotus uses), high-s signatures are accepted here; only signing enforces low-s.
 */
export function recoverSecp256k1PublicKey(
  signature: Uint8Array,
  message: Uint8Array,
): Uint8Array | undefined {
  if (signature.length !== SECP256K1_SIGNATURE_LENGTH) return undefined;
  const v = signature[64];
  if (v > 3) return undefined;
  return recoverFromDigest(signature, signingDigest(message));
}

/** Recovery over an already computed digest (the signature's length and `v` are checked). */
function recoverFromDigest(signature: Uint8Array, digest: Uint8Array): Uint8Array | undefined {
  try {
    const point = secp256k1.Signature.fromCompact(signature.subarray(0, 64))
      .addRecoveryBit(signature[64])
      .recoverPublicKey(digest);
    return point.toRawBytes(false);
  } catch {
    // r or s out of range, or no curve point for this r: not a signature anyone made.
    return undefined;
  }
}

/** Keys of repeat signers, shared by every check in this process (see secp256k1_signer_keys.ts). */
const signerKeys = new SignerKeyCache();

/**
 * The f1 address that signed `message`, or `undefined` when `signature` is not a valid
 * 65-byte recoverable secp256k1 signature.
 */
export function recoverSecp256k1Address(
  signature: Uint8Array,
  message: Uint8Array,
  network: Network = "f",
): Address | undefined {
  const publicKey = recoverSecp256k1PublicKey(signature, message);
  return publicKey && Address.fromSecp256k1PublicKey(publicKey, network);
}

/**
 * Check a typed signature of `message` against its claimed signer, as Lotus `sigs.Verify`.
 * Returns false for a signature that does not verify (wrong signer, tampered message or
 * signature, malformed bytes); throws UnsupportedSignatureError for BLS, which is not
 * implemented yet, rather than pretending it failed or passed.
 */
export function verifySignature(
  signature: Signature,
  message: Uint8Array,
  signer: Address | string,
): boolean {
  const address = typeof signer === "string" ? Address.fromString(signer) : signer;
  switch (signature.type) {
    case SigType.SECP256K1: {
      if (address.protocol !== Protocol.SECP256K1) return false;
      const data = signature.data;
      if (data.length !== SECP256K1_SIGNATURE_LENGTH || data[64] > 3) return false;
      const digest = signingDigest(message);
      // A repeat signer: checked against its known key, the same verdict at a third of the cost.
      const fast = signerKeys.check(address.payload, data, digest);
      if (fast !== undefined) return fast;
      const publicKey = recoverFromDigest(data, digest);
      if (!publicKey || !Address.fromSecp256k1PublicKey(publicKey).equals(address)) return false;
      signerKeys.remember(address.payload, publicKey);
      return true;
    }
    case SigType.BLS:
      throw new UnsupportedSignatureError("BLS signature verification is not implemented yet");
    default:
      throw new UnsupportedSignatureError(
        `unknown signature type ${(signature as Signature).type}`,
      );
  }
}

/** Serialize as Lotus `Signature.MarshalBinary`: `type byte || data`. */
export function encodeSignature(signature: Signature): Uint8Array {
  const out = new Uint8Array(1 + signature.data.length);
  out[0] = signature.type;
  out.set(signature.data, 1);
  return out;
}

/**
 * Parse `type byte || data` (Lotus `Signature.UnmarshalBinary`). Throws InvalidSignatureError for
 * empty or overlong input and UnsupportedSignatureError for an unknown type byte. The data length
 * is not checked here (Lotus does not either); verification rejects wrong lengths.
 */
export function decodeSignature(bytes: Uint8Array): Signature {
  if (bytes.length === 0) throw new InvalidSignatureError("empty signature bytes");
  if (bytes.length > SIGNATURE_MAX_LENGTH) {
    throw new InvalidSignatureError(
      `signature too long (${bytes.length} bytes, max ${SIGNATURE_MAX_LENGTH})`,
    );
  }
  const type = bytes[0];
  if (type !== SigType.SECP256K1 && type !== SigType.BLS) {
    throw new UnsupportedSignatureError(`unknown signature type ${type}`);
  }
  return { type, data: bytes.slice(1) };
}
