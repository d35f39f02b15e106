import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { base58btc } from "multiformats/bases/base58";
import * as Digest from "multiformats/hashes/digest";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import {
  DEFAULT_MAX_AGE_MS,
  DEFAULT_MAX_PEERS,
  PeerBook,
  type PeerBookOptions,
} from "../src/net/peer_book.ts";

const NOW = 1_700_000_000_000;
const DAY = 24 * 60 * 60_000;

/** A valid sha2-256 peer ID ("Qm…") derived from `n` (0-65535). */
function peer(n: number): string {
  const bytes = new Uint8Array(32);
  bytes[0] = n >> 8;
  bytes[1] = n & 0xff;
  return base58btc.baseEncode(Digest.create(0x12, bytes).bytes);
}

function addr(n: number): string {
  return `/ip4/10.0.${(n >> 8) & 0xff}.${n & 0xff}/tcp/4001`;
}

/** A Kv in a fresh temp dir; `reopen()` closes and reopens it (a restart); `close()` cleans up. */
async function tempKv() {
  const dir = await Deno.makeTempDir({ prefix: "peer_book_test_" });
  const path = `${dir}/kv.sqlite`;
  let kv = await Deno.openKv(path);
  return {
    get kv() {
      return kv;
    },
    async reopen() {
      kv.close();
      kv = await Deno.openKv(path);
      return kv;
    },
    async close() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function withBook(
  options: PeerBookOptions,
  fn: (
    ctx: Awaited<ReturnType<typeof tempKv>> & { book: PeerBook; time: FakeTimeSource },
  ) => void | Promise<void>,
) {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(NOW);
    const book = await PeerBook.load(temp.kv, { time, ...options });
    await fn(Object.assign(temp, { book, time }));
  } finally {
    await temp.close();
  }
}

async function storedKeys(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: ["peers"] })) out.push(String(e.key[1]));
  return out.sort();
}

Deno.test("`PeerBook.best()` orders by score, then by most recently seen", async () => {
  await withBook({}, ({ book }) => {
    ok(book.remember(peer(1), { addrs: [addr(1)], score: 5, lastSeen: NOW - 1000 }));
    ok(book.remember(peer(2), { addrs: [addr(2)], score: 50, lastSeen: NOW - 5000 }));
    ok(book.remember(peer(3), { addrs: [addr(3)], score: 5, lastSeen: NOW - 10 }));
    ok(book.remember(peer(4), { addrs: [addr(4)], score: -20, lastSeen: NOW }));
    deepEqual(book.best(3).map((r) => r.peerId), [peer(2), peer(3), peer(1)]);
    deepEqual(book.all().map((r) => r.peerId), [peer(2), peer(3), peer(1), peer(4)]);
    deepEqual(book.best(0), []);
    equal(book.best(100).length, 4);
    equal(book.size, 4);
    deepEqual(book.get(peer(2)), {
      peerId: peer(2),
      addrs: [addr(2)],
      score: 50,
      lastSeen: NOW - 5000,
    });
    equal(book.get(peer(9)), undefined);
  });
});

Deno.test("`PeerBook.flush()` persists remembered peers and a reload after restart sees them", async () => {
  await withBook({}, async (ctx) => {
    const { book, time } = ctx;
    book.remember(peer(1), { addrs: [addr(1), "/ip6/::1/tcp/4001"], score: 12.5, lastSeen: NOW });
    book.remember(peer(2), { addrs: [addr(2)], score: -3, lastSeen: NOW - 100 });
    equal(book.pending, 2);
    deepEqual(await storedKeys(ctx.kv), [], "nothing is written before flush");
    deepEqual(await book.flush(), { written: 2, deleted: 0 });
    equal(book.pending, 0);
    deepEqual(await book.flush(), { written: 0, deleted: 0 });

    const kv = await ctx.reopen();
    const again = await PeerBook.load(kv, { time });
    deepEqual(again.loadReport, { loaded: 2, corrupt: 0, stale: 0, evicted: 0 });
    deepEqual(again.all(), book.all());
    equal(again.pending, 0);

    ok(again.forget(peer(1)));
    ok(!again.forget(peer(1)));
    deepEqual(await again.flush(), { written: 0, deleted: 1 });
    deepEqual(await storedKeys(kv), [peer(2)]);
  });
});

Deno.test("`PeerBook.remember()` updates a known peer without moving lastSeen backwards", async () => {
  await withBook({}, ({ book }) => {
    book.remember(peer(1), { addrs: [addr(1)], score: 1, lastSeen: NOW });
    book.remember(peer(1), { addrs: [addr(2)], score: 7, lastSeen: NOW - DAY });
    deepEqual(book.get(peer(1)), { peerId: peer(1), addrs: [addr(2)], score: 7, lastSeen: NOW });
    equal(book.size, 1);
    // A time from the future is pulled back to now.
    book.remember(peer(2), { addrs: [addr(2)], score: 0, lastSeen: NOW + DAY });
    equal(book.get(peer(2))?.lastSeen, NOW);
  });
});

Deno.test("`PeerBook` stays within maxPeers, evicting the worst record", async () => {
  await withBook({ maxPeers: 3 }, async ({ book, kv }) => {
    book.remember(peer(1), { addrs: [addr(1)], score: 10, lastSeen: NOW });
    book.remember(peer(2), { addrs: [addr(2)], score: 20, lastSeen: NOW });
    book.remember(peer(3), { addrs: [addr(3)], score: 30, lastSeen: NOW });
    await book.flush();
    // No better than the worst (10 and older): refused.
    ok(!book.remember(peer(4), { addrs: [addr(4)], score: 10, lastSeen: NOW - 1 }));
    ok(!book.remember(peer(4), { addrs: [addr(4)], score: 5, lastSeen: NOW }));
    equal(book.get(peer(4)), undefined);
    // Better: the worst gives way, on disk too after the flush.
    ok(book.remember(peer(5), { addrs: [addr(5)], score: 15, lastSeen: NOW }));
    deepEqual(book.all().map((r) => r.peerId), [peer(3), peer(2), peer(5)]);
    deepEqual(await book.flush(), { written: 1, deleted: 1 });
    deepEqual(await storedKeys(kv), [peer(2), peer(3), peer(5)].sort());
    // Updating a known peer never evicts anyone.
    ok(book.remember(peer(5), { addrs: [addr(5)], score: -100, lastSeen: NOW }));
    equal(book.size, 3);
  });
  equal(DEFAULT_MAX_PEERS, 1000);
});

Deno.test("`PeerBook.remember()` cleans addresses and refuses records with nothing usable", async () => {
  await withBook({ maxAddrs: 3 }, ({ book }) => {
    ok(book.remember(peer(1), {
      addrs: [
        "not a multiaddr",
        addr(1),
        addr(1),
        `/ip4/1.2.3.4/tcp/1/${"x".repeat(300)}`,
        "/ip4/1.2.3.4/tcp/ 1",
        42 as unknown as string,
        addr(2),
        "/dns4/example.com/tcp/4001",
        addr(3),
      ],
      score: 99_999,
      lastSeen: NOW,
    }));
    deepEqual(book.get(peer(1)), {
      peerId: peer(1),
      addrs: [addr(1), addr(2), "/dns4/example.com/tcp/4001"],
      score: 1000,
      lastSeen: NOW,
    });
    ok(!book.remember(peer(2), { addrs: [], score: 0, lastSeen: NOW }));
    ok(!book.remember(peer(2), { addrs: ["junk"], score: 0, lastSeen: NOW }));
    ok(!book.remember("not-a-peer-id", { addrs: [addr(1)], score: 0, lastSeen: NOW }));
    ok(!book.remember(peer(2), { addrs: "oops" as unknown as string[], score: 0, lastSeen: NOW }));
    equal(book.size, 1);
    throws(
      () => book.remember(peer(3), { addrs: [addr(3)], score: NaN, lastSeen: NOW }),
      RangeError,
    );
    throws(
      () => book.remember(peer(3), { addrs: [addr(3)], score: 0, lastSeen: Infinity }),
      RangeError,
    );
  });
});

Deno.test("`PeerBook` keeps each record under maxRecordBytes by dropping addresses", async () => {
  await withBook({ maxRecordBytes: 220, maxAddrs: 50 }, ({ book }) => {
    const addrs = Array.from({ length: 20 }, (_, i) => addr(i));
    ok(book.remember(peer(1), { addrs, score: 0, lastSeen: NOW }));
    const kept = book.get(peer(1))!;
    ok(kept.addrs.length >= 1 && kept.addrs.length < 20, `kept ${kept.addrs.length}`);
    deepEqual(kept.addrs, addrs.slice(0, kept.addrs.length), "the first addresses are kept");
    ok(JSON.stringify(kept).length <= 220);
  });
  await withBook({ maxRecordBytes: 120 }, ({ book }) => {
    // Even one address does not fit next to the peer ID: refused.
    ok(!book.remember(peer(1), { addrs: [addr(1)], score: 0, lastSeen: NOW }));
  });
});

Deno.test("`PeerBook.load()` skips and deletes corrupt records without throwing", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(NOW);
    const good = { v: 1, addrs: [addr(1)], score: 3, lastSeen: NOW };
    const records: [Deno.KvKey, unknown][] = [
      [["peers", peer(1)], good],
      [["peers", peer(2)], "a string"],
      [["peers", peer(3)], null],
      [["peers", peer(4)], new Uint8Array([1, 2, 3])],
      [["peers", peer(5)], { ...good, v: 2 }],
      [["peers", peer(6)], { ...good, addrs: [1, 2] }],
      [["peers", peer(7)], { ...good, addrs: [] }],
      [["peers", peer(8)], { ...good, score: "high" }],
      [["peers", peer(9)], { ...good, score: NaN }],
      [["peers", peer(10)], { ...good, lastSeen: -5 }],
      [["peers", peer(11)], { ...good, addrs: Array.from({ length: 300 }, (_, i) => addr(i)) }],
      [["peers", peer(12)], { ...good, addrs: [`/x/${"y".repeat(5000)}`] }],
      [["peers", "not-a-peer"], good],
      [["peers", 42], good],
      [["peers", peer(13), "nested"], good],
      [["peers"], good],
    ];
    for (const [key, value] of records) await temp.kv.set(key, value);
    const book = await PeerBook.load(temp.kv, { time });
    // Every record but the good one and the bare `["peers"]` key (not under the prefix).
    deepEqual(book.loadReport, { loaded: 1, corrupt: records.length - 2, stale: 0, evicted: 0 });
    deepEqual(book.all().map((r) => r.peerId), [peer(1)]);
    const left: Deno.KvKey[] = [];
    for await (const e of temp.kv.list({ prefix: ["peers"] })) left.push(e.key);
    deepEqual(left, [["peers", peer(1)]]);
    // The `["peers"]` key itself is not under the prefix: list() never returns it, it stays.
    ok((await temp.kv.get(["peers"])).value !== null);
  } finally {
    await temp.close();
  }
});

Deno.test("`PeerBook.load()` drops stale records and trims records beyond today's limits", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(NOW);
    await temp.kv.set(["peers", peer(1)], {
      v: 1,
      addrs: [addr(1)],
      score: 1,
      lastSeen: NOW - DEFAULT_MAX_AGE_MS - 1,
    });
    await temp.kv.set(["peers", peer(2)], {
      v: 1,
      addrs: [addr(1), addr(2), addr(3)],
      score: 50_000,
      lastSeen: NOW,
    });
    const book = await PeerBook.load(temp.kv, { time, maxAddrs: 2 });
    deepEqual(book.loadReport, { loaded: 1, corrupt: 0, stale: 1, evicted: 0 });
    deepEqual(book.get(peer(2)), {
      peerId: peer(2),
      addrs: [addr(1), addr(2)],
      score: 1000,
      lastSeen: NOW,
    });
    equal(book.pending, 1, "the trimmed record is rewritten on the next flush");
    await book.flush();
    deepEqual((await temp.kv.get(["peers", peer(2)])).value, {
      v: 1,
      addrs: [addr(1), addr(2)],
      score: 1000,
      lastSeen: NOW,
    });
    equal((await temp.kv.get(["peers", peer(1)])).value, null);
  } finally {
    await temp.close();
  }
});

Deno.test("`PeerBook.load()` keeps only the best maxPeers records and deletes the rest", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(NOW);
    for (let i = 1; i <= 6; i++) {
      await temp.kv.set(["peers", peer(i)], { v: 1, addrs: [addr(i)], score: i, lastSeen: NOW });
    }
    const book = await PeerBook.load(temp.kv, { time, maxPeers: 4 });
    deepEqual(book.loadReport, { loaded: 4, corrupt: 0, stale: 0, evicted: 2 });
    deepEqual(book.all().map((r) => r.score), [6, 5, 4, 3]);
    deepEqual(await storedKeys(temp.kv), [peer(3), peer(4), peer(5), peer(6)].sort());
  } finally {
    await temp.close();
  }
});

Deno.test("`PeerBook.flush()` batches 1500 large records into several atomic commits", async () => {
  await withBook({ maxPeers: 2000, maxAddrs: 16 }, async (ctx) => {
    const { book, time } = ctx;
    const addrs = (i: number) =>
      Array.from({ length: 16 }, (_, j) => `/ip4/10.${j}.${i >> 8}.${i & 0xff}/tcp/${4000 + j}`);
    for (let i = 0; i < 1500; i++) {
      ok(book.remember(peer(i), { addrs: addrs(i), score: i % 100, lastSeen: NOW - i }));
    }
    // 1500 records of ~600 bytes exceed one commit's 1000 mutations and ~800 KiB.
    let commits = 0;
    const kv = ctx.kv;
    const atomic = kv.atomic.bind(kv);
    kv.atomic = () => {
      const op = atomic();
      const commit = op.commit.bind(op);
      op.commit = () => {
        commits++;
        return commit();
      };
      return op;
    };
    deepEqual(await book.flush(), { written: 1500, deleted: 0 });
    ok(commits >= 3, `${commits} commits`);
    const again = await PeerBook.load(await ctx.reopen(), { time, maxPeers: 2000, maxAddrs: 16 });
    equal(again.size, 1500);
    deepEqual(again.best(5), book.best(5));
  });
});

Deno.test("`PeerBook.flush()` keeps changes made during a flush staged for the next one", async () => {
  await withBook({}, async ({ book, kv }) => {
    book.remember(peer(1), { addrs: [addr(1)], score: 1, lastSeen: NOW });
    // Change the record while the first flush's commit is in flight.
    const atomic = kv.atomic.bind(kv);
    let hooked = false;
    kv.atomic = () => {
      const op = atomic();
      const commit = op.commit.bind(op);
      op.commit = () => {
        if (!hooked) {
          hooked = true;
          book.remember(peer(1), { addrs: [addr(2)], score: 2, lastSeen: NOW });
        }
        return commit();
      };
      return op;
    };
    deepEqual(await book.flush(), { written: 1, deleted: 0 });
    ok(hooked);
    equal(book.pending, 1, "the change made during the flush is still staged");
    equal(((await kv.get(["peers", peer(1)])).value as { score: number }).score, 1);
    // Two flushes at once run one after the other.
    const [a, b] = await Promise.all([book.flush(), book.flush()]);
    deepEqual([a, b], [{ written: 1, deleted: 0 }, { written: 0, deleted: 0 }]);
    equal(book.pending, 0);
    deepEqual((await kv.get(["peers", peer(1)])).value, {
      v: 1,
      addrs: [addr(2)],
      score: 2,
      lastSeen: NOW,
    });
  });
});

Deno.test("`PeerBook.flush()` with an aborted signal writes nothing and keeps changes staged", async () => {
  await withBook({}, async ({ book, kv }) => {
    book.remember(peer(1), { addrs: [addr(1)], score: 1, lastSeen: NOW });
    const controller = new AbortController();
    controller.abort(new Error("stopping"));
    let failed = false;
    await book.flush({ signal: controller.signal }).catch(() => (failed = true));
    ok(failed);
    equal(book.pending, 1);
    deepEqual(await storedKeys(kv), []);
    await book.flush();
    deepEqual(await storedKeys(kv), [peer(1)]);
  });
});

Deno.test("`PeerBook.load()` rejects nonsensical limits", async () => {
  const temp = await tempKv();
  try {
    for (
      const bad of [{ maxPeers: 0 }, { maxAddrs: 1.5 }, { maxRecordBytes: -1 }, { maxAgeMs: 0 }]
    ) {
      let threw = false;
      await PeerBook.load(temp.kv, bad).catch((e) => (threw = e instanceof RangeError));
      ok(threw, JSON.stringify(bad));
    }
  } finally {
    await temp.close();
  }
});
