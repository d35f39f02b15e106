/**
 * Ed25519 signature checks for libp2p keys with cached key objects.
 *
 * @libp2p/crypto 5.1.8 (its node build, which Deno runs) checks an Ed25519 signature by importing
 * the public key from a JWK on every call, then verifying: ~48 µs a check here, ~250 µs when the
 * code is cold, as it is for a gossip message every few hundred ms, most of it the import.
 * gossipsub checks the libp2p signature of the first copy of every message (StrictSign) with a
 * key object it has just rebuilt from the sender's peer ID, so this is on the path of every
 * delivery. {@link installEd25519VerifyCache} replaces `verify` on that library's
 * Ed25519PublicKey class with one that keeps the key objects of the most recent signers; the
 * check itself is the same native Ed25519 verify, so the verdicts are the same.
 *
 * @module
 */
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { base64url } from "multiformats/bases/base64";
import { createPublicKey, type KeyObject, verify as nativeVerify } from "node:crypto";

/** Signers whose key objects are kept: a node hears from at most a few hundred peers. */
export const CACHED_ED25519_KEYS = 1024;

const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const INSTALLED = Symbol.for("filnode.ed25519VerifyCache");

const keys = new Map<string, KeyObject>();

/** How many key objects are cached (tests). */
export function cachedEd25519Keys(): number {
  return keys.size;
}

function keyObjectFor(raw: Uint8Array): KeyObject {
  const name = base64url.baseEncode(raw);
  let key = keys.get(name);
  if (key) {
    keys.delete(name); // most recently used last
  } else {
    key = createPublicKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", x: name } });
    if (keys.size >= CACHED_ED25519_KEYS) keys.delete(keys.keys().next().value!);
  }
  keys.set(name, key);
  return key;
}

type Verify = (
  this: { raw: unknown },
  data: Uint8Array | { subarray(): Uint8Array },
  sig: unknown,
  options?: { signal?: AbortSignal },
) => boolean | Promise<boolean>;

/**
 * Makes every @libp2p/crypto Ed25519 public key verify through the cache. Idempotent. Anything
 * out of the ordinary (a wrong key or signature length, a non-byte signature) still goes to the
 * library's own `verify`, with its own errors.
 */
export function installEd25519VerifyCache(): void {
  const proto = Object.getPrototypeOf(publicKeyFromRaw(new Uint8Array(ED25519_KEY_BYTES)));
  if (proto[INSTALLED]) return;
  const libraryVerify: Verify = proto.verify;
  const cachedVerify: Verify = function (data, sig, options) {
    const raw = this.raw;
    if (
      !(raw instanceof Uint8Array) || raw.length !== ED25519_KEY_BYTES ||
      !(sig instanceof Uint8Array) || sig.length !== ED25519_SIGNATURE_BYTES
    ) {
      return libraryVerify.call(this, data, sig, options);
    }
    options?.signal?.throwIfAborted();
    const bytes = data instanceof Uint8Array ? data : data.subarray();
    return nativeVerify(null, bytes, keyObjectFor(raw), sig);
  };
  Object.defineProperty(proto, "verify", {
    value: cachedVerify,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(proto, INSTALLED, { value: true });
}
