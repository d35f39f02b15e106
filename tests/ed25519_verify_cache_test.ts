/**
 * The cached Ed25519 check (src/net/ed25519_verify_cache.ts) gives libp2p keys the verdicts of a
 * reference Ed25519 on valid, tampered and malformed signatures, including keys rebuilt from a
 * peer ID as gossipsub does for every message, and keeps a bounded cache.
 */
import { equal, ok, throws } from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromMultihash, peerIdFromPublicKey } from "@libp2p/peer-id";
import {
  CACHED_ED25519_KEYS,
  cachedEd25519Keys,
  installEd25519VerifyCache,
} from "../src/net/ed25519_verify_cache.ts";

installEd25519VerifyCache();
installEd25519VerifyCache(); // idempotent

Deno.test("cached Ed25519 checks agree with a reference Ed25519 on valid, tampered and foreign signatures", async () => {
  let valid = 0;
  for (let i = 0; i < 40; i++) {
    const seed = new Uint8Array(32).fill(i + 1);
    const publicKey = ed25519.getPublicKey(seed);
    const other = ed25519.getPublicKey(new Uint8Array(32).fill(200 - i));
    const data = new TextEncoder().encode(`gossip message ${i}`);
    const signature = ed25519.sign(data, seed);
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
      [publicKey, data, signature],
      [publicKey, data.with(0, data[0] ^ 1), signature],
      [publicKey, data, signature.with(5, signature[5] ^ 1)],
      [publicKey, data, signature.with(63, signature[63] ^ 0x80)],
      [other, data, signature],
    ];
    for (const [key, message, sig] of cases) {
      // The key as gossipsub holds it: rebuilt from the sender's peer ID.
      const peerKey = peerIdFromMultihash(peerIdFromPublicKey(publicKeyFromRaw(key)).toMultihash())
        .publicKey!;
      const expected = ed25519.verify(sig, message, key);
      equal(await peerKey.verify(message, sig), expected);
      if (expected) valid++;
    }
  }
  equal(valid, 40, "each message's own signature, and nothing else, verifies");
});

Deno.test("malformed Ed25519 signatures still get the library's own errors", () => {
  const key = publicKeyFromRaw(ed25519.getPublicKey(new Uint8Array(32).fill(9)));
  const data = new TextEncoder().encode("x");
  throws(() => key.verify(data, new Uint8Array(63)), TypeError);
  throws(() => key.verify(data, new Uint8Array(65)), TypeError);
});

Deno.test("the Ed25519 key object cache stays within its bound", () => {
  const data = new TextEncoder().encode("bounded");
  const signature = new Uint8Array(64);
  for (let i = 0; i < CACHED_ED25519_KEYS + 50; i++) {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i + 1000);
    publicKeyFromRaw(ed25519.getPublicKey(seed)).verify(data, signature);
  }
  ok(cachedEd25519Keys() <= CACHED_ED25519_KEYS, `${cachedEd25519Keys()} cached`);
  equal(cachedEd25519Keys(), CACHED_ED25519_KEYS);
});
