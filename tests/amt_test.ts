/**
 * AMT v0 (src/ipld/amt.ts) and `computeMsgMeta`: published root CIDs from ref-fvm's AMT tests
 * (tests/fixtures/amt/), the empty MsgMeta CID Lotus/Forest give, round trips and node shapes,
 * and hostile tries the reader must refuse.
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import {
  AMT_V0_MAX_HEIGHT,
  amtV0Blocks,
  amtV0SparseBlocks,
  buildAmtV0,
  InvalidAmtError,
  MissingAmtNodeError,
  readAmtV0,
  readAmtV0Entries,
} from "../src/ipld/amt.ts";
import { type Block, encodeCbor, encodeRaw } from "../src/ipld/block.ts";
import { computeMsgMeta, deserializeMsgMeta, msgMetaCid } from "../src/chain/types/msg_meta.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

const EMPTY_MSG_META = "bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba";

interface Vector {
  test: string;
  format: "v0" | "v3";
  indexes: { list: number[] } | { from: number; step: number; below: number };
  value?: string;
  values?: string[];
  cid: string;
  blocks?: number;
  bytes?: number;
}

const fixture: { source: string; vectors: Vector[] } = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/amt/ref_fvm_amt_vectors.json", import.meta.url)),
);

function vectorEntries(v: Vector): [number, Uint8Array][] {
  const indexes: number[] = [];
  if ("list" in v.indexes) indexes.push(...v.indexes.list);
  else for (let i = v.indexes.from; i < v.indexes.below; i += v.indexes.step) indexes.push(i);
  const text = new TextEncoder();
  return indexes.map((index, k) => [index, text.encode(v.values?.[k] ?? v.value ?? "")]);
}

/** The v3 root with the same fields: `[bitWidth 3, height, count, node]`. */
function asV3Root(rootBlock: Block): Block {
  const [height, count, node] = dagCbor.decode<[number, number, unknown]>(rootBlock.bytes);
  return encodeCbor([3, height, count, node]);
}

async function storeOf(blocks: Block[]): Promise<MemoryIpldStore> {
  const store = new MemoryIpldStore();
  await store.putMany(blocks);
  return store;
}

function totalBytes(blocks: Block[]): number {
  return blocks.reduce((n, b) => n + b.bytes.length, 0);
}

for (const v of fixture.vectors) {
  Deno.test(`amtV0SparseBlocks() matches ref-fvm ${v.test} (${v.format})`, async () => {
    const entries = vectorEntries(v);
    const built = amtV0SparseBlocks(entries);
    const rootBlock = built.blocks[built.blocks.length - 1];
    assert(rootBlock.cid.equals(built.root));
    const blocks = v.format === "v0"
      ? built.blocks
      : [...built.blocks.slice(0, -1), asV3Root(rootBlock)];
    assertEquals(blocks[blocks.length - 1].cid.toString(), v.cid);
    if (v.blocks !== undefined) assertEquals(blocks.length, v.blocks);
    if (v.bytes !== undefined) assertEquals(totalBytes(blocks), v.bytes);
    // And the reader gives the entries back.
    const store = await storeOf(built.blocks);
    const read = await readAmtV0Entries(store, built.root, { maxCount: entries.length });
    assertEquals(read, entries);
  });
}

Deno.test("amtV0Blocks() of no values is [0, 0, [h'00', [], []]], the empty AMT v0", () => {
  const { root, blocks } = amtV0Blocks([]);
  assertEquals(blocks.length, 1);
  assertEquals([...blocks[0].bytes], [0x83, 0x00, 0x00, 0x83, 0x41, 0x00, 0x80, 0x80]);
  assert(blocks[0].cid.equals(root));
});

Deno.test("computeMsgMeta() of no messages gives the MsgMeta CID of blocks without messages", () => {
  const { meta, cid, blocks } = computeMsgMeta([], []);
  assertEquals(cid.toString(), EMPTY_MSG_META);
  assert(msgMetaCid(meta).equals(cid));
  assert(meta.blsMessages.equals(meta.secpkMessages));
  // The shared empty AMT root once, and the MsgMeta block.
  assertEquals(blocks.length, 2);
  assertEquals(deserializeMsgMeta(blocks[1].bytes), meta);
});

Deno.test("computeMsgMeta() blocks hold both lists in order, readable with readAmtV0()", async () => {
  const cids = Array.from({ length: 20 }, (_, i) => encodeRaw(new Uint8Array([i])).cid);
  const bls = cids.slice(0, 9);
  const secpk = cids.slice(9);
  const { meta, cid, blocks } = computeMsgMeta(bls, secpk);
  assert(!cid.equals(CID.parse(EMPTY_MSG_META)));
  assertEquals(meta.blsMessages, amtV0Blocks(bls).root);
  const store = await storeOf(blocks);
  assert(await store.has(cid));
  assertEquals(await readAmtV0(store, meta.blsMessages, { maxCount: 100 }), bls);
  assertEquals(await readAmtV0(store, meta.secpkMessages, { maxCount: 100 }), secpk);
  // Order matters: swapping two messages changes the root.
  const swapped = computeMsgMeta([bls[1], bls[0], ...bls.slice(2)], secpk);
  assert(!swapped.cid.equals(cid));
});

Deno.test("buildAmtV0() / readAmtV0() round-trip 0, 1, 8, 9, 64, 65, 1000 values", async () => {
  const expectHeight: Record<number, number> = { 0: 0, 1: 0, 8: 0, 9: 1, 64: 1, 65: 2, 1000: 3 };
  for (const n of [0, 1, 8, 9, 64, 65, 1000]) {
    const store = new MemoryIpldStore();
    const values = Array.from({ length: n }, (_, i) => ({ i, s: `v${i}` }));
    const root = await buildAmtV0(store, values);
    assert(root.equals(amtV0Blocks(values).root));
    assertEquals(await readAmtV0(store, root, { maxCount: n }), values);
    const [height, count] = dagCbor.decode<[number, number]>(await store.get(root));
    assertEquals([height, count], [expectHeight[n], n], `n=${n}`);
    // Blocks: root + one per non-empty node below it.
    const nodes = n === 0 ? 0 : levelSizes(n, height).slice(1).reduce((a, b) => a + b, 0);
    assertEquals(store.size, 1 + nodes, `n=${n}`);
  }
});

/** Nodes per level (root level first) of a dense trie of `n` entries at `height`. */
function levelSizes(n: number, height: number): number[] {
  const sizes: number[] = [];
  for (let h = height; h >= 0; h--) sizes.push(Math.ceil(n / 8 ** (h + 1)));
  return sizes;
}

Deno.test("amtV0Blocks() node shapes: bitmaps are least significant bit first", () => {
  // 9 values: root at height 1 links two leaves; leaf 0 full (0xff), leaf 1 has slot 0 (0x01).
  const { blocks } = amtV0Blocks(Array.from({ length: 9 }, (_, i) => i));
  assertEquals(blocks.length, 3);
  const [leaf0, leaf1, root] = blocks.map((b) => dagCbor.decode<unknown[]>(b.bytes));
  assertEquals(leaf0, [new Uint8Array([0xff]), [], [0, 1, 2, 3, 4, 5, 6, 7]]);
  assertEquals(leaf1, [new Uint8Array([0x01]), [], [8]]);
  assertEquals(root, [1, 9, [new Uint8Array([0x03]), [blocks[0].cid, blocks[1].cid], []]]);
  // Sparse: index 2 alone is bit 2 (0x04); index 79 alone is height 2, slot 1 / 1 / 7.
  const two = amtV0SparseBlocks([[2, "x"]]);
  assertEquals(dagCbor.decode(two.blocks[0].bytes), [0, 1, [new Uint8Array([4]), [], ["x"]]]);
  const far = amtV0SparseBlocks([[79, "y"]]).blocks.map((b) => dagCbor.decode<unknown[]>(b.bytes));
  assertEquals(far[0], [new Uint8Array([0x80]), [], ["y"]]);
  assertEquals((far[1][0] as Uint8Array)[0], 0x02);
  assertEquals(far[2][0], 2);
  assertEquals(((far[2][2] as unknown[])[0] as Uint8Array)[0], 0x02);
});

Deno.test("amtV0SparseBlocks() refuses unsorted, duplicate, negative and huge indexes", () => {
  for (
    const entries of [[[1, 0], [0, 0]], [[3, 0], [3, 0]], [[-1, 0]], [[2 ** 51, 0]], [[0.5, 0]]]
  ) {
    let threw = false;
    try {
      amtV0SparseBlocks(entries as [number, unknown][]);
    } catch (err) {
      threw = err instanceof RangeError;
    }
    assert(threw, JSON.stringify(entries));
  }
});

Deno.test("readAmtV0() refuses a sparse AMT; readAmtV0Entries() reads it", async () => {
  const built = amtV0SparseBlocks([[0, "a"], [5, "b"]]);
  const store = await storeOf(built.blocks);
  await rejects(readAmtV0(store, built.root, { maxCount: 10 }), InvalidAmtError);
  assertEquals(await readAmtV0Entries(store, built.root, { maxCount: 10 }), [[0, "a"], [5, "b"]]);
});

// --- hostile tries ---------------------------------------------------------------------------

const leaf = (values: unknown[], bmap = (1 << values.length) - 1) => [
  new Uint8Array([bmap]),
  [],
  values,
];

async function rejectsRoot(root: unknown, extra: Block[] = [], maxCount = 1000): Promise<void> {
  const block = encodeCbor(root);
  const store = await storeOf([...extra, block]);
  await rejects(readAmtV0(store, block.cid, { maxCount }), InvalidAmtError);
}

Deno.test("readAmtV0() refuses wrong tuple lengths of roots and nodes", async () => {
  await rejectsRoot([0, 0]);
  await rejectsRoot([3, 0, 0, leaf([])]); // an AMT v3 root is not a v0 root
  await rejectsRoot([0, 1, [new Uint8Array([1]), []]]);
  await rejectsRoot([0, 1, [new Uint8Array([1]), [], ["a"], []]]);
  await rejectsRoot({ height: 0, count: 0 });
  await rejectsRoot(["0", 0, leaf([])]);
  await rejectsRoot([0, -1, leaf([])]);
});

Deno.test("readAmtV0() refuses a bitmap of the wrong length or type", async () => {
  await rejectsRoot([0, 1, [new Uint8Array([]), [], ["a"]]]);
  await rejectsRoot([0, 1, [new Uint8Array([1, 0]), [], ["a"]]]);
  await rejectsRoot([0, 1, [1, [], ["a"]]]);
});

Deno.test("readAmtV0() refuses links/values that disagree with the bitmap", async () => {
  await rejectsRoot([0, 2, leaf(["a", "b"], 0b1)]); // more values than bits
  await rejectsRoot([0, 1, leaf(["a"], 0b11)]); // fewer values than bits
  const child = encodeCbor(leaf(["a"]));
  await rejectsRoot([0, 1, [new Uint8Array([1]), [child.cid], ["a"]]], [child]); // leaf with links
  await rejectsRoot([1, 1, [new Uint8Array([1]), [child.cid], ["a"]]], [child]); // node w/ values
  await rejectsRoot([1, 1, [new Uint8Array([3]), [child.cid], []]], [child]); // 2 bits, 1 link
  await rejectsRoot([1, 1, [new Uint8Array([1]), ["not a cid"], []]]);
  await rejectsRoot([1, 1, [new Uint8Array([1]), [encodeRaw(new Uint8Array()).cid], []]]);
});

Deno.test("readAmtV0() refuses counts that do not match and empty inner nodes", async () => {
  await rejectsRoot([0, 2, leaf(["a"])]);
  await rejectsRoot([0, 0, leaf(["a"])]);
  const empty = encodeCbor(leaf([]));
  await rejectsRoot([1, 0, [new Uint8Array([1]), [empty.cid], []]], [empty]);
  await rejectsRoot([2, 0, leaf([])]); // height over an empty root
});

Deno.test("readAmtV0() refuses count over maxCount before reading any node", async () => {
  // The root links a node that is not in the store: reading it would throw MissingAmtNodeError.
  const absent = encodeCbor(leaf(["a"])).cid;
  const root = encodeCbor([1, 1_000_000, [new Uint8Array([1]), [absent], []]]);
  const store = await storeOf([root]);
  await rejects(readAmtV0(store, root.cid, { maxCount: 8192 }), InvalidAmtError);
  await rejects(readAmtV0(store, root.cid, { maxCount: 1_000_000 }), MissingAmtNodeError);
});

Deno.test("readAmtV0() refuses a height over the bound and levels wider than the count", async () => {
  await rejectsRoot([AMT_V0_MAX_HEIGHT + 1, 0, leaf([])]);
  await rejectsRoot([2 ** 53, 0, leaf([])]);
  // A valid height-3 trie is refused with maxHeight 2.
  const built = amtV0Blocks(Array.from({ length: 600 }, (_, i) => i));
  const store = await storeOf(built.blocks);
  await rejects(readAmtV0(store, built.root, { maxCount: 600, maxHeight: 2 }), InvalidAmtError);
  // Count 1 but the root links 8 children: refused before fetching them.
  const child = encodeCbor(leaf(["a"]));
  const links = Array.from({ length: 8 }, () => child.cid);
  await rejectsRoot([1, 1, [new Uint8Array([0xff]), links, []]], [child]);
  // A deep chain of single-child nodes claiming more than it holds fails on count, not depth.
  let node: Block = encodeCbor(leaf(["a"]));
  const chain = [node];
  for (let h = 1; h < 10; h++) {
    node = encodeCbor([new Uint8Array([1]), [node.cid], []]);
    chain.push(node);
  }
  await rejectsRoot([10, 2, [new Uint8Array([1]), [node.cid], []]], chain);
});

Deno.test("readAmtV0() throws MissingAmtNodeError for an absent node or root", async () => {
  const built = amtV0Blocks(Array.from({ length: 20 }, (_, i) => i));
  const store = await storeOf(built.blocks.slice(1)); // first leaf missing
  await rejects(readAmtV0(store, built.root, { maxCount: 20 }), MissingAmtNodeError);
  await rejects(
    readAmtV0(new MemoryIpldStore(), built.root, { maxCount: 20 }),
    MissingAmtNodeError,
  );
});

Deno.test("readAmtV0() refuses a block that is not dag-cbor", async () => {
  const raw = encodeRaw(new Uint8Array([0xff]));
  const bogus = CID.createV1(0x71, raw.cid.multihash);
  const store = new MemoryIpldStore();
  await store.put(bogus, raw.bytes);
  await rejects(readAmtV0(store, bogus, { maxCount: 1 }), InvalidAmtError);
  await rejects(readAmtV0(store, raw.cid, { maxCount: 1 }), InvalidAmtError);
});
