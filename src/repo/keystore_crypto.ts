/**
 * The cryptography behind the KeyStore, kept apart from its file handling: the passphrase KDF,
 * AES-GCM sealing of key files, per-key-type signing and verification, and ECIES.
 *
 * Private keys passed in here are used and never stored; callers own (and wipe) their buffers.
 *
 * @module
 */
import { ed25519, x25519 } from "@noble/curves/ed25519";
import { secp256k1 } from "@noble/curves/secp256k1";
import { hkdf } from "@noble/hashes/hkdf";
import { sha256 } from "@noble/hashes/sha2";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils";
import { base64url } from "multiformats/bases/base64";
import { createPrivateKey, sign as nativeSign } from "node:crypto";
import { UserError } from "../errors.ts";
import { recoverSecp256k1PublicKey, signSecp256k1 } from "../crypto/signature.ts";

/** Key types the store holds: Filecoin wallet keys and the libp2p node identity. */
export type KeyType = "secp256k1" | "ed25519";
export const KEY_TYPES: readonly KeyType[] = ["secp256k1", "ed25519"];

/** Both key types use 32-byte private keys (a secp256k1 scalar, an ed25519 seed). */
export const PRIVATE_KEY_LENGTH = 32;

/**
 * Default PBKDF2-HMAC-SHA256 iteration count. OWASP's Password Storage Cheat Sheet (2023) asks
 * for 600,000 iterations of PBKDF2-HMAC-SHA256 (210,000 is its figure for SHA-512), sized so a
 * GPU attacker pays ~a second per guess per core-equivalent. PBKDF2 is what WebCrypto offers
 * natively (no scrypt/argon2 there), so we buy strength with the count: ~0.1 s on a laptop core,
 * paid once per keystore open, never per signature.
 */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;
/**
 * Upper bound accepted from keystore.json, so a tampered file cannot make `open` spin for hours.
 * Sixteen times the default leaves room for future increases.
 */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;
/** Salt length: 128 bits is NIST SP 800-132's minimum and plenty against precomputation. */
export const SALT_LENGTH = 16;
/** AES-GCM nonce length: the 96 bits GCM is designed for; random per encryption. */
export const NONCE_LENGTH = 12;
/** AES-GCM tag length in bytes (the full 128 bits). */
export const TAG_LENGTH = 16;

/** Scheme bytes at the start of an ECIES ciphertext. */
export const EciesScheme = {
  SECP256K1: 0x01,
  X25519: 0x02,
} as const;
const ECIES_INFO = utf8ToBytes("filnode-ecies-v1");

/** A ciphertext that does not decrypt: tampered, truncated, or encrypted to another key. */
export class DecryptionError extends UserError {}

/** A key type (or key material) the store cannot use. */
export class UnsupportedKeyTypeError extends UserError {}

/** Private key bytes that are not a valid key of their type. */
export class InvalidKeyError extends UserError {}

/** PBKDF2 parameters as stored in keystore.json. */
export interface KdfParams {
  readonly iterations: number;
  readonly salt: Uint8Array;
}

/**
 * Derive the keystore master key from `passphrase`: PBKDF2-HMAC-SHA256 into a non-extractable
 * AES-256-GCM key, so the key bytes never exist in JavaScript memory. The passphrase is NFC
 * normalised so the same typed text gives the same key on every OS and input method.
 */
export async function deriveMasterKey(passphrase: string, params: KdfParams): Promise<CryptoKey> {
  const secret = utf8ToBytes(passphrase.normalize("NFC"));
  try {
    const base = await crypto.subtle.importKey("raw", ab(secret), "PBKDF2", false, ["deriveKey"]);
    return await crypto.subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: ab(params.salt), iterations: params.iterations },
      base,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  } finally {
    secret.fill(0);
  }
}

/** AES-256-GCM encrypt with a fresh random nonce. Output: `nonce(12) || ciphertext || tag(16)`. */
export async function seal(
  key: CryptoKey,
  plaintext: Uint8Array,
  additionalData: Uint8Array,
): Promise<Uint8Array> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: ab(additionalData), tagLength: TAG_LENGTH * 8 },
    key,
    ab(plaintext),
  );
  return concatBytes(nonce, new Uint8Array(ct));
}

/**
 * Decrypt what `seal` produced. Returns `undefined` when authentication fails (wrong key, wrong
 * additional data, or altered bytes): callers decide whether that means a wrong passphrase, a
 * damaged file or a tampered message.
 */
export async function unseal(
  key: CryptoKey,
  sealed: Uint8Array,
  additionalData: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (sealed.length < NONCE_LENGTH + TAG_LENGTH) return undefined;
  try {
    const pt = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: ab(sealed.subarray(0, NONCE_LENGTH)),
        additionalData: ab(additionalData),
        tagLength: TAG_LENGTH * 8,
      },
      key,
      ab(sealed.subarray(NONCE_LENGTH)),
    );
    return new Uint8Array(pt);
  } catch {
    return undefined;
  }
}

/** Throws InvalidKeyError unless `privateKey` is a usable private key of `type`. */
export function checkPrivateKey(type: KeyType, privateKey: Uint8Array): void {
  if (privateKey.length !== PRIVATE_KEY_LENGTH) {
    throw new InvalidKeyError(
      `${type} private key must be ${PRIVATE_KEY_LENGTH} bytes, got ${privateKey.length}`,
    );
  }
  if (type === "secp256k1" && !secp256k1.utils.isValidPrivateKey(privateKey)) {
    throw new InvalidKeyError("secp256k1 private key is out of range (zero or >= curve order)");
  }
}

/** A fresh random private key of `type`. */
export function randomPrivateKey(type: KeyType): Uint8Array {
  return type === "secp256k1"
    ? secp256k1.utils.randomPrivateKey()
    : crypto.getRandomValues(new Uint8Array(PRIVATE_KEY_LENGTH));
}

/**
 * Public key of `privateKey`: 65-byte uncompressed secp256k1 (what f1 addresses hash) or the
 * 32-byte ed25519 key (what libp2p peer IDs embed).
 */
export function publicKeyOf(type: KeyType, privateKey: Uint8Array): Uint8Array {
  return type === "secp256k1"
    ? secp256k1.getPublicKey(privateKey, false)
    : ed25519.getPublicKey(privateKey);
}

/**
 * Sign `data`: secp256k1 gives the 65-byte Filecoin signature over blake2b-256(data); ed25519
 * gives the 64-byte RFC 8032 signature over `data` itself (what libp2p signs).
 */
export function signWith(type: KeyType, privateKey: Uint8Array, data: Uint8Array): Uint8Array {
  return type === "secp256k1" ? signSecp256k1(privateKey, data) : ed25519.sign(data, privateKey);
}

/**
 * A signing function for one ed25519 seed and its public key, for keys that sign often (the
 * libp2p identity signs every gossip message it publishes and every Noise handshake). The
 * runtime's native Ed25519 signs with a key object made once: ~13 µs a signature against ~150 µs
 * for `signWith` (pure JS), and ~35 µs against ~310 µs when the code is cold, as it is for a
 * message every few hundred ms. Ed25519 is deterministic, so both give the same bytes. The seed
 * is not kept: the key object holds the key inside the runtime, and the returned closure is the
 * only reference to it.
 */
export function ed25519SignerFor(
  seed: Uint8Array,
  publicKey: Uint8Array,
): (data: Uint8Array) => Uint8Array {
  const key = createPrivateKey({
    format: "jwk",
    key: {
      kty: "OKP",
      crv: "Ed25519",
      d: base64url.baseEncode(seed),
      x: base64url.baseEncode(publicKey),
    },
  });
  return (data) => new Uint8Array(nativeSign(null, data, key));
}

/**
 * Verify `signature` of `data` against a public key: 65-byte (0x04) or 33-byte (0x02/0x03)
 * secp256k1, or 32-byte ed25519. Returns false for anything that does not verify.
 */
export function verifyWithPublicKey(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): boolean {
  const type = publicKeyType(publicKey);
  if (type === "ed25519") {
    try {
      return ed25519.verify(signature, data, publicKey);
    } catch {
      return false;
    }
  }
  let expected: Uint8Array;
  try {
    expected = secp256k1.ProjectivePoint.fromHex(publicKey).toRawBytes(false);
  } catch {
    throw new InvalidKeyError("public key is not a point on secp256k1");
  }
  const recovered = recoverSecp256k1PublicKey(signature, data);
  return recovered !== undefined && equalBytes(recovered, expected);
}

/** Key type implied by a public key's length and prefix; throws for anything else. */
export function publicKeyType(publicKey: Uint8Array): KeyType {
  if (publicKey.length === 32) return "ed25519";
  if (
    (publicKey.length === 65 && publicKey[0] === 0x04) ||
    (publicKey.length === 33 && (publicKey[0] === 0x02 || publicKey[0] === 0x03))
  ) return "secp256k1";
  throw new UnsupportedKeyTypeError(
    `cannot tell the key type of a ${publicKey.length}-byte public key`,
  );
}

/**
 * ECIES encryption to a public key of `type`. Byte layout (version 1):
 *
 * ```
 * scheme(1)        0x01 = secp256k1 ECDH, 0x02 = x25519 ECDH (for ed25519 keys)
 * ephemeral(E)     sender's one-time public key: 33-byte compressed secp256k1 or 32-byte x25519
 * nonce(12)        AES-GCM nonce, random
 * ciphertext(N+16) AES-256-GCM of the plaintext, tag appended; AAD = scheme || ephemeral
 * ```
 *
 * The AES key is HKDF-SHA256(ikm = ECDH shared x-coordinate, salt = none, info = "filnode-ecies-v1"
 * || scheme || ephemeral || recipient public key), 32 bytes. Binding both public keys into the KDF
 * ties a ciphertext to one recipient; a fresh ephemeral key per message means no key is reused.
 * ed25519 keys are converted to their x25519 (Montgomery) form for the ECDH.
 */
export async function eciesEncrypt(
  type: KeyType,
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  let scheme: number;
  let ephemeralPublic: Uint8Array;
  let shared: Uint8Array;
  let recipient: Uint8Array;
  const ephemeralSecret = type === "secp256k1"
    ? secp256k1.utils.randomPrivateKey()
    : x25519.utils.randomPrivateKey();
  try {
    if (type === "secp256k1") {
      scheme = EciesScheme.SECP256K1;
      // Normalise to the uncompressed form decrypt derives, so both sides feed HKDF the same bytes.
      recipient = secp256k1.ProjectivePoint.fromHex(recipientPublicKey).toRawBytes(false);
      ephemeralPublic = secp256k1.getPublicKey(ephemeralSecret, true);
      shared = secp256k1.getSharedSecret(ephemeralSecret, recipient, true).slice(1);
    } else {
      scheme = EciesScheme.X25519;
      recipient = ed25519.utils.toMontgomery(recipientPublicKey);
      ephemeralPublic = x25519.getPublicKey(ephemeralSecret);
      shared = x25519.getSharedSecret(ephemeralSecret, recipient);
    }
  } finally {
    ephemeralSecret.fill(0);
  }
  const header = concatBytes(Uint8Array.of(scheme), ephemeralPublic);
  const key = await eciesKey(shared, header, recipient);
  const sealed = await seal(key, plaintext, header);
  return concatBytes(header, sealed);
}

/**
 * Decrypt an `eciesEncrypt` ciphertext with the recipient's private key. Throws DecryptionError
 * for truncated, tampered or misdirected ciphertexts, with one message for all of them so the
 * error reveals nothing useful to whoever fed us the bytes.
 */
export async function eciesDecrypt(
  type: KeyType,
  privateKey: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  const fail = () =>
    new DecryptionError(
      "ciphertext could not be decrypted: it is damaged, was tampered with, or is for another key",
    );
  const scheme = type === "secp256k1" ? EciesScheme.SECP256K1 : EciesScheme.X25519;
  const ephemeralLength = type === "secp256k1" ? 33 : 32;
  const headerLength = 1 + ephemeralLength;
  if (ciphertext.length < headerLength + NONCE_LENGTH + TAG_LENGTH) throw fail();
  if (ciphertext[0] !== scheme) throw fail();
  const header = ciphertext.subarray(0, headerLength);
  const ephemeralPublic = ciphertext.subarray(1, headerLength);
  let shared: Uint8Array;
  let recipient: Uint8Array;
  try {
    if (type === "secp256k1") {
      recipient = secp256k1.getPublicKey(privateKey, false);
      shared = secp256k1.getSharedSecret(privateKey, ephemeralPublic, true).slice(1);
    } else {
      recipient = ed25519.utils.toMontgomery(ed25519.getPublicKey(privateKey));
      const montgomerySecret = ed25519.utils.toMontgomeryPriv(privateKey);
      try {
        // noble throws for low-order points (an all-zero shared secret).
        shared = x25519.getSharedSecret(montgomerySecret, ephemeralPublic);
      } finally {
        montgomerySecret.fill(0);
      }
    }
  } catch {
    throw fail();
  }
  const key = await eciesKey(shared, header, recipient);
  const plaintext = await unseal(key, ciphertext.subarray(headerLength), header);
  if (!plaintext) throw fail();
  return plaintext;
}

async function eciesKey(
  shared: Uint8Array,
  header: Uint8Array,
  recipient: Uint8Array,
): Promise<CryptoKey> {
  const raw = hkdf(sha256, shared, undefined, concatBytes(ECIES_INFO, header, recipient), 32);
  shared.fill(0);
  try {
    return await crypto.subtle.importKey("raw", ab(raw), "AES-GCM", false, ["encrypt", "decrypt"]);
  } finally {
    raw.fill(0);
  }
}

/**
 * View `bytes` as backed by a plain ArrayBuffer, as WebCrypto's types demand (TS 5.7 typed-array
 * generics); copies only in the rare SharedArrayBuffer case.
 */
function ab(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
}

/** Constant-shape byte comparison (length leak only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
