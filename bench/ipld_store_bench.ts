/**
 * `KvIpldStore` against raw Deno KV on the same data with the same batching strategy.
 *
 *     deno bench -A bench/ipld_store_bench.ts
 *
 * Each group compares the store with a raw-KV baseline (`baseline: true`, so `deno bench`
 * prints ratios). Goal: batched put and get of the store at least 80% of raw KV's speed
 * (i.e. at most 1.25x the baseline's time).
 *
 * Raw baseline, per operation:
 * - put: `kv.set(cid.bytes key, bytes)` for a single block; a batch is plain `set`s packed
 *   into atomics up to Deno KV's limits (1000 mutations, 800 KiB), exactly as `putMany` packs.
 * - values over 64 KiB cannot be one KV value, so raw KV splits them the simplest way: 64 KiB
 *   pieces under `[cid, i]`, no header, no manifest, no crash safety (a crash between two of
 *   its commits leaves half a block visible). The store pays for a header and manifest on top.
 * - get: `kv.get`, or `kv.getMany` in groups of 10; pieces of a split value are read with
 *   `getMany` in 10s, all groups at once, the piece count known from the size (the store must
 *   read its header first to learn it).
 *
 * `IPLD_BENCH_KV=memory` runs both sides on `:memory:` SQLite instead of temp-dir files: that
 * isolates the store's own overhead from disk writeback, which on a shared 2-core VM swings
 * the on-disk ratios by more than the overhead being measured.
 *
 * CIDs are well-formed blake2b-256 CIDs over random made-up digests: the store does not rehash
 * on put, and hashing is not what is measured here. The bench bounds its own
 * iterations (`n`, `warmup`) and removes its temp dir on exit.
 */
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { BLAKE2B_256, type Block, RAW } from "../src/ipld/block.ts";
import { KvIpldStore } from "../src/repo/kv_ipld_store.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Deno KV per-atomic limits the raw baseline packs to, as `putMany` does. */
const RAW_MAX_MUTATIONS = 1000;
const RAW_MAX_COMMIT_BYTES = 800 * 1024 - 1024;
const RAW_PIECE = 64 * KiB;

const inMemory = Deno.env.get("IPLD_BENCH_KV") === "memory";
const dir = await Deno.makeTempDir({ prefix: "ipld_store_bench_" });
const storeKv = await Deno.openKv(inMemory ? ":memory:" : `${dir}/store.sqlite`);
const rawKv = await Deno.openKv(inMemory ? ":memory:" : `${dir}/raw.sqlite`);
const store = new KvIpldStore(storeKv);
globalThis.addEventListener("unload", () => {
  store.close();
  storeKv.close();
  rawKv.close();
  Deno.removeSync(dir, { recursive: true });
});

// --- data ---------------------------------------------------------------------------------------

/**
 * A fresh, never-used CID with a random digest. Random like real hashes: counter-made digests
 * would give raw KV sequential keys (B-tree appends), a locality real CIDs never have.
 */
function nextCid(): CID {
  return CID.createV1(RAW, createDigest(BLAKE2B_256, crypto.getRandomValues(new Uint8Array(32))));
}

function payload(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65_536) crypto.getRandomValues(out.subarray(i, i + 65_536));
  return out;
}

const payloads = new Map([1 * KiB, 64 * KiB, 1 * MiB].map((s) => [s, payload(s)]));

function freshBlocks(size: number, count: number): Block[] {
  const bytes = payloads.get(size)!;
  return Array.from({ length: count }, () => ({ cid: nextCid(), bytes }));
}

// --- raw KV baseline ----------------------------------------------------------------------------

function rawKey(cid: CID, piece?: number): Deno.KvKey {
  return piece === undefined ? ["raw", cid.bytes] : ["raw", cid.bytes, piece];
}

/** Plain sets packed into atomics up to the limits; values over 64 KiB split into pieces. */
async function rawPutMany(blocks: Block[]): Promise<void> {
  let op = rawKv.atomic();
  let mutations = 0;
  let bytes = 0;
  const add = async (key: Deno.KvKey, value: Uint8Array) => {
    const cost = value.length + 2 * 64; // keys count twice; 64 bytes bounds these keys
    if (mutations + 1 > RAW_MAX_MUTATIONS || bytes + cost > RAW_MAX_COMMIT_BYTES) {
      await op.commit();
      op = rawKv.atomic();
      mutations = 0;
      bytes = 0;
    }
    op.set(key, value);
    mutations++;
    bytes += cost;
  };
  for (const { cid, bytes: value } of blocks) {
    if (value.length <= RAW_PIECE) await add(rawKey(cid), value);
    else {
      for (let i = 0; i * RAW_PIECE < value.length; i++) {
        await add(rawKey(cid, i), value.subarray(i * RAW_PIECE, (i + 1) * RAW_PIECE));
      }
    }
  }
  if (mutations > 0) await op.commit();
}

async function rawPut(block: Block): Promise<void> {
  if (block.bytes.length <= RAW_PIECE) await rawKv.set(rawKey(block.cid), block.bytes);
  else await rawPutMany([block]);
}

async function rawGetSplit(cid: CID, size: number): Promise<Uint8Array> {
  const keys: Deno.KvKey[] = [];
  for (let i = 0; i * RAW_PIECE < size; i++) keys.push(rawKey(cid, i));
  const groups: Promise<Deno.KvEntryMaybe<Uint8Array>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    groups.push(rawKv.getMany<Uint8Array[]>(keys.slice(i, i + 10)));
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const entry of (await Promise.all(groups)).flat()) {
    out.set(entry.value!, offset);
    offset += entry.value!.length;
  }
  return out;
}

async function rawGet(cid: CID, size: number): Promise<Uint8Array> {
  if (size <= RAW_PIECE) return (await rawKv.get<Uint8Array>(rawKey(cid))).value!;
  return await rawGetSplit(cid, size);
}

async function rawGetMany(cids: CID[], size: number): Promise<number> {
  let n = 0;
  if (size > RAW_PIECE) {
    for (const cid of cids) n += (await rawGetSplit(cid, size)).length;
    return n;
  }
  for (let i = 0; i < cids.length; i += 10) {
    const entries = await rawKv.getMany<Uint8Array[]>(cids.slice(i, i + 10).map((c) => rawKey(c)));
    for (const e of entries) n += e.value!.length;
  }
  return n;
}

// --- benches ------------------------------------------------------------------------------------

interface Case {
  label: string;
  size: number;
  /** Blocks per batched operation. */
  batch: number;
  /** Iterations: bounded so big cases do not fill the disk. */
  n: number;
  /** Blocks stored by both sides before the get benches; small, so that writing them does
   * not leave a backlog of dirty pages that slows whichever bench runs next. */
  pool: number;
}

const CASES: Case[] = [
  { label: "1 KiB", size: 1 * KiB, batch: 100, n: 300, pool: 300 },
  { label: "64 KiB", size: 64 * KiB, batch: 24, n: 60, pool: 48 },
  { label: "1 MiB", size: 1 * MiB, batch: 8, n: 20, pool: 16 },
];

for (const c of CASES) {
  const opts = { n: c.n, warmup: Math.max(2, c.n / 10) };

  Deno.bench({
    name: `raw KV put ${c.label}`,
    group: `put ${c.label} single`,
    baseline: true,
    ...opts,
    async fn(b) {
      const [block] = freshBlocks(c.size, 1);
      b.start();
      await rawPut(block);
      b.end();
    },
  });
  Deno.bench({
    name: `KvIpldStore put ${c.label}`,
    group: `put ${c.label} single`,
    ...opts,
    async fn(b) {
      const [block] = freshBlocks(c.size, 1);
      b.start();
      await store.put(block.cid, block.bytes);
      b.end();
    },
  });

  Deno.bench({
    name: `raw KV put ${c.batch} x ${c.label}`,
    group: `put ${c.label} batched x${c.batch}`,
    baseline: true,
    ...opts,
    async fn(b) {
      const blocks = freshBlocks(c.size, c.batch);
      b.start();
      await rawPutMany(blocks);
      b.end();
    },
  });
  Deno.bench({
    name: `KvIpldStore putMany ${c.batch} x ${c.label}`,
    group: `put ${c.label} batched x${c.batch}`,
    ...opts,
    async fn(b) {
      const blocks = freshBlocks(c.size, c.batch);
      b.start();
      await store.putMany(blocks);
      b.end();
    },
  });

  // Get pools: the same CIDs stored by both sides before the get benches run.
  const pool = freshBlocks(c.size, c.pool);
  await rawPutMany(pool);
  await store.putMany(pool);
  const cids = pool.map((p) => p.cid);
  let single = 0;
  let batchStart = 0;
  const nextBatch = () => {
    const out: CID[] = [];
    for (let i = 0; i < c.batch; i++) out.push(cids[(batchStart + i) % cids.length]);
    batchStart = (batchStart + c.batch) % cids.length;
    return out;
  };

  Deno.bench({
    name: `raw KV get ${c.label}`,
    group: `get ${c.label} single`,
    baseline: true,
    ...opts,
    async fn() {
      const got = await rawGet(cids[single++ % cids.length], c.size);
      if (got.length !== c.size) throw new Error("short read");
    },
  });
  Deno.bench({
    name: `KvIpldStore get ${c.label}`,
    group: `get ${c.label} single`,
    ...opts,
    async fn() {
      const got = await store.get(cids[single++ % cids.length]);
      if (got.length !== c.size) throw new Error("short read");
    },
  });

  Deno.bench({
    name: `raw KV getMany ${c.batch} x ${c.label}`,
    group: `get ${c.label} batched x${c.batch}`,
    baseline: true,
    ...opts,
    async fn() {
      const n = await rawGetMany(nextBatch(), c.size);
      if (n !== c.size * c.batch) throw new Error("short read");
    },
  });
  Deno.bench({
    name: `KvIpldStore getMany ${c.batch} x ${c.label}`,
    group: `get ${c.label} batched x${c.batch}`,
    ...opts,
    async fn() {
      let n = 0;
      for await (const block of store.getMany(nextBatch())) n += block.bytes.length;
      if (n !== c.size * c.batch) throw new Error("short read");
    },
  });
}
