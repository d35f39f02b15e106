/**
 * The node's libp2p identity as libp2p wants it (an Ed25519 `PrivateKey`), backed by the
 * KeyStore's signing capability: libp2p only ever calls `sign()` and reads `publicKey`
 * (checked in libp2p 2.10, noise 16, identify 3 and gossipsub 14), so the seed stays in the
 * KeyStore and `raw` refuses.
 */
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Ed25519PrivateKey, Ed25519PublicKey } from "@libp2p/interface";
import type { Ed25519Signer } from "../repo/keystore.ts";

export class IdentityKeyUnavailableError extends Error {
  override name = "IdentityKeyUnavailableError";
}

class KeyStoreIdentityKey implements Ed25519PrivateKey {
  readonly type = "Ed25519" as const;
  readonly publicKey: Ed25519PublicKey;
  readonly #signer: Ed25519Signer;

  constructor(signer: Ed25519Signer) {
    this.#signer = signer;
    const key = publicKeyFromRaw(signer.publicKey);
    if (key.type !== "Ed25519") throw new Error("the libp2p identity must be an ed25519 key");
    this.publicKey = key;
  }

  get raw(): Uint8Array {
    throw new IdentityKeyUnavailableError("the libp2p identity key stays in the KeyStore");
  }

  equals(key?: unknown): boolean {
    return key instanceof KeyStoreIdentityKey && key.publicKey.equals(this.publicKey);
  }

  sign(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
    return this.#signer.sign(data instanceof Uint8Array ? data : data.subarray());
  }
}

/** libp2p's view of the node identity, signing through the KeyStore. */
export function libp2pIdentity(signer: Ed25519Signer): Ed25519PrivateKey {
  return new KeyStoreIdentityKey(signer);
}
