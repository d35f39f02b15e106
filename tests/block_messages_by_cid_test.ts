/**
 * A gossip block's messages by CID between two libp2p hosts on 127.0.0.1: from the local store
 * when there, over bitswap (blake2b-256 CIDs, checked) otherwise; a CID no peer has, or bytes
 * that are not a message, give MessagesUnavailableError in bounded time.
 */
import { deepStrictEqual, equal, rejects } from "node:assert/strict";
import {
  fetchBlockMessages,
  type MessageSource,
  MessagesUnavailableError,
} from "../src/sync/block_messages_by_cid.ts";
import { signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { cidOf, cidOfBytes } from "../src/chain/types/cid.ts";
import {
  messageCid,
  serializeMessage,
  serializeSignedMessage,
  signedMessageCid,
} from "../src/chain/types/mod.ts";
import { type TestHost, withHosts } from "./_net.ts";

const sender = devnetMinerFromSeed("by cid");

const sourceOf = (host: TestHost): MessageSource => ({
  ipld: host.store,
  want: (cid, options) => host.bitswap.want(cid, options),
});

Deno.test("fetchBlockMessages() reads local messages and fetches the rest over bitswap", async () => {
  await withHosts([{}, {}], async ([a, b]) => {
    const signed = [0, 1, 2].map((n) => signDevnetTransfer(sender, n));
    const bls = { ...signDevnetTransfer(sender, 9).message, nonce: 99n };
    // The peer has everything; we hold the first signed message already.
    for (const s of signed) await b.store.put(signedMessageCid(s), serializeSignedMessage(s));
    await b.store.put(messageCid(bls), serializeMessage(bls));
    await a.store.put(signedMessageCid(signed[0]), serializeSignedMessage(signed[0]));
    await a.libp2p.dial(b.addr);

    const got = await fetchBlockMessages(
      sourceOf(a),
      [messageCid(bls)],
      signed.map((s) => signedMessageCid(s)),
      { timeoutMs: 15_000 },
    );
    // Compared by CID: the bytes are the same (decoded addresses carry the default network).
    deepStrictEqual(
      got.secpk.map((s) => signedMessageCid(s).toString()),
      signed.map((s) => signedMessageCid(s).toString()),
    );
    deepStrictEqual(got.bls.map((m) => messageCid(m).toString()), [messageCid(bls).toString()]);
  });
});

Deno.test("fetchBlockMessages() gives MessagesUnavailableError for missing or non-message blocks", async () => {
  await withHosts([{}, {}], async ([a, b]) => {
    const notAMessage = new TextEncoder().encode("not a message");
    // dag-cbor of a string: a valid block, not a SignedMessage.
    const junk = cidOf("junk");
    await b.store.put(junk, new Uint8Array([0x64, 0x6a, 0x75, 0x6e, 0x6b]));
    await a.libp2p.dial(b.addr);
    await rejects(
      fetchBlockMessages(sourceOf(a), [], [junk], { timeoutMs: 15_000 }),
      (err: Error) =>
        err instanceof MessagesUnavailableError && /does not decode/.test(err.message),
    );
    // Nobody has it: bounded by the timeout.
    const started = Date.now();
    await rejects(
      fetchBlockMessages(sourceOf(a), [], [cidOfBytes(notAMessage)], { timeoutMs: 300 }),
      (err: Error) => err instanceof MessagesUnavailableError && /within 300 ms/.test(err.message),
    );
    equal(Date.now() - started < 5_000, true);
  });
});
