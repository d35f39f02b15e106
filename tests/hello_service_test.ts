/**
 * HelloService (src/protocols/hello.ts) between libp2p hosts in this process: greeting on a shared
 * genesis, sync targets, a foreign genesis closing the connection, malformed and slow hellos, and
 * `gated()`. Misbehaving peers are raw hosts that speak `/fil/hello/1.0.0` by hand.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import type { Connection } from "@libp2p/interface";
import { encodeBigInt } from "../src/chain/big_int.ts";
import type { ChainView } from "../src/chain/chain_view.ts";
import { Clock } from "../src/clock/clock.ts";
import { type CID, encodeCbor } from "../src/ipld/block.ts";
import { HelloService } from "../src/protocols/hello.ts";
import { encodeHello, HELLO_PROTOCOL } from "../src/protocols/hello_message.ts";
import {
  nextEvent,
  openConnections,
  readAll,
  recordEvents,
  sleep,
  startHost,
  TEST_NETWORK,
  type TestHost,
  waitUntil,
} from "./_net.ts";

const GENESIS = encodeCbor({ genesis: "testnet" }).cid;
const FOREIGN_GENESIS = encodeCbor({ genesis: "othernet" }).cid;
/** How long to watch for an event that must NOT happen. */
const QUIET_MS = 300;
/** The slow-loris deadline: short, so the test is quick. */
const SHORT_TIMEOUT_MS = 200;
const GATED_PROTOCOL = "/filnode-test/gated/1.0.0";
const enc = new TextEncoder();

type MisbehavedDetail = { peerId: string; kind: "malformed" | "timeout"; message: string };

/** A fixed chain: a genesis and a head of the given weight. */
function fakeChain(genesis: CID, weight: bigint, height = 10): ChainView {
  const head = { cids: [encodeCbor({ head: weight.toString() }).cid], height, weight };
  return { genesis, networkName: TEST_NETWORK, head: () => head };
}

interface HelloNode {
  host: TestHost;
  hello: HelloService;
}

interface HelloNodeSpec {
  genesis?: CID;
  weight?: bigint;
  timeoutMs?: number;
  /** No HelloService: the test speaks hello by hand. */
  raw?: boolean;
}

/**
 * Starts a host per spec (with a started HelloService unless `raw`), runs `fn`, then stops every
 * service and host.
 */
async function withHelloNodes(
  specs: HelloNodeSpec[],
  fn: (nodes: HelloNode[]) => Promise<void>,
): Promise<void> {
  const hosts: TestHost[] = [];
  const services: HelloService[] = [];
  try {
    const nodes: HelloNode[] = [];
    for (const spec of specs) {
      const host = await startHost();
      hosts.push(host);
      const hello = new HelloService({
        libp2p: host.libp2p,
        chain: fakeChain(spec.genesis ?? GENESIS, spec.weight ?? 100n),
        clock: new Clock({ genesisTime: 0 }),
        timeoutMs: spec.timeoutMs,
      });
      if (!spec.raw) {
        await hello.start();
        services.push(hello);
      }
      nodes.push({ host, hello });
    }
    await fn(nodes);
  } finally {
    for (const s of services) await s.stop();
    for (const h of hosts) await h.stop();
  }
}

/** The hello a peer on `genesis` would send. */
function helloBytes(genesis: CID, weight = 100n): Uint8Array {
  return dagCbor.encode(encodeHello({
    heaviestTipSet: [encodeCbor({ head: "raw" }).cid],
    heaviestTipSetHeight: 5,
    heaviestTipSetWeight: weight,
    genesisHash: genesis,
  }));
}

/**
 * Opens a hello stream on `conn`, writes `bytes`, closes the write side and reads the reply.
 * Resolves with the reply bytes, or with the error that ended the read (a reset).
 */
async function sendRawHello(conn: Connection, bytes: Uint8Array): Promise<Uint8Array | Error> {
  const stream = await conn.newStream(HELLO_PROTOCOL);
  const reading = readAll(stream).catch((err: Error) => err);
  await stream.sink([bytes]).catch(() => {});
  return await reading;
}

Deno.test("HelloService greets both sides on the same genesis and measures latency", async () => {
  await withHelloNodes([{}, {}], async ([a, b]) => {
    const aId = a.host.peerId.toString();
    const bId = b.host.peerId.toString();
    const targets = [recordEvents(a.hello, "target"), recordEvents(b.hello, "target")];
    const greetedA = nextEvent<{ peerId: string }>(a.hello, "greeted");
    const greetedB = nextEvent<{ peerId: string }>(b.hello, "greeted");
    const latencyA = nextEvent<{ peerId: string; ms: number }>(a.hello, "latency");
    const latencyB = nextEvent<{ peerId: string; ms: number }>(b.hello, "latency");
    await a.host.libp2p.dial(b.host.addr);

    equal((await greetedA).peerId, bId);
    equal((await greetedB).peerId, aId);
    ok(a.hello.isGreeted(bId));
    ok(b.hello.isGreeted(aId));
    ok(a.hello.helloOf(bId)?.genesisHash.equals(GENESIS));
    const la = await latencyA;
    const lb = await latencyB;
    equal(la.peerId, bId);
    equal(lb.peerId, aId);
    ok(la.ms >= 0 && lb.ms >= 0);
    equal(a.hello.latencyOf(bId), la.ms);

    // Equal weights: nobody is a sync target.
    await sleep(QUIET_MS);
    for (const t of targets) {
      t.stop();
      deepStrictEqual(t.events, []);
    }
    equal(openConnections(a.host, b.host).length, 1);
  });
});

Deno.test("HelloService makes the heavier peer a sync target on the lighter side only", async () => {
  await withHelloNodes([{ weight: 100n }, { weight: 250n }], async ([light, heavy]) => {
    const heavyTargets = recordEvents(heavy.hello, "target");
    const target = nextEvent<{ peerId: string; hello: { heaviestTipSetWeight: bigint } }>(
      light.hello,
      "target",
    );
    const heavyGreeted = nextEvent(heavy.hello, "greeted");
    await heavy.host.libp2p.dial(light.host.addr);
    const t = await target;
    equal(t.peerId, heavy.host.peerId.toString());
    equal(t.hello.heaviestTipSetWeight, 250n);
    await heavyGreeted;
    await sleep(QUIET_MS);
    heavyTargets.stop();
    deepStrictEqual(heavyTargets.events, []);
  });
});

Deno.test("HelloService closes the whole connection on a foreign genesis", async () => {
  await withHelloNodes([{ genesis: GENESIS }, { genesis: FOREIGN_GENESIS }], async ([a, b]) => {
    const mismatches = [
      recordEvents<{ peerId: string; genesis: string }>(a.hello, "genesis-mismatch"),
      recordEvents<{ peerId: string; genesis: string }>(b.hello, "genesis-mismatch"),
    ];
    const greeted = [recordEvents(a.hello, "greeted"), recordEvents(b.hello, "greeted")];
    await a.host.libp2p.dial(b.host.addr);
    await waitUntil(
      () => mismatches.some((m) => m.events.length > 0),
      "a genesis-mismatch event",
    );
    await waitUntil(
      () => openConnections(a.host, b.host).length + openConnections(b.host, a.host).length === 0,
      "no connection left on either side",
    );
    for (const m of [...mismatches, ...greeted]) m.stop();
    for (const e of mismatches[0].events) {
      equal(e.peerId, b.host.peerId.toString());
      equal(e.genesis, FOREIGN_GENESIS.toString());
    }
    for (const e of mismatches[1].events) {
      equal(e.peerId, a.host.peerId.toString());
      equal(e.genesis, GENESIS.toString());
    }
    deepStrictEqual(greeted[0].events, []);
    deepStrictEqual(greeted[1].events, []);
  });
});

Deno.test("the side receiving a foreign-genesis hello closes the connection and says so", async () => {
  await withHelloNodes([{}, { raw: true }], async ([node, foreign]) => {
    const mismatch = nextEvent<{ peerId: string; genesis: string; remoteAddr: string }>(
      node.hello,
      "genesis-mismatch",
    );
    const conn = await foreign.host.libp2p.dial(node.host.addr);
    const reply = await sendRawHello(conn, helloBytes(FOREIGN_GENESIS));
    ok(reply instanceof Error || reply.length === 0, "no latency reply to a foreign hello");
    const m = await mismatch;
    equal(m.peerId, foreign.host.peerId.toString());
    equal(m.genesis, FOREIGN_GENESIS.toString());
    ok(m.remoteAddr.startsWith("/ip4/127.0.0.1/tcp/"));
    await waitUntil(
      () => node.host.libp2p.getConnections(foreign.host.peerId).length === 0,
      "the receiver dropped the connection",
    );
    await waitUntil(
      () => foreign.host.libp2p.getConnections(node.host.peerId).length === 0,
      "the foreign peer sees the connection closed",
    );
    ok(!node.hello.isGreeted(foreign.host.peerId.toString()));
  });
});

/** Byte strings that are not a hello, each with why. */
function malformedHellos(): Array<[string, Uint8Array]> {
  const good = helloBytes(GENESIS);
  const oversized = new Uint8Array(20 * 1024);
  oversized.set([0x59, 0x4f, 0xfc]); // CBOR byte string header of 20476 bytes
  return [
    ["not CBOR at all", enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["reserved CBOR bytes", new Uint8Array([0x1c, 0x1d, 0x1e, 0xff])],
    ["nothing before close", new Uint8Array(0)],
    ["truncated hello", good.subarray(0, good.length - 7)],
    ["hello with trailing bytes", new Uint8Array([...good, 0x01])],
    ["a CBOR map, not a tuple", dagCbor.encode({ genesis: GENESIS, height: 1 })],
    ["a 3-tuple", dagCbor.encode([[GENESIS], 1, encodeBigInt(1n)])],
    [
      "a 4-tuple of wrong types",
      dagCbor.encode(["not cids", -1, "weight", "genesis"]),
    ],
    [
      "a 4-tuple with an empty tipset",
      dagCbor.encode([[], 1, encodeBigInt(1n), GENESIS]),
    ],
    ["over the size cap", oversized],
  ];
}

Deno.test("malformed hellos are reported as malformed, reset, and do not stop good peers", async () => {
  await withHelloNodes([{}, { raw: true }, {}], async ([node, bad, good]) => {
    const badId = bad.host.peerId.toString();
    const conn = await bad.host.libp2p.dial(node.host.addr);
    for (const [why, bytes] of malformedHellos()) {
      const misbehaved = nextEvent<MisbehavedDetail>(
        node.hello,
        "misbehaved",
        undefined,
        (d) => d.peerId === badId,
      );
      const reply = await sendRawHello(conn, bytes);
      const m = await misbehaved.catch((err) => {
        throw new Error(`${why}: ${err.message}`);
      });
      equal(m.kind, "malformed", why);
      ok(reply instanceof Error, `${why}: the stream was reset, got ${reply}`);
      ok(!node.hello.isGreeted(badId), why);
    }
    // The hello handler still serves: the good peer and even the bad one's proper hello.
    const greeted = nextEvent<{ peerId: string }>(
      node.hello,
      "greeted",
      undefined,
      (d) => d.peerId === good.host.peerId.toString(),
    );
    await good.host.libp2p.dial(node.host.addr);
    await greeted;
    ok(good.hello.isGreeted(node.host.peerId.toString()));
    const reply = await sendRawHello(conn, helloBytes(GENESIS));
    ok(reply instanceof Uint8Array, `a proper hello gets a latency reply, got ${reply}`);
    equal((dagCbor.decode(reply) as unknown[]).length, 2);
    ok(node.hello.isGreeted(badId));
  });
});

Deno.test("a hello that never finishes is reported as a timeout and reset", async () => {
  await withHelloNodes([{ timeoutMs: SHORT_TIMEOUT_MS }, { raw: true }], async ([node, slow]) => {
    const conn = await slow.host.libp2p.dial(node.host.addr);
    const misbehaved = nextEvent<MisbehavedDetail>(node.hello, "misbehaved");
    const stream = await conn.newStream(HELLO_PROTOCOL);
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    // One byte of a 4-tuple header, then nothing: a slow-loris. Once the stream is reset, libp2p's
    // sink does not settle even after this source ends, so the write is not awaited.
    stream.sink((async function* () {
      yield new Uint8Array([0x84]);
      await held;
    })()).catch(() => {});
    const reading = readAll(stream).catch((err: Error) => err);
    const started = Date.now();
    try {
      const m = await misbehaved;
      equal(m.kind, "timeout");
      equal(m.peerId, slow.host.peerId.toString());
      ok(Date.now() - started >= SHORT_TIMEOUT_MS - 20, "not before the deadline");
      ok(await reading instanceof Error, "the slow stream was reset");
    } finally {
      release();
    }
    ok(!node.hello.isGreeted(slow.host.peerId.toString()));
  });
});

Deno.test("gated() refuses a peer's streams before its hello and serves them after", async () => {
  await withHelloNodes([{}, { raw: true }], async ([node, peer]) => {
    const peerId = peer.host.peerId.toString();
    await node.host.libp2p.handle(
      GATED_PROTOCOL,
      node.hello.gated(({ stream }) => {
        stream.sink(stream.source).catch((err) => stream.abort(err));
      }),
    );
    const conn = await peer.host.libp2p.dial(node.host.addr);
    const ask = async () => {
      const stream = await conn.newStream(GATED_PROTOCOL);
      const reading = readAll(stream).catch((err: Error) => err);
      await stream.sink([enc.encode("ping")]).catch(() => {});
      return await reading;
    };
    ok(!node.hello.isGreeted(peerId));
    const refused = await ask();
    ok(refused instanceof Error, `refused before hello, got ${refused}`);

    const greeted = nextEvent(node.hello, "greeted");
    const reply = await sendRawHello(conn, helloBytes(GENESIS));
    ok(reply instanceof Uint8Array);
    await greeted;
    deepStrictEqual(await ask(), enc.encode("ping"));
  });
});

Deno.test("a garbage latency reply to our hello is reported as malformed", async () => {
  await withHelloNodes([{}, { raw: true }], async ([node, liar]) => {
    // The raw peer reads our hello to its end, then answers with bytes that are no latency reply.
    await liar.host.libp2p.handle(HELLO_PROTOCOL, ({ stream }) => {
      readAll(stream)
        .then(() => stream.sink([dagCbor.encode({ not: "a latency tuple" })]))
        .catch((err) => stream.abort(err));
    });
    const misbehaved = nextEvent<MisbehavedDetail>(node.hello, "misbehaved");
    const latency = recordEvents(node.hello, "latency");
    await node.host.libp2p.dial(liar.host.addr);
    const m = await misbehaved;
    latency.stop();
    equal(m.kind, "malformed");
    equal(m.peerId, liar.host.peerId.toString());
    deepStrictEqual(latency.events, []);
  });
});

Deno.test("HelloService hangs up a connection opened before it started; the redial is greeted both ways", async () => {
  await withHelloNodes([{ weight: 500n }, { raw: true, weight: 100n }], async ([heavy, late]) => {
    // `late` is a host whose Hello has not started yet (a node between listen and Hello).
    const early = await heavy.host.libp2p.dial(late.host.addr);
    equal(early.status, "open");
    const closed = nextEvent(late.host.libp2p, "peer:disconnect");
    try {
      await late.hello.start();
      await closed;
      await waitUntil(() => early.status !== "open", "the early connection is gone");

      // Dialled again, with Hello running on both sides: both greet, and the lighter side
      // learns the heavier head as a sync target.
      const target = nextEvent<{ peerId: string }>(late.hello, "target");
      await late.host.libp2p.dial(heavy.host.addr);
      equal((await target).peerId, heavy.host.peerId.toString());
      await waitUntil(
        () => heavy.hello.isGreeted(late.host.peerId.toString()),
        "the heavy side greets the late one",
      );
    } finally {
      await late.hello.stop();
    }
  });
});
