/**
 * The KeyStore-backed libp2p identity (src/net/identity.ts over `KeyStore.ed25519Signer`): a stable
 * peer ID, no way to read the seed, signatures that verify, and real Noise handshakes and signed
 * gossip between hosts that use it.
 */
import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { Message } from "@libp2p/interface";
import { IdentityKeyUnavailableError, libp2pIdentity } from "../src/net/identity.ts";
import { KeyStore, LIBP2P_HOST_KEY, UnsupportedKeyTypeError } from "../src/repo/keystore.ts";
import { echoOver, handleEcho, keyStoreIdentity, nextEvent, waitUntil, withHosts } from "./_net.ts";
import { withTempDir } from "./_temp.ts";
import { ed25519 } from "@noble/curves/ed25519";

/** Low PBKDF2 count so the encrypted-store test stays fast. */
const TEST_ITERATIONS = 1_000;
const PASS = "correct horse battery staple";
const enc = new TextEncoder();

Deno.test("the KeyStore identity keeps its peer ID across two opens of the same keystore", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const ksDir = join(dir, "keystore");
    const created = await KeyStore.create(ksDir, { passphrase: PASS, iterations: TEST_ITERATIONS });
    const info = await created.generate("ed25519");
    equal(info.name, LIBP2P_HOST_KEY);

    const first = await KeyStore.open(ksDir, { passphrase: PASS });
    const second = await KeyStore.open(ksDir, { passphrase: PASS });
    const id1 = peerIdFromPrivateKey(libp2pIdentity(await first.ed25519Signer()));
    const id2 = peerIdFromPrivateKey(libp2pIdentity(await second.ed25519Signer()));
    ok(id1.equals(id2), `${id1} != ${id2}`);
    equal(id1.toString(), id2.toString());
    equal(id1.type, "Ed25519");
    deepStrictEqual(id1.publicKey?.raw, info.publicKey);

    // A different key in another store gives a different peer ID.
    const other = await keyStoreIdentity(join(dir, "other"));
    ok(!peerIdFromPrivateKey(other).equals(id1));
  });
});

Deno.test("the KeyStore identity's raw key is unavailable and equals() compares public keys", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const ks = await KeyStore.create(dir, { insecure: true });
    await ks.generate("ed25519");
    const key = libp2pIdentity(await ks.ed25519Signer());
    throws(() => key.raw, IdentityKeyUnavailableError);
    equal(key.type, "Ed25519");
    ok(key.equals(libp2pIdentity(await ks.ed25519Signer())));
    await ks.generate("ed25519", { name: "another" });
    ok(!key.equals(libp2pIdentity(await ks.ed25519Signer("another"))));
  });
});

Deno.test("the KeyStore identity signs what its public key verifies, and nothing else", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const key = await keyStoreIdentity(dir);
    const data = enc.encode("noise handshake payload");
    const sig = await key.sign(data);
    equal(sig.length, 64);
    equal(await key.publicKey.verify(data, sig), true);
    equal(await key.publicKey.verify(enc.encode("noise handshake payloaD"), sig), false);
    const flipped = sig.slice();
    flipped[10] ^= 1;
    equal(await key.publicKey.verify(data, flipped), false);
    // libp2p may hand a Uint8ArrayList-like value: it must sign the same bytes.
    const listLike = { subarray: () => data } as unknown as Uint8Array;
    deepStrictEqual(await key.sign(listLike), sig);
  });
});

Deno.test("ed25519Signer() signs natively the very bytes the pure-JS ed25519 signs", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const ks = await KeyStore.create(dir, { insecure: true });
    const seed = new Uint8Array(32).map((_, i) => i * 7 + 1);
    await ks.import("ed25519", seed.slice(), { name: "libp2p-host" });
    const signer = await ks.ed25519Signer();
    deepStrictEqual(signer.publicKey, ed25519.getPublicKey(seed));
    for (const size of [0, 1, 64, 1000]) {
      const data = new Uint8Array(size).map((_, i) => i);
      deepStrictEqual(signer.sign(data), ed25519.sign(data, seed), `${size} bytes`);
    }
  });
});

Deno.test("ed25519Signer() refuses a secp256k1 key", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const ks = await KeyStore.create(dir, { insecure: true });
    const wallet = await ks.generate("secp256k1");
    await rejects(ks.ed25519Signer(wallet.address!), UnsupportedKeyTypeError);
    await rejects(ks.ed25519Signer(wallet.name), UnsupportedKeyTypeError);
  });
});

Deno.test("two hosts with KeyStore identities complete Noise and exchange signed gossip", async () => {
  await withTempDir("filnode-identity-", async (dir) => {
    const keyA = await keyStoreIdentity(join(dir, "a"));
    const keyB = await keyStoreIdentity(join(dir, "b"));
    const topic = "/fil/blocks/testnet";
    await withHosts([{ privateKey: keyA }, { privateKey: keyB }], async ([a, b]) => {
      ok(a.peerId.equals(peerIdFromPrivateKey(keyA)));
      await handleEcho(b);
      const conn = await a.libp2p.dial(b.addr);
      // Noise proved each side holds the key behind the peer ID the other expected.
      ok(conn.remotePeer.equals(b.peerId));
      ok(b.libp2p.getConnections(a.peerId)[0]?.remotePeer.equals(a.peerId));
      equal(conn.encryption, "/noise");
      deepStrictEqual(await echoOver(conn, enc.encode("hi")), enc.encode("hi"));

      // StrictSign: b drops a message whose signature does not verify, so receipt proves sign().
      a.libp2p.services.pubsub.subscribe(topic);
      b.libp2p.services.pubsub.subscribe(topic);
      await waitUntil(
        () => a.libp2p.services.pubsub.getSubscribers(topic).some((p) => p.equals(b.peerId)),
        "a sees b's subscription",
      );
      const got = nextEvent<Message>(
        b.libp2p.services.pubsub,
        "message",
        undefined,
        (m) => m.topic === topic,
      );
      await a.libp2p.services.pubsub.publish(topic, enc.encode("signed by the keystore"));
      const msg = await got;
      ok(msg.type === "signed" && msg.from.equals(a.peerId));
      equal(new TextDecoder().decode(msg.data), "signed by the keystore");
    });
  });
});
