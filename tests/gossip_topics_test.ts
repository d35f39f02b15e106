/**
 * GossipTopics (src/net/gossip.ts) between libp2p hosts in this process: valid messages arrive and
 * count, structurally bad ones published by a raw gossipsub host are rejected before delivery or
 * forwarding (and blamed on their sender), and a plugged-in validator's verdicts are honoured.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import type { ConnectionGater, Message } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { filecoinMessageId } from "../src/net/libp2p_host.ts";
import {
  type GossipKind,
  gossipTopic,
  GossipTopics,
  MAX_GOSSIP_BYTES,
  type Verdict,
} from "../src/net/gossip.ts";
import {
  nextEvent,
  randomIdentity,
  recordEvents,
  sleep,
  TEST_NETWORK,
  type TestHost,
  type TestHostOptions,
  waitUntil,
  withHosts,
} from "./_net.ts";

const MSGS = gossipTopic("msgs", TEST_NETWORK);
const BLOCKS = gossipTopic("blocks", TEST_NETWORK);
/** How long to watch for a delivery that must NOT happen. */
const QUIET_MS = 300;

/** A started GossipTopics that records whom it blamed. */
interface Gossiper {
  host: TestHost;
  gossip: GossipTopics;
  rejectedFrom: string[];
}

/**
 * Starts `count` hosts with a started GossipTopics each, plus one raw host (plain gossipsub) last;
 * `options[i]` configures host `i` (the raw one is `options[count]`).
 */
async function withGossipers(
  count: number,
  fn: (nodes: Gossiper[], raw: TestHost) => Promise<void>,
  options: TestHostOptions[] = [],
): Promise<void> {
  const specs = Array.from({ length: count + 1 }, (_, i) => options[i] ?? {});
  await withHosts(specs, async (hosts) => {
    const nodes: Gossiper[] = [];
    try {
      for (const host of hosts.slice(0, count)) {
        const rejectedFrom: string[] = [];
        const gossip = new GossipTopics(host.libp2p, TEST_NETWORK, (p) => rejectedFrom.push(p));
        gossip.start();
        nodes.push({ host, gossip, rejectedFrom });
      }
      await fn(nodes, hosts[count]);
    } finally {
      for (const n of nodes) n.gossip.stop();
    }
  });
}

/** Waits until `from` knows `to` subscribes to `topic` (so a flood publish reaches it). */
async function seesSubscriber(from: TestHost, to: TestHost, topic: string): Promise<void> {
  await waitUntil(
    () => from.libp2p.services.pubsub.getSubscribers(topic).some((p) => p.equals(to.peerId)),
    `${from.peerId} sees ${to.peerId} on ${topic}`,
  );
}

/**
 * Waits until `to` is in `from`'s gossipsub mesh for `topic`: only then does `from` forward
 * messages to it at once (before that, a message `to` missed is not re-offered to it).
 */
async function inMesh(from: TestHost, to: TestHost, topic: string): Promise<void> {
  const pubsub = from.libp2p.services.pubsub as unknown as {
    getMeshPeers(topic: string): string[];
  };
  await waitUntil(
    () => pubsub.getMeshPeers(topic).includes(to.peerId.toString()),
    `${to.peerId} in ${from.peerId}'s mesh for ${topic}`,
  );
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function messageOn(topic: string, data?: Uint8Array) {
  return (m: Message) => m.topic === topic && (data === undefined || toHex(m.data) === toHex(data));
}

Deno.test("a valid CBOR-array gossip message reaches the other node and counts in its stats", async () => {
  await withGossipers(2, async ([a, b]) => {
    await a.host.libp2p.dial(b.host.addr);
    await seesSubscriber(b.host, a.host, MSGS);
    const data = dagCbor.encode([1, "signed message", new Uint8Array([1, 2, 3])]);
    const arrived = nextEvent<Message>(
      a.host.libp2p.services.pubsub,
      "message",
      undefined,
      messageOn(MSGS),
    );
    const id = await b.gossip.publish("msgs", data);
    equal(id, toHex(filecoinMessageId({ data })));
    deepStrictEqual(Uint8Array.from((await arrived).data), data);

    const stats = a.gossip.stats;
    equal(stats.received.msgs, 1);
    equal(stats.received.blocks, 0);
    deepStrictEqual(stats.rejected, { blocks: 0, msgs: 0 });
    deepStrictEqual(stats.recent, [id]);
    deepStrictEqual(a.rejectedFrom, []);
  });
});

Deno.test("GossipTopics.publish() refuses a message over its topic's size cap", async () => {
  await withGossipers(1, async ([a]) => {
    const big = dagCbor.encode([new Uint8Array(MAX_GOSSIP_BYTES.msgs)]);
    let threw: unknown;
    try {
      await a.gossip.publish("msgs", big);
    } catch (err) {
      threw = err;
    }
    ok(threw instanceof RangeError, `expected RangeError, got ${threw}`);
  });
});

/** Payloads the structural validator must reject, each with why and its topic. */
function badPayloads(): Array<[string, GossipKind, Uint8Array]> {
  return [
    ["not CBOR", "msgs", new TextEncoder().encode("hello, not cbor")],
    ["trailing bytes after a CBOR array", "msgs", new Uint8Array([0x81, 0x01, 0x02])],
    ["empty", "msgs", new Uint8Array(0)],
    ["oversized msgs", "msgs", dagCbor.encode([new Uint8Array(MAX_GOSSIP_BYTES.msgs)])],
    ["oversized blocks", "blocks", dagCbor.encode([new Uint8Array(MAX_GOSSIP_BYTES.blocks)])],
    ["a CBOR map", "msgs", dagCbor.encode({ not: "a tuple" })],
    ["a CBOR integer", "blocks", dagCbor.encode(42)],
    ["a CBOR byte string", "msgs", dagCbor.encode(new Uint8Array([0x82, 1, 2]))],
  ];
}

Deno.test("structurally bad gossip from a raw host is rejected, blamed on it, and not forwarded", async () => {
  // raw -- a -- c: c hears raw's messages only if a forwards them. c refuses raw outright, since
  // the DHT would otherwise introduce them and raw's flood publish would reach c directly.
  const rawKey = await randomIdentity();
  const rawId = peerIdFromPrivateKey(rawKey);
  const refuseRaw: ConnectionGater = {
    denyDialPeer: (peer) => peer.equals(rawId),
    denyInboundEncryptedConnection: (peer) => peer.equals(rawId),
  };
  await withGossipers(2, async ([a, c], raw) => {
    const rawPubsub = raw.libp2p.services.pubsub;
    rawPubsub.subscribe(MSGS);
    rawPubsub.subscribe(BLOCKS);
    await raw.libp2p.dial(a.host.addr);
    await a.host.libp2p.dial(c.host.addr);
    for (const t of [MSGS, BLOCKS]) {
      await seesSubscriber(raw, a.host, t);
      await inMesh(a.host, c.host, t);
    }
    const delivered = recordEvents<Message>(a.host.libp2p.services.pubsub, "message");
    try {
      let rejections = 0;
      for (const [why, kind, data] of badPayloads()) {
        await rawPubsub.publish(kind === "msgs" ? MSGS : BLOCKS, data);
        rejections++;
        await waitUntil(() => a.rejectedFrom.length === rejections, `a rejects: ${why}`);
        equal(a.rejectedFrom.at(-1), raw.peerId.toString(), why);
      }
      // A valid message from the same sender afterwards still goes through, and on to c.
      const good = dagCbor.encode(["fine"]);
      const atC = nextEvent<Message>(
        c.host.libp2p.services.pubsub,
        "message",
        undefined,
        messageOn(MSGS, good),
      );
      await rawPubsub.publish(MSGS, good);
      await atC;
      await sleep(QUIET_MS);

      deepStrictEqual(delivered.events.map((m) => toHex(m.data)), [toHex(good)]);
      const stats = a.gossip.stats;
      equal(stats.rejected.msgs + stats.rejected.blocks, badPayloads().length);
      equal(stats.rejected.blocks, 2);
      deepStrictEqual(stats.received, { blocks: 0, msgs: 1 });
      // c never saw the bad ones: a did not forward them.
      deepStrictEqual(c.rejectedFrom, []);
      deepStrictEqual(c.gossip.stats.rejected, { blocks: 0, msgs: 0 });
      deepStrictEqual(c.gossip.stats.received, { blocks: 0, msgs: 1 });
      equal(c.host.libp2p.getConnections(raw.peerId).length, 0);
    } finally {
      delivered.stop();
    }
  }, [{}, { gater: refuseRaw }, { privateKey: rawKey }]);
});

Deno.test("setValidator() verdicts are honoured: accept delivers, reject blames, ignore drops", async () => {
  await withGossipers(2, async ([a, b]) => {
    const seen: Array<{ from: string; decoded: unknown }> = [];
    a.gossip.setValidator("msgs", (from, data) => {
      const decoded = dagCbor.decode(data);
      seen.push({ from, decoded });
      return (decoded as [Verdict])[0];
    });
    await a.host.libp2p.dial(b.host.addr);
    await seesSubscriber(b.host, a.host, MSGS);
    const delivered = recordEvents<Message>(a.host.libp2p.services.pubsub, "message");
    try {
      await b.gossip.publish("msgs", dagCbor.encode(["reject", 1]));
      await waitUntil(() => a.rejectedFrom.length === 1, "the reject verdict blames the sender");
      equal(a.rejectedFrom[0], b.host.peerId.toString());

      await b.gossip.publish("msgs", dagCbor.encode(["ignore", 2]));
      await waitUntil(() => seen.length === 2, "the validator saw the ignored message");

      const accepted = dagCbor.encode(["accept", 3]);
      const arrived = nextEvent<Message>(
        a.host.libp2p.services.pubsub,
        "message",
        undefined,
        messageOn(MSGS, accepted),
      );
      await b.gossip.publish("msgs", accepted);
      await arrived;
      await sleep(QUIET_MS);

      deepStrictEqual(seen, [
        { from: b.host.peerId.toString(), decoded: ["reject", 1] },
        { from: b.host.peerId.toString(), decoded: ["ignore", 2] },
        { from: b.host.peerId.toString(), decoded: ["accept", 3] },
      ]);
      deepStrictEqual(delivered.events.map((m) => toHex(m.data)), [toHex(accepted)]);
      equal(a.rejectedFrom.length, 1, "ignore costs the sender nothing");
      const stats = a.gossip.stats;
      deepStrictEqual(stats.rejected, { blocks: 0, msgs: 1 });
      deepStrictEqual(stats.received, { blocks: 0, msgs: 1 });
    } finally {
      delivered.stop();
    }
  });
});
