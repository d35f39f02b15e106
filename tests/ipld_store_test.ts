/**
 * The IpldStore contract, run against both backends: `KvIpldStore` on a temp-dir Deno KV and
 * `MemoryIpldStore`. Backend-specific behaviour (chunk layout, corrupt records, fsck) lives in
 * `kv_ipld_store_test.ts`.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import {
  type Block,
  cidOf,
  DAG_CBOR,
  encodeCbor,
  encodeRaw,
  RAW,
  SHA2_256,
} from "../src/ipld/block.ts";
import {
  BlockNotFoundError,
  BlockTooLargeError,
  DEFAULT_MAX_BLOCK_SIZE,
  type IpldStore,
  UnsupportedCidError,
} from "../src/ipld/ipld_store.ts";
import { KvIpldStore } from "../src/repo/kv_ipld_store.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, i + 65_536));
  return out;
}

function rawBlock(size: number): Block {
  return encodeRaw(randomBytes(size));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* asAsync<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const x of items) yield await Promise.resolve(x);
}

/** Both backends: the contract plus `get(cid, { verify })` and `close()`. */
type Store = IpldStore & (KvIpldStore | MemoryIpldStore);

interface Backend {
  name: string;
  open(options?: { maxBlockSize?: number }): Promise<{ store: Store; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "KvIpldStore",
    async open(options) {
      const dir = await Deno.makeTempDir({ prefix: "ipld_store_test_" });
      const store = await KvIpldStore.open(`${dir}/kv.sqlite`, options);
      return {
        store,
        async close() {
          store.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
  {
    name: "MemoryIpldStore",
    open(options) {
      const store = new MemoryIpldStore(options);
      return Promise.resolve({ store, close: () => Promise.resolve() });
    },
  },
];

for (const backend of backends) {
  const N = backend.name;
  const test = (
    name: string,
    fn: (store: Store) => Promise<void>,
    options?: { maxBlockSize?: number },
  ) =>
    Deno.test(`${N}${name}`, async () => {
      const { store, close } = await backend.open(options);
      try {
        await fn(store);
      } finally {
        await close();
      }
    });

  test(".get() returns the bytes .put() stored, and .has() sees them", async (store) => {
    const block = encodeCbor({ hello: "world", n: 42 });
    assert.equal(await store.has(block.cid), false);
    await store.put(block.cid, block.bytes);
    assert.equal(await store.has(block.cid), true);
    assert.deepEqual(await store.get(block.cid), block.bytes);
  });

  test(".get() throws BlockNotFoundError naming an absent CID", async (store) => {
    const block = rawBlock(10);
    const err = await store.get(block.cid).then(() => undefined, (e) => e);
    assert.ok(err instanceof BlockNotFoundError, String(err));
    assert.ok(err.cid.equals(block.cid));
    assert.ok(err.message.includes(block.cid.toString()));
    assert.equal(await store.has(block.cid), false);
  });

  test(".put() twice is a no-op the second time", async (store) => {
    const block = rawBlock(100);
    await store.put(block.cid, block.bytes);
    await store.put(block.cid, block.bytes);
    assert.deepEqual(await store.get(block.cid), block.bytes);
    const big = rawBlock(300 * KiB);
    await store.put(big.cid, big.bytes);
    await store.put(big.cid, big.bytes);
    assert.deepEqual(await store.get(big.cid), big.bytes);
  });

  test(".delete() removes a block and is a no-op for an absent one", async (store) => {
    const small = rawBlock(1 * KiB);
    const big = rawBlock(200 * KiB);
    await store.putMany([small, big]);
    await store.delete(small.cid);
    await store.delete(big.cid);
    await store.delete(big.cid);
    assert.equal(await store.has(small.cid), false);
    assert.equal(await store.has(big.cid), false);
    await assert.rejects(store.get(big.cid), BlockNotFoundError);
    // Stored again after a delete: a fresh write, readable in full.
    await store.put(big.cid, big.bytes);
    assert.deepEqual(await store.get(big.cid), big.bytes);
  });

  test(" accepts dag-cbor and raw with blake2b-256 and sha2-256", async (store) => {
    const bytes = randomBytes(64);
    const cids = [
      cidOf(RAW, bytes),
      cidOf(DAG_CBOR, bytes),
      cidOf(RAW, bytes, SHA2_256),
      cidOf(DAG_CBOR, bytes, SHA2_256),
    ];
    for (const cid of cids) await store.put(cid, bytes);
    for (const cid of cids) assert.deepEqual(await store.get(cid, { verify: true }), bytes);
  });

  test(".put() throws UnsupportedCidError for other codecs and hashes and stores nothing", async (store) => {
    const bytes = randomBytes(64);
    const good = cidOf(RAW, bytes);
    const dagPb = CID.createV1(0x70, good.multihash);
    const dagJson = CID.createV1(0x0129, good.multihash);
    const sha512 = CID.createV1(RAW, createDigest(0x13, randomBytes(64)));
    const identity = CID.createV1(RAW, createDigest(0x00, bytes));
    const shortDigest = CID.createV1(RAW, createDigest(good.multihash.code, randomBytes(20)));
    const v0 = CID.createV0(createDigest(SHA2_256, randomBytes(32)));
    for (const cid of [dagPb, dagJson, sha512, identity, shortDigest, v0]) {
      await assert.rejects(store.put(cid, bytes), UnsupportedCidError, String(cid));
      assert.equal(await store.has(cid), false);
      await assert.rejects(store.get(cid), BlockNotFoundError);
      await store.delete(cid); // no-op, no throw
    }
    await assert.rejects(store.putMany([{ cid: dagPb, bytes }]), UnsupportedCidError);
  });

  test(
    ".put() of a block over maxBlockSize throws BlockTooLargeError and stores nothing",
    async (store) => {
      for (const size of [100 * KiB + 1, 300 * KiB]) {
        const block = rawBlock(size);
        const err = await store.put(block.cid, block.bytes).then(() => undefined, (e) => e);
        assert.ok(err instanceof BlockTooLargeError, String(err));
        assert.equal(err.size, size);
        assert.equal(err.max, 100 * KiB);
        assert.equal(await store.has(block.cid), false);
        await assert.rejects(store.putMany([block]), BlockTooLargeError);
        assert.equal(await store.has(block.cid), false);
      }
      const fits = rawBlock(100 * KiB);
      await store.put(fits.cid, fits.bytes);
      assert.deepEqual(await store.get(fits.cid), fits.bytes);
    },
    { maxBlockSize: 100 * KiB },
  );

  test(" default maxBlockSize is 2 MiB: one byte more is refused", async (store) => {
    const block = rawBlock(DEFAULT_MAX_BLOCK_SIZE + 1);
    await assert.rejects(store.put(block.cid, block.bytes), BlockTooLargeError);
    assert.equal(await store.has(block.cid), false);
  });

  test(" round-trips a 2 MiB block", async (store) => {
    const block = rawBlock(DEFAULT_MAX_BLOCK_SIZE);
    await store.put(block.cid, block.bytes);
    const got = await store.get(block.cid, { verify: true });
    assert.equal(got.length, 2 * MiB);
    assert.deepEqual(got, block.bytes);
  });

  test(" round-trips blocks at every chunk boundary", async (store) => {
    const sizes = [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 128 * KiB, 128 * KiB + 1, 767 * KiB];
    const blocks = sizes.map(rawBlock);
    for (const b of blocks) await store.put(b.cid, b.bytes);
    for (const b of blocks) {
      assert.deepEqual(await store.get(b.cid), b.bytes, `size ${b.bytes.length}`);
    }
  });

  test(".get() returns a copy: changing the input or output buffers changes nothing stored", async (store) => {
    const bytes = randomBytes(1 * KiB);
    const block = encodeRaw(bytes.slice());
    await store.put(block.cid, bytes);
    bytes[0] ^= 0xff;
    const got = await store.get(block.cid);
    got[1] ^= 0xff;
    assert.deepEqual(await store.get(block.cid, { verify: true }), block.bytes);
  });

  test(".putMany() stores 3000 small blocks across commit boundaries; .getMany() yields them in order", async (store) => {
    const blocks = Array.from({ length: 3000 }, (_, i) => rawBlock(200 + (i % 700)));
    await store.putMany(blocks);
    const got = await collect(store.getMany(blocks.map((b) => b.cid)));
    assert.equal(got.length, 3000);
    for (let i = 0; i < blocks.length; i++) {
      assert.ok(got[i].cid.equals(blocks[i].cid));
      assert.deepEqual(got[i].bytes, blocks[i].bytes);
    }
  });

  test(".putMany() stores 30 blocks of 1 MiB; .getMany() reads them back", async (store) => {
    const blocks = Array.from({ length: 30 }, () => rawBlock(1 * MiB));
    await store.putMany(asAsync(blocks));
    const got = await collect(store.getMany(asAsync(blocks.map((b) => b.cid))));
    assert.equal(got.length, 30);
    for (let i = 0; i < blocks.length; i++) assert.deepEqual(got[i].bytes, blocks[i].bytes);
  });

  test(".putMany() mixes small and large blocks and repeats of one CID", async (store) => {
    const blocks: Block[] = [];
    for (let i = 0; i < 40; i++) blocks.push(rawBlock(i % 4 === 0 ? 150 * KiB + i : 3 * KiB + i));
    blocks.push(blocks[0], blocks[1]);
    await store.putMany(blocks);
    for (const b of blocks) assert.deepEqual(await store.get(b.cid), b.bytes);
  });

  test(".putMany() throws on an invalid block and the blocks after it are not stored", async (store) => {
    const good = rawBlock(100);
    const later = rawBlock(100);
    const bad = { cid: CID.createV1(0x70, good.cid.multihash), bytes: good.bytes };
    await assert.rejects(store.putMany([good, bad, later]), UnsupportedCidError);
    assert.equal(await store.has(later.cid), false);
  });

  test(".getMany() yields the blocks before an absent CID, then throws BlockNotFoundError", async (store) => {
    const a = rawBlock(10);
    const b = rawBlock(80 * KiB);
    const missing = rawBlock(10);
    await store.putMany([a, b]);
    const seen: Block[] = [];
    const err = await (async () => {
      for await (const block of store.getMany([a.cid, b.cid, missing.cid, a.cid])) seen.push(block);
    })().then(() => undefined, (e) => e);
    assert.ok(err instanceof BlockNotFoundError);
    assert.ok(err.cid.equals(missing.cid));
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1].bytes, b.bytes);
  });

  test(" calls reject with the abort reason once the signal is aborted", async (store) => {
    const block = rawBlock(10);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    const signal = controller.signal;
    await assert.rejects(store.put(block.cid, block.bytes, { signal }), /stop/);
    await assert.rejects(store.putMany([block], { signal }), /stop/);
    await assert.rejects(store.get(block.cid, { signal }), /stop/);
    await assert.rejects(store.has(block.cid, { signal }), /stop/);
    await assert.rejects(store.delete(block.cid, { signal }), /stop/);
    await assert.rejects(collect(store.getMany([block.cid], { signal })), /stop/);
    assert.equal(await store.has(block.cid), false);
  });
}
