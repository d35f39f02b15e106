/**
 * ChainExchangeServer and ChainExchangeClient (src/protocols/chain_exchange_*.ts) between libp2p
 * hosts in this process, over an in-memory ChainExchangeSource holding a generated chain: every
 * status the server gives, its rate limit, malformed and slow requests, and a client fetching long
 * chains in batches and routing around a peer that serves a broken chain.
 */
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import type { Connection } from "@libp2p/interface";
import type { CID } from "multiformats/cid";
import {
  type BlockHeader,
  blockHeaderCid,
  type Message,
  type SignedMessage,
  type TipSet,
} from "../src/chain/types/mod.ts";
import { cidOf } from "../src/chain/types/cid.ts";
import { exchangeChain, exchangeMessagesOf } from "./_exchange_chain.ts";
import {
  ChainExchangeClient,
  ChainExchangeFailedError,
} from "../src/protocols/chain_exchange_client.ts";
import {
  decodeResponse,
  encodeRequest,
  encodeResponse,
  ExchangeOptions,
  type ExchangeResponse,
  ExchangeStatus,
} from "../src/protocols/chain_exchange_message.ts";
import { expandMessages } from "../src/protocols/chain_exchange_answer.ts";
import {
  CHAIN_EXCHANGE_PROTOCOL,
  ChainExchangeServer,
  type ChainExchangeServerOptions,
  type ChainExchangeSource,
} from "../src/protocols/chain_exchange_server.ts";
import { nextEvent, readAll, recordEvents, sleep, type TestHost, withHosts } from "./_net.ts";

const BOTH = ExchangeOptions.Headers | ExchangeOptions.Messages;

type Misbehaved = { peerId: string; kind: string; message: string };
type BadAnswer = { peerId: string; kind: string; reason: string };

// ---------------------------------------------------------------------------------------------
// A generated chain and an in-memory source over it

const makeChain = exchangeChain;

/** A ChainExchangeSource over `tipsets`; `withoutMessagesBelow` drops messages under a height. */
class MemorySource implements ChainExchangeSource {
  readonly #byKey = new Map<string, TipSet>();
  /** Block CID to its index in its tipset's canonical order. */
  readonly #index = new Map<string, number>();
  readonly #withoutMessagesBelow: number;
  constructor(tipsets: readonly TipSet[], options: { withoutMessagesBelow?: number } = {}) {
    for (const ts of tipsets) {
      this.#byKey.set(ts.key.toString(), ts);
      ts.cids.forEach((cid, i) => this.#index.set(cid.toString(), i));
    }
    this.#withoutMessagesBelow = options.withoutMessagesBelow ?? -1;
  }
  getTipSet(cids: readonly CID[]): Promise<TipSet | undefined> {
    return Promise.resolve(this.#byKey.get(`{${cids.map(String).join(",")}}`));
  }
  getBlockMessages(
    h: BlockHeader,
  ): Promise<{ bls: Message[]; secpk: SignedMessage[] } | undefined> {
    const i = this.#index.get(blockHeaderCid(h).toString());
    if (i === undefined || h.height < this.#withoutMessagesBelow) return Promise.resolve(undefined);
    return Promise.resolve(exchangeMessagesOf(h));
  }
}

/**
 * A source serving a chain whose links are broken: past the head, every parent lookup answers
 * with the tipset at the right height of another chain.
 */
class BrokenSource implements ChainExchangeSource {
  readonly #honest: MemorySource;
  readonly #other: readonly TipSet[];
  readonly #head: TipSet;
  constructor(chain: readonly TipSet[]) {
    this.#honest = new MemorySource(chain);
    this.#other = makeChain(chain.length, "broken");
    this.#head = chain[chain.length - 1];
  }
  async getTipSet(cids: readonly CID[]): Promise<TipSet | undefined> {
    const ts = await this.#honest.getTipSet(cids);
    if (ts === undefined || ts.equals(this.#head)) return ts;
    return this.#other[ts.height];
  }
  getBlockMessages(h: BlockHeader) {
    return this.#honest.getBlockMessages(h);
  }
}

// ---------------------------------------------------------------------------------------------
// Hosts

interface Served {
  server: ChainExchangeServer;
  host: TestHost;
}

/**
 * Starts `servers.length` serving hosts and one client host connected to each; runs `fn`, then
 * stops every server and host.
 */
async function withServers(
  servers: ChainExchangeServerOptions[],
  fn: (served: Served[], client: TestHost, conns: Connection[]) => Promise<void>,
): Promise<void> {
  await withHosts([...servers.map(() => ({})), {}], async (hosts) => {
    const client = hosts[hosts.length - 1];
    const made: Served[] = [];
    try {
      const conns: Connection[] = [];
      for (const [i, options] of servers.entries()) {
        const server = new ChainExchangeServer(options);
        await server.start();
        made.push({ server, host: hosts[i] });
        await hosts[i].libp2p.handle(CHAIN_EXCHANGE_PROTOCOL, server.handler(), {
          maxInboundStreams: 32,
        });
        conns.push(await client.libp2p.dial(hosts[i].addr));
      }
      await fn(made, client, conns);
    } finally {
      for (const { server } of made) await server.stop();
    }
  });
}

/** Sends raw request bytes on a new stream; resolves with the decoded answer or the reset. */
async function rawExchange(conn: Connection, bytes: Uint8Array): Promise<ExchangeResponse | Error> {
  const stream = await conn.newStream(CHAIN_EXCHANGE_PROTOCOL);
  const reading = readAll(stream).catch((err: Error) => err);
  await stream.sink([bytes]).catch(() => {});
  const reply = await reading;
  return reply instanceof Error ? reply : decodeResponse(dagCbor.decode(reply));
}

function ask(conn: Connection, head: readonly CID[], length: number, options = BOTH) {
  return rawExchange(conn, dagCbor.encode(encodeRequest({ head, length, options })));
}

function response(value: ExchangeResponse | Error): ExchangeResponse {
  if (value instanceof Error) throw value;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Server

Deno.test("ChainExchangeServer answers Ok with headers and compacted messages", async () => {
  const chain = makeChain(20);
  await withServers([{ source: new MemorySource(chain) }], async (_, __, [conn]) => {
    const res = response(await ask(conn, chain[19].cids, 5));
    equal(res.status, ExchangeStatus.Ok);
    equal(res.chain.length, 5);
    for (let i = 0; i < 5; i++) {
      const want = chain[19 - i];
      deepStrictEqual(res.chain[i].blocks.map(blockHeaderCid), [...want.cids]);
      const msgs = res.chain[i].messages!;
      // The message every block shares is stored once.
      equal(msgs.bls.length, 1 + want.blocks.length);
      const expanded = expandMessages(res.chain[i]);
      equal(expanded.length, want.blocks.length);
      equal(expanded[0].bls[0].nonce, BigInt(want.height * 100));
    }
    // Headers only: no messages.
    const headers = response(await ask(conn, chain[19].cids, 2, ExchangeOptions.Headers));
    equal(headers.chain[0].messages, null);
    // Messages only: no blocks.
    const messages = response(await ask(conn, chain[19].cids, 2, ExchangeOptions.Messages));
    deepStrictEqual(messages.chain[0].blocks, []);
    ok(messages.chain[0].messages !== null);
  });
});

Deno.test("ChainExchangeServer stops at its byte budget with Partial, however many tipsets were asked", async () => {
  const chain = makeChain(300);
  // 16 KiB of slack is kept under the cap: 40 KiB leaves ~24 KiB of tipsets.
  await withServers(
    [{ source: new MemorySource(chain), maxResponseBytes: 40 << 10 }],
    async (_, __, [conn]) => {
      const res = response(await ask(conn, chain[299].cids, 300));
      equal(res.status, ExchangeStatus.Partial);
      ok(res.chain.length > 5 && res.chain.length < 300, `${res.chain.length} tipsets`);
      ok(dagCbor.encode(encodeResponse(res)).length <= 40 << 10, "the answer fits the cap");
      // What it sent is the chain from the head down, in order.
      res.chain.forEach((t, i) =>
        deepStrictEqual(t.blocks.map(blockHeaderCid), [...chain[299 - i].cids])
      );
    },
  );
});

Deno.test("ChainExchangeServer answers Partial at genesis and where its chain or messages end", async () => {
  const chain = makeChain(10);
  // The source lacks tipsets below height 4 (it synced from a snapshot).
  const sources = [
    new MemorySource(chain),
    new MemorySource(chain.slice(4)),
    new MemorySource(chain, { withoutMessagesBelow: 7 }),
  ];
  await withServers(sources.map((source) => ({ source })), async (_, __, conns) => {
    const atGenesis = response(await ask(conns[0], chain[9].cids, 50, ExchangeOptions.Headers));
    equal(atGenesis.status, ExchangeStatus.Partial);
    equal(atGenesis.chain.length, 10);
    const snapshot = response(await ask(conns[1], chain[9].cids, 50, ExchangeOptions.Headers));
    equal(snapshot.status, ExchangeStatus.Partial);
    equal(snapshot.chain.length, 6);
    const noMessages = response(await ask(conns[2], chain[9].cids, 5));
    equal(noMessages.status, ExchangeStatus.Partial);
    equal(noMessages.chain.length, 3);
    const headMissing = response(await ask(conns[2], chain[5].cids, 5));
    equal(headMissing.status, ExchangeStatus.NotFound);
  });
});

Deno.test("ChainExchangeServer answers NotFound and BadRequest", async () => {
  const chain = makeChain(5);
  await withServers([{ source: new MemorySource(chain) }], async (_, __, [conn]) => {
    const unknown = response(await ask(conn, [cidOf("nowhere")], 1));
    equal(unknown.status, ExchangeStatus.NotFound);
    deepStrictEqual(unknown.chain, []);
    const head = chain[4].cids;
    for (
      const [length, options, why] of [
        [0, BOTH, /zero/],
        [901, BOTH, /over maximum allowed \(900\)/],
        [1, 0, /no options/],
      ] as const
    ) {
      const res = response(await ask(conn, head, length, options));
      equal(res.status, ExchangeStatus.BadRequest);
      ok(why.test(res.errorMessage), res.errorMessage);
    }
    equal(response(await ask(conn, [], 1)).status, ExchangeStatus.BadRequest);
  });
});

Deno.test("ChainExchangeServer answers GoAway past a peer's rate budget and reports it", async () => {
  const chain = makeChain(5);
  let now = 0;
  await withServers(
    [{ source: new MemorySource(chain), maxRequestsPerPeerPerMinute: 3, now: () => now }],
    async ([{ server }], client, [conn]) => {
      const events = recordEvents<Misbehaved>(server, "misbehaved");
      for (let i = 0; i < 3; i++) {
        equal(response(await ask(conn, chain[4].cids, 1)).status, ExchangeStatus.Ok);
      }
      const limited = response(await ask(conn, chain[4].cids, 1));
      equal(limited.status, ExchangeStatus.GoAway);
      events.stop();
      deepStrictEqual(events.events.map((e) => [e.peerId, e.kind]), [
        [client.peerId.toString(), "rate-limited"],
      ]);
      // A third of a minute later one request's worth has come back.
      now += 20_000;
      equal(response(await ask(conn, chain[4].cids, 1)).status, ExchangeStatus.Ok);
      equal(response(await ask(conn, chain[4].cids, 1)).status, ExchangeStatus.GoAway);
    },
  );
});

Deno.test("ChainExchangeServer resets malformed requests and reports the peer", async () => {
  const chain = makeChain(3);
  await withServers([{ source: new MemorySource(chain) }], async ([{ server }], client, [conn]) => {
    const bad = [
      Uint8Array.of(0xff, 0x00), // not CBOR
      dagCbor.encode({ head: 1 }), // a map
      dagCbor.encode([[chain[2].cids[0]], "1", 1]), // Length a string
      new Uint8Array(70 * 1024).fill(0x41), // over the request cap
    ];
    for (const bytes of bad) {
      const misbehaved = nextEvent<Misbehaved>(server, "misbehaved");
      const result = await rawExchange(conn, bytes);
      ok(result instanceof Error, "the stream is reset, not answered");
      const event = await misbehaved;
      equal(event.kind, "malformed");
      equal(event.peerId, client.peerId.toString());
    }
    // The connection still serves good requests.
    equal(response(await ask(conn, chain[2].cids, 1)).status, ExchangeStatus.Ok);
  });
});

Deno.test("ChainExchangeServer resets a slow-loris request after its deadline", async () => {
  const chain = makeChain(3);
  await withServers(
    [{ source: new MemorySource(chain), timeoutMs: 200 }],
    async ([{ server }], client, [conn]) => {
      const misbehaved = nextEvent<Misbehaved>(server, "misbehaved");
      const bytes = dagCbor.encode(encodeRequest({ head: chain[2].cids, length: 1, options: 1 }));
      const stream = await conn.newStream(CHAIN_EXCHANGE_PROTOCOL);
      const hold = Promise.withResolvers<void>();
      // The sink never settles once the stream is reset under it; the hosts' stop ends it.
      stream.sink((async function* () {
        yield bytes.subarray(0, 5);
        await hold.promise;
      })()).catch(() => {});
      const started = Date.now();
      const event = await misbehaved;
      const read = await readAll(stream).catch((err: Error) => err);
      ok(read instanceof Error, "reset");
      equal(event.kind, "timeout");
      equal(event.peerId, client.peerId.toString());
      ok(Date.now() - started < 5_000);
      hold.resolve();
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Client

Deno.test("ChainExchangeClient fetches 2000 tipsets from one server in batches of 900", async () => {
  const chain = makeChain(2100);
  await withServers([{ source: new MemorySource(chain) }], async ([{ host }], client) => {
    const exchange = new ChainExchangeClient({
      libp2p: client.libp2p,
      peers: () => [host.peerId.toString()],
    });
    const good = recordEvents<{ peerId: string; tipsets: number }>(exchange, "good-answer");
    const got = await exchange.getChain(chain[2099].cids, 2000);
    good.stop();
    equal(got.tipsets.length, 2000);
    equal(got.peer, host.peerId.toString());
    equal(got.messages, undefined);
    for (let i = 0; i < 2000; i++) ok(got.tipsets[i].equals(chain[2099 - i]), `tipset ${i}`);
    deepStrictEqual(good.events.map((e) => e.tipsets), [900, 900, 200]);
  });
});

Deno.test("ChainExchangeClient returns messages per block and stops at a Partial answer", async () => {
  const chain = makeChain(12);
  await withServers([{ source: new MemorySource(chain) }], async ([{ host }], client) => {
    const exchange = new ChainExchangeClient({
      libp2p: client.libp2p,
      peers: () => [host.peerId.toString()],
    });
    const got = await exchange.getChain(chain[11].cids, 4, { messages: true });
    equal(got.tipsets.length, 4);
    equal(got.messages!.length, 4);
    for (let i = 0; i < 4; i++) {
      const ts = chain[11 - i];
      deepStrictEqual(got.messages![i], ts.blocks.map((b) => exchangeMessagesOf(b)));
    }
    // Asking past genesis: Partial, and the client returns what there is.
    const all = await exchange.getChain(chain[11].cids, 1000);
    equal(all.tipsets.length, 12);
    equal(all.tipsets[11].height, 0);
  });
});

Deno.test("ChainExchangeClient routes around a server with a broken chain and reports it", async () => {
  const chain = makeChain(30);
  await withServers(
    [{ source: new BrokenSource(chain) }, { source: new MemorySource(chain) }],
    async ([bad, good], client) => {
      const exchange = new ChainExchangeClient({
        libp2p: client.libp2p,
        peers: () => [bad.host.peerId.toString(), good.host.peerId.toString()],
        spread: 1, // always the bad one first
      });
      const badAnswers = recordEvents<BadAnswer>(exchange, "bad-answer");
      const got = await exchange.getChain(chain[29].cids, 20);
      badAnswers.stop();
      equal(got.tipsets.length, 20);
      equal(got.peer, good.host.peerId.toString());
      for (let i = 0; i < 20; i++) ok(got.tipsets[i].equals(chain[29 - i]));
      equal(badAnswers.events.length, 1);
      equal(badAnswers.events[0].peerId, bad.host.peerId.toString());
      equal(badAnswers.events[0].kind, "invalid");
      ok(/not connected/.test(badAnswers.events[0].reason), badAnswers.events[0].reason);
    },
  );
});

Deno.test("ChainExchangeClient.getMessages() fetches messages only, refusing ones that do not match the roots", async () => {
  const chain = makeChain(1000);
  // Serves the right chain, but each block's messages are those of the block one height up.
  const swapped = new MemorySource(chain);
  const wrong: ChainExchangeSource = {
    getTipSet: (cids) => swapped.getTipSet(cids),
    getBlockMessages: (h) => Promise.resolve(exchangeMessagesOf({ ...h, height: h.height + 1 })),
  };
  await withServers(
    [{ source: wrong }, { source: new MemorySource(chain) }],
    async ([liar, honest], client) => {
      const exchange = new ChainExchangeClient({
        libp2p: client.libp2p,
        peers: () => [liar.host.peerId.toString(), honest.host.peerId.toString()],
        spread: 1, // the liar first, every batch
      });
      const bad = recordEvents<BadAnswer>(exchange, "bad-answer");
      // 950 known tipsets from 999 down: two requests (900 + 50), each refused from the liar.
      const known = chain.slice(50).reverse();
      const got = await exchange.getMessages(known);
      bad.stop();
      equal(got.peer, honest.host.peerId.toString());
      equal(got.messages.length, 950);
      for (const i of [0, 1, 899, 900, 949]) {
        deepStrictEqual(got.messages[i], known[i].blocks.map((b) => exchangeMessagesOf(b)));
      }
      deepStrictEqual(bad.events.map((e) => e.kind), ["invalid", "invalid"]);
      ok(bad.events.every((e) => e.peerId === liar.host.peerId.toString()));
      ok(/do not match its message root/.test(bad.events[0].reason), bad.events[0].reason);
    },
  );
});

Deno.test("ChainExchangeClient spreads batches over its best peers and fails with every reason", async () => {
  const chain = makeChain(10);
  await withServers(
    [{ source: new MemorySource(chain) }, { source: new MemorySource(chain) }],
    async ([a, b], client) => {
      const ids = [a.host.peerId.toString(), b.host.peerId.toString()];
      const exchange = new ChainExchangeClient({ libp2p: client.libp2p, peers: () => ids });
      const served = new Set<string>();
      for (let i = 0; i < 4; i++) served.add((await exchange.getChain(chain[9].cids, 2)).peer);
      deepStrictEqual([...served].sort(), [...ids].sort());

      // Both peers lack the head: NotFound from each, then a failure naming both.
      const bad = recordEvents<BadAnswer>(exchange, "bad-answer");
      await rejects(
        exchange.getChain([cidOf("nowhere")], 3),
        (e: unknown) => e instanceof ChainExchangeFailedError && e.attempts.length === 2,
      );
      bad.stop();
      deepStrictEqual(bad.events.map((e) => e.kind), ["status", "status"]);
      await rejects(
        new ChainExchangeClient({ libp2p: client.libp2p, peers: () => [] }).getChain(
          chain[9].cids,
          1,
        ),
        ChainExchangeFailedError,
      );
    },
  );
});

Deno.test("ChainExchangeClient asks the preferred peer first, past peers that lack the head", async () => {
  const chain = makeChain(10);
  const fork = makeChain(10, "fork");
  // Three peers with the main chain rank first; only the last one has the fork.
  await withServers(
    [
      { source: new MemorySource(chain) },
      { source: new MemorySource(chain) },
      { source: new MemorySource(chain) },
      { source: new MemorySource(fork) },
    ],
    async (servers, client) => {
      const ids = servers.map((s) => s.host.peerId.toString());
      const exchange = new ChainExchangeClient({
        libp2p: client.libp2p,
        peers: () => ids,
        maxAttempts: 2,
      });
      // Without the preference, two attempts on peers that lack the fork fail the request.
      await rejects(exchange.getChain(fork[9].cids, 3), ChainExchangeFailedError);
      const bad = recordEvents<BadAnswer>(exchange, "bad-answer");
      const got = await exchange.getChain(fork[9].cids, 3, { preferPeer: ids[3] });
      bad.stop();
      equal(got.peer, ids[3]);
      equal(got.tipsets.length, 3);
      deepStrictEqual(bad.events, [], "no peer was asked before the preferred one");
    },
  );
});

Deno.test("ChainExchangeClient stops asking a preferred peer first once its answer failed", async () => {
  const chain = makeChain(30);
  await withServers(
    [{ source: new BrokenSource(chain) }, { source: new MemorySource(chain) }],
    async ([liar, honest], client) => {
      const liarId = liar.host.peerId.toString();
      const exchange = new ChainExchangeClient({
        libp2p: client.libp2p,
        peers: () => [honest.host.peerId.toString(), liarId],
        spread: 1, // without the preference the honest peer is always first
      });
      const bad = recordEvents<BadAnswer>(exchange, "bad-answer");
      // The liar announced the head: asked first, fails, the honest peer answers.
      const first = await exchange.getChain(chain[29].cids, 10, { preferPeer: liarId });
      equal(first.peer, honest.host.peerId.toString());
      // Still named as preferred for the next batch, it is not asked first again.
      const second = await exchange.getChain(chain[19].cids, 10, { preferPeer: liarId });
      bad.stop();
      equal(second.peer, honest.host.peerId.toString());
      deepStrictEqual(bad.events.map((e) => e.peerId), [liarId], "the liar was asked once");
    },
  );
});

Deno.test("ChainExchangeClient gives up on a stalled peer at its timeout", async () => {
  const chain = makeChain(5);
  const stalled: ChainExchangeSource = {
    getTipSet: () => sleep(1_000).then(() => undefined),
    getBlockMessages: () => Promise.resolve(undefined),
  };
  await withServers([{ source: stalled }], async ([{ host }], client) => {
    const exchange = new ChainExchangeClient({
      libp2p: client.libp2p,
      peers: () => [host.peerId.toString()],
      timeoutMs: 200,
    });
    const bad = nextEvent<BadAnswer>(exchange, "bad-answer");
    await rejects(exchange.getChain(chain[4].cids, 1), ChainExchangeFailedError);
    equal((await bad).kind, "timeout");
    await sleep(1_000); // let the stalled source finish before the hosts stop
  });
});
