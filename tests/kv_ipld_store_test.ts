/**
 * `KvIpldStore` beyond the shared contract (`ipld_store_test.ts`): key layout, commit batching,
 * crashes and races during chunked writes, corrupt records written straight into KV, and
 * `fsckIpldStore`.
 */
import assert from "node:assert/strict";
import { type Block, encodeRaw } from "../src/ipld/block.ts";
import { CorruptRecordError } from "../src/errors.ts";
import { BlockNotFoundError } from "../src/ipld/ipld_store.ts";
import { fsckIpldStore, type FsckReport } from "../src/repo/ipld_store_fsck.ts";
import {
  CHUNK_BYTES,
  type ChunkedHeader,
  KvBlockKeys,
  KvIpldStore,
} from "../src/repo/kv_ipld_store.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const KEYS = new KvBlockKeys(["blocks"]);

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, i + 65_536));
  return out;
}

function rawBlock(size: number): Block {
  return encodeRaw(randomBytes(size));
}

/** A fresh Kv in a temp dir, closed and removed by the returned `close()`. */
async function tempKv(): Promise<{ kv: Deno.Kv; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "kv_ipld_store_test_" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  return {
    kv,
    async close() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Run `fn` with a temp Kv and a store over it. */
function withStore(fn: (store: KvIpldStore, kv: Deno.Kv) => Promise<void>): () => Promise<void> {
  return async () => {
    const { kv, close } = await tempKv();
    try {
      await fn(new KvIpldStore(kv), kv);
    } finally {
      await close();
    }
  };
}

interface Spy {
  kv: Deno.Kv;
  commits: number;
  listedPrefixes: Deno.KvKey[];
  readKeys: Deno.KvKey[];
  /** Called before commit number `n` (1-based) runs; may throw to simulate a crash. */
  beforeCommit?: (n: number) => Promise<void> | void;
}

/** A Kv that counts atomic commits and records list prefixes and read keys. */
function spyKv(kv: Deno.Kv): Spy {
  const spy: Spy = { kv, commits: 0, listedPrefixes: [], readKeys: [] };
  spy.kv = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          return new Proxy(op, {
            get(opTarget, opProp) {
              if (opProp === "commit") {
                return async () => {
                  const n = ++spy.commits;
                  await spy.beforeCommit?.(n);
                  return await opTarget.commit();
                };
              }
              const v = Reflect.get(opTarget, opProp, opTarget);
              return typeof v === "function" ? v.bind(opTarget) : v;
            },
          });
        };
      }
      if (prop === "list") {
        return (selector: { prefix: Deno.KvKey }, options?: Deno.KvListOptions) => {
          spy.listedPrefixes.push(selector.prefix);
          return target.list(selector, options);
        };
      }
      if (prop === "get") {
        return (key: Deno.KvKey) => {
          spy.readKeys.push(key);
          return target.get(key);
        };
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[]) => {
          spy.readKeys.push(...keys);
          return target.getMany(keys);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return spy;
}

async function countPrefix(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

async function headerOf(kv: Deno.Kv, block: Block): Promise<ChunkedHeader> {
  return (await kv.get<ChunkedHeader>(KEYS.block(block.cid))).value!;
}

async function corruptErrorOf(p: Promise<unknown>): Promise<CorruptRecordError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof CorruptRecordError, `expected CorruptRecordError, got ${err}`);
  return err;
}

const CLEAN: Omit<FsckReport, "blocks" | "chunkedBlocks"> = {
  orphanChunks: 0,
  brokenBlocks: [],
  hashMismatches: [],
  repaired: 0,
};

function assertClean(report: FsckReport): void {
  const { blocks: _b, chunkedBlocks: _c, ...rest } = report;
  assert.deepEqual(rest, CLEAN);
}

// --- layout and lifecycle ----------------------------------------------------------------------

Deno.test(
  "KvIpldStore stores a small block as raw bytes under one key named by the CID's bytes",
  withStore(async (store, kv) => {
    const block = rawBlock(64 * KiB);
    await store.put(block.cid, block.bytes);
    const entry = await kv.get(["blocks", "b", block.cid.bytes]);
    assert.ok(entry.value instanceof Uint8Array);
    assert.deepEqual(entry.value, block.bytes);
    assert.equal(await countPrefix(kv, ["blocks", "c"]), 0);
    assert.equal(await countPrefix(kv, ["blocks", "m"]), 0);
  }),
);

Deno.test(
  "KvIpldStore stores a block over 64 KiB as a header, 64 KiB chunks and a manifest",
  withStore(async (store, kv) => {
    const block = rawBlock(2 * MiB);
    await store.put(block.cid, block.bytes);
    const header = await headerOf(kv, block);
    assert.equal(header.size, 2 * MiB);
    assert.equal(header.chunks, 2 * MiB / CHUNK_BYTES);
    assert.equal(await countPrefix(kv, KEYS.chunksOf(header.id)), 32);
    assert.equal(await countPrefix(kv, ["blocks", "m"]), 1);
    await store.delete(block.cid);
    assert.equal(await countPrefix(kv, ["blocks"]), 0, "delete leaves no chunk or manifest");
  }),
);

Deno.test("KvIpldStore keeps stores with different key prefixes apart", async () => {
  const { kv, close } = await tempKv();
  try {
    const a = new KvIpldStore(kv, { keyPrefix: ["a"] });
    const b = new KvIpldStore(kv, { keyPrefix: ["b", "blocks"] });
    const block = rawBlock(100 * KiB);
    await a.put(block.cid, block.bytes);
    assert.equal(await b.has(block.cid), false);
    assert.deepEqual(await a.get(block.cid), block.bytes);
    assert.equal(await countPrefix(kv, ["b"]), 0);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore.close() leaves a borrowed Kv open; open() owns and closes its own", async () => {
  const { kv, close } = await tempKv();
  const dir = await Deno.makeTempDir({ prefix: "kv_ipld_store_test_" });
  try {
    const borrowed = new KvIpldStore(kv);
    borrowed.close();
    await kv.set(["still", "open"], 1); // would throw on a closed Kv
    const owned = await KvIpldStore.open(`${dir}/own.sqlite`);
    const block = rawBlock(10);
    await owned.put(block.cid, block.bytes);
    owned.close();
    owned.close(); // idempotent
    await assert.rejects(owned.get(block.cid));
    assert.throws(() => new KvIpldStore(kv, { maxBlockSize: -1 }), RangeError);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

// --- batching ----------------------------------------------------------------------------------

Deno.test("KvIpldStore.putMany() packs 3000 blocks of 1 KiB into 4 or 5 atomic commits", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const blocks = Array.from({ length: 3000 }, () => rawBlock(1 * KiB));
    await store.putMany(blocks);
    // 3000 x ~1.1 KiB (bytes plus key) under 800 KiB per commit: at least 4 commits.
    assert.ok(spy.commits >= 4 && spy.commits <= 5, `${spy.commits} commits`);
    assert.equal(await countPrefix(kv, ["blocks", "b"]), 3000);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore.putMany() packs chunks of 30 blocks of 1 MiB into full commits", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const blocks = Array.from({ length: 30 }, () => rawBlock(1 * MiB));
    await store.putMany(blocks);
    // 480 chunks of 64 KiB, 12 per 800 KiB commit: 40 commits; headers ride along.
    assert.ok(spy.commits <= 41, `${spy.commits} commits`);
    for (const b of blocks) assert.deepEqual(await store.get(b.cid), b.bytes);
    assertClean(await fsckIpldStore(kv));
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore.getMany() reads small blocks with one kv.getMany per 10 CIDs", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const blocks = Array.from({ length: 25 }, () => rawBlock(100));
    await store.putMany(blocks);
    spy.readKeys.length = 0;
    let n = 0;
    for await (const b of store.getMany(blocks.map((b) => b.cid))) {
      assert.deepEqual(b.bytes, blocks[n++].bytes);
    }
    assert.equal(n, 25);
    assert.equal(spy.readKeys.length, 25);
  } finally {
    await close();
  }
});

// --- crashes and races -------------------------------------------------------------------------

Deno.test("KvIpldStore: a reader during a 2 MiB put sees no block or the whole block", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const block = rawBlock(2 * MiB);
    let absentReads = 0;
    let wholeReads = 0;
    // Read between every commit of the put: chunks are committed, the header not yet.
    spy.beforeCommit = async () => {
      try {
        const got = await store.get(block.cid);
        assert.deepEqual(got, block.bytes);
        wholeReads++;
      } catch (err) {
        if (!(err instanceof BlockNotFoundError)) throw err;
        absentReads++;
      }
    };
    await store.put(block.cid, block.bytes);
    assert.equal(spy.commits, 3, "2 MiB = 32 chunks = 3 commits of at most 12");
    assert.equal(absentReads, 3);
    assert.equal(wholeReads, 0);
    spy.beforeCommit = undefined;
    assert.deepEqual(await store.get(block.cid), block.bytes);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore: concurrent readers racing a chunked put never see part of it", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const block = rawBlock(2 * MiB - 7);
    let done = false;
    let reads = 0;
    const reader = async () => {
      while (!done) {
        reads++;
        const got = await store.get(block.cid).catch((err) => {
          if (err instanceof BlockNotFoundError) return undefined;
          throw err;
        });
        if (got !== undefined) assert.deepEqual(got, block.bytes);
      }
    };
    const readers = [reader(), reader()];
    await store.put(block.cid, block.bytes);
    done = true;
    await Promise.all(readers);
    assert.ok(reads > 2, `${reads} reads`);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore: two concurrent puts of one chunked CID both succeed and leave no orphan", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const block = rawBlock(2 * MiB);
    await Promise.all([store.put(block.cid, block.bytes), store.put(block.cid, block.bytes)]);
    assert.deepEqual(await store.get(block.cid), block.bytes);
    assertClean(await fsckIpldStore(kv, { deep: true }));
    assert.equal(await countPrefix(kv, ["blocks", "c"]), 32);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore: a crash before the header commit leaves only orphans that fsck removes", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const block = rawBlock(2 * MiB);
    spy.beforeCommit = (n) => {
      if (n === 3) throw new Error("simulated crash");
    };
    await assert.rejects(store.put(block.cid, block.bytes), /simulated crash/);
    spy.beforeCommit = undefined;
    await assert.rejects(store.get(block.cid), BlockNotFoundError);
    assert.equal(await store.has(block.cid), false);

    const report = await fsckIpldStore(kv);
    assert.deepEqual(report, { ...CLEAN, blocks: 0, chunkedBlocks: 0, orphanChunks: 24 });
    assert.equal(await countPrefix(kv, ["blocks", "c"]), 24, "report only: nothing deleted");

    const repaired = await fsckIpldStore(kv, { repair: true });
    assert.equal(repaired.orphanChunks, 24);
    assert.equal(repaired.repaired, 24);
    assert.equal(await countPrefix(kv, ["blocks"]), 0);
    assertClean(await fsckIpldStore(kv, { deep: true }));

    await store.put(block.cid, block.bytes);
    assert.deepEqual(await store.get(block.cid), block.bytes);
  } finally {
    await close();
  }
});

Deno.test("KvIpldStore: a put whose chunks fsck reaps mid-write starts over and succeeds", async () => {
  const { kv, close } = await tempKv();
  try {
    const spy = spyKv(kv);
    const store = new KvIpldStore(spy.kv);
    const block = rawBlock(2 * MiB);
    let reaped: FsckReport | undefined;
    spy.beforeCommit = async (n) => {
      if (n === 3) reaped = await fsckIpldStore(kv, { repair: true });
    };
    await store.put(block.cid, block.bytes);
    spy.beforeCommit = undefined;
    assert.equal(reaped?.orphanChunks, 24, "fsck saw the in-flight write as orphan");
    assert.deepEqual(await store.get(block.cid), block.bytes);
    assertClean(await fsckIpldStore(kv, { deep: true }));
    assert.equal(await countPrefix(kv, ["blocks", "c"]), 32);
  } finally {
    await close();
  }
});

// --- corrupt records ---------------------------------------------------------------------------

Deno.test(
  "KvIpldStore.get()/has()/getMany() throw CorruptRecordError naming the CID for a value of the wrong type",
  withStore(async (store, kv) => {
    const block = rawBlock(100);
    for (const bad of ["a string", 42, null, { size: 1 }, [1, 2], new Uint16Array(4), true]) {
      await kv.set(KEYS.block(block.cid), bad);
      const err = await corruptErrorOf(store.get(block.cid));
      assert.ok(err.message.includes(block.cid.toString()), err.message);
      await corruptErrorOf(store.has(block.cid));
      await corruptErrorOf((async () => {
        for await (const _ of store.getMany([block.cid])) { /* drain */ }
      })());
    }
    await store.delete(block.cid);
    assert.equal((await kv.get(KEYS.block(block.cid))).versionstamp, null, "delete removes it");
  }),
);

Deno.test(
  "KvIpldStore.get() throws CorruptRecordError for a malformed chunk header",
  withStore(async (store, kv) => {
    const block = rawBlock(200 * KiB);
    await store.put(block.cid, block.bytes);
    const header = await headerOf(kv, block);
    const bad: unknown[] = [
      { ...header, size: 1 * KiB }, // too small to be chunked
      { ...header, chunks: header.chunks + 1 }, // count disagrees with size
      { ...header, id: "not bytes" },
      { ...header, stamps: header.stamps.slice(1) },
      { ...header, size: 2 ** 40, chunks: Math.ceil(2 ** 40 / CHUNK_BYTES) }, // absurd size
    ];
    for (const value of bad) {
      await kv.set(KEYS.block(block.cid), value);
      const err = await corruptErrorOf(store.get(block.cid));
      assert.ok(err.message.includes(block.cid.toString()));
    }
  }),
);

Deno.test(
  "KvIpldStore.get() throws CorruptRecordError for a missing, truncated, mistyped or rewritten chunk",
  withStore(async (store, kv) => {
    const cases: [string, (h: ChunkedHeader) => Promise<unknown>, RegExp][] = [
      ["missing", (h) => kv.delete(KEYS.chunk(h.id, 1)), /chunk 1 of 4 is missing/],
      [
        "truncated",
        (h) => kv.set(KEYS.chunk(h.id, 2), randomBytes(100)),
        /chunk 2 of 4 is 100 bytes/,
      ],
      ["mistyped", (h) => kv.set(KEYS.chunk(h.id, 0), "junk"), /chunk 0 of 4 is not bytes/],
      [
        "rewritten",
        (h) => kv.set(KEYS.chunk(h.id, 3), randomBytes(200 * KiB - 3 * CHUNK_BYTES)),
        /chunk 3 of 4 was rewritten/,
      ],
    ];
    for (const [what, damage, message] of cases) {
      const block = rawBlock(200 * KiB);
      await store.put(block.cid, block.bytes);
      await damage(await headerOf(kv, block));
      const err = await corruptErrorOf(store.get(block.cid));
      assert.match(err.message, message, what);
      assert.ok(err.message.includes(block.cid.toString()));
      assert.equal(await store.has(block.cid), true, "has() reads only the header");
    }
  }),
);

Deno.test(
  "KvIpldStore.get({ verify: true }) throws CorruptRecordError when bytes do not hash to the CID",
  withStore(async (store, kv) => {
    const small = rawBlock(1 * KiB);
    const big = rawBlock(100 * KiB);
    await store.putMany([small, big]);
    const tampered = small.bytes.slice();
    tampered[0] ^= 1;
    await kv.set(KEYS.block(small.cid), tampered);
    assert.deepEqual(await store.get(small.cid), tampered, "no rehash unless asked");
    await corruptErrorOf(store.get(small.cid, { verify: true }));
    assert.deepEqual(await store.get(big.cid, { verify: true }), big.bytes);
    // A put of the true bytes heals a tampered small block.
    await store.put(small.cid, small.bytes);
    assert.deepEqual(await store.get(small.cid, { verify: true }), small.bytes);
  }),
);

Deno.test(
  "KvIpldStore.put() of a chunked block replaces a corrupt record at its key",
  withStore(async (store, kv) => {
    const block = rawBlock(150 * KiB);
    await kv.set(KEYS.block(block.cid), "garbage");
    await store.put(block.cid, block.bytes);
    assert.deepEqual(await store.get(block.cid), block.bytes);
  }),
);

// --- fsck ----------------------------------------------------------------------------------------

Deno.test("fsckIpldStore() reports a healthy store clean and counts its chunked blocks", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    await store.putMany([rawBlock(10), rawBlock(70 * KiB), rawBlock(1 * MiB), rawBlock(5)]);
    const cheap = await fsckIpldStore(kv);
    assertClean(cheap);
    assert.equal(cheap.chunkedBlocks, 2);
    assert.equal(cheap.blocks, 2, "the cheap pass does not visit inline blocks");
    const deep = await fsckIpldStore(kv, { deep: true });
    assertClean(deep);
    assert.equal(deep.blocks, 4);
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() cheap pass reads no chunk value and lists no chunk of a healthy store", async () => {
  const { kv, close } = await tempKv();
  try {
    await new KvIpldStore(kv).putMany(Array.from({ length: 5 }, () => rawBlock(300 * KiB)));
    const spy = spyKv(kv);
    assertClean(await fsckIpldStore(spy.kv));
    assert.deepEqual(spy.listedPrefixes, [["blocks", "m"]]);
    assert.ok(spy.readKeys.every((k) => k[1] === "b"), "reads only headers");
    assert.equal(spy.commits, 1, "one check-only commit proves all 25 chunks");
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() finds a header with a missing chunk and repair removes the block", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const good = rawBlock(300 * KiB);
    const broken = rawBlock(300 * KiB);
    await store.putMany([good, broken]);
    const header = await headerOf(kv, broken);
    await kv.delete(KEYS.chunk(header.id, 4));

    const report = await fsckIpldStore(kv);
    assert.deepEqual(report.brokenBlocks, [broken.cid.toString()]);
    assert.equal(report.repaired, 0);
    await corruptErrorOf(store.get(broken.cid));

    const repaired = await fsckIpldStore(kv, { repair: true });
    assert.deepEqual(repaired.brokenBlocks, [broken.cid.toString()]);
    assert.equal(repaired.repaired, 1);
    await assert.rejects(store.get(broken.cid), BlockNotFoundError);
    assert.equal(await countPrefix(kv, KEYS.chunksOf(header.id)), 0);
    assert.equal((await kv.get(KEYS.manifest(header.id))).versionstamp, null);
    assert.deepEqual(await store.get(good.cid), good.bytes);
    assertClean(await fsckIpldStore(kv, { deep: true }));
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() finds a truncated chunk with the cheap pass", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const block = rawBlock(100 * KiB);
    await store.put(block.cid, block.bytes);
    const header = await headerOf(kv, block);
    await kv.set(KEYS.chunk(header.id, 1), randomBytes(10));
    assert.deepEqual((await fsckIpldStore(kv)).brokenBlocks, [block.cid.toString()]);
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() reports garbage at a chunked block's key as broken", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const block = rawBlock(100 * KiB);
    await store.put(block.cid, block.bytes);
    await kv.set(KEYS.block(block.cid), { not: "a header" });
    const report = await fsckIpldStore(kv);
    assert.deepEqual(report.brokenBlocks, [block.cid.toString()]);
    assert.equal(report.orphanChunks, 2, "its chunks are orphans now");
    const repaired = await fsckIpldStore(kv, { repair: true });
    assert.equal(repaired.repaired, 3);
    assert.equal(await countPrefix(kv, ["blocks"]), 0);
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore({ deep: true }) finds hash mismatches, wrong types and stray chunks", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv);
    const tampered = rawBlock(1 * KiB);
    const wrongType = rawBlock(2 * KiB);
    const bigTampered = rawBlock(200 * KiB);
    const fine = rawBlock(3 * KiB);
    await store.putMany([tampered, wrongType, bigTampered, fine]);
    await kv.set(KEYS.block(tampered.cid), randomBytes(1 * KiB));
    await kv.set(KEYS.block(wrongType.cid), 12345);
    // Rewrite a chunk with same-length bytes and patch the header's stamp, as a disk bit flip
    // would look: invisible to everything but a rehash.
    const headerEntry = await kv.get<ChunkedHeader>(KEYS.block(bigTampered.cid));
    const header = headerEntry.value!;
    header.stamps = header.stamps.map((s) => s || headerEntry.versionstamp!);
    const res = await kv.set(KEYS.chunk(header.id, 0), randomBytes(CHUNK_BYTES));
    header.stamps[0] = res.versionstamp;
    await kv.set(KEYS.block(bigTampered.cid), header);
    // Chunks of a write no manifest knows about.
    const strayId = randomBytes(16);
    await kv.set(KEYS.chunk(strayId, 0), randomBytes(10));
    await kv.set(KEYS.chunk(strayId, 1), randomBytes(10));

    const cheap = await fsckIpldStore(kv);
    assertClean(cheap);

    const deep = await fsckIpldStore(kv, { deep: true });
    assert.deepEqual(
      deep.hashMismatches.sort(),
      [tampered.cid.toString(), bigTampered.cid.toString()].sort(),
    );
    assert.deepEqual(deep.brokenBlocks, [wrongType.cid.toString()]);
    assert.equal(deep.orphanChunks, 2);
    assert.equal(deep.blocks, 4);

    const repaired = await fsckIpldStore(kv, { deep: true, repair: true });
    assert.equal(repaired.repaired, 5);
    assertClean(await fsckIpldStore(kv, { deep: true }));
    assert.deepEqual(await store.get(fine.cid, { verify: true }), fine.bytes);
    assert.equal(await store.has(tampered.cid), false);
    assert.equal(await countPrefix(kv, ["blocks", "c"]), 0);
    assert.equal(await countPrefix(kv, ["blocks", "m"]), 0);
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() checks the key prefix it is given", async () => {
  const { kv, close } = await tempKv();
  try {
    const store = new KvIpldStore(kv, { keyPrefix: ["x", 1] });
    const block = rawBlock(100 * KiB);
    await store.put(block.cid, block.bytes);
    const header = (await kv.get<ChunkedHeader>([...new KvBlockKeys(["x", 1]).block(block.cid)]))
      .value!;
    await kv.delete(new KvBlockKeys(["x", 1]).chunk(header.id, 0));
    assertClean(await fsckIpldStore(kv));
    const report = await fsckIpldStore(kv, { keyPrefix: ["x", 1] });
    assert.deepEqual(report.brokenBlocks, [block.cid.toString()]);
  } finally {
    await close();
  }
});

Deno.test("fsckIpldStore() rejects with the abort reason when its signal is aborted", async () => {
  const { kv, close } = await tempKv();
  try {
    const block = rawBlock(100 * KiB);
    await new KvIpldStore(kv).put(block.cid, block.bytes);
    const controller = new AbortController();
    controller.abort(new Error("stop fsck"));
    await assert.rejects(fsckIpldStore(kv, { signal: controller.signal }), /stop fsck/);
    await assert.rejects(
      fsckIpldStore(kv, { deep: true, signal: controller.signal }),
      /stop fsck/,
    );
  } finally {
    await close();
  }
});
