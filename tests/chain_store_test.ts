import { deepStrictEqual as assertEquals, equal, ok, rejects } from "node:assert/strict";
import {
  ChainStore,
  type ChainStoreOptions,
  type HeadChange,
  MissingAncestryError,
} from "../src/chain/chain_store.ts";
import type { TipSet } from "../src/chain/types/mod.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";
import { chainOf, childOf, range, testGenesis, weightOf } from "./_chain.ts";

const genesis = testGenesis();

async function withChain(
  fn: (ctx: { kv: Deno.Kv; ipld: MemoryIpldStore; chain: ChainStore; g: TipSet }) => Promise<void>,
  options: ChainStoreOptions = {},
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    await ipld.putMany(genesis.blocks);
    const chain = await ChainStore.open(kv, ipld, genesis.header, options);
    await fn({ kv, ipld, chain, g: chain.genesisTipSet });
  } finally {
    kv.close();
  }
}

async function store(chain: ChainStore, tipsets: TipSet[]): Promise<void> {
  for (const t of tipsets) await chain.putTipSet(t);
}

async function heightsOf(chain: ChainStore, top: number): Promise<string[]> {
  const out: string[] = [];
  for (let h = 0; h <= top; h++) {
    out.push((await chain.getTipSetByHeight(h)).key.toString());
  }
  return out;
}

Deno.test("`ChainStore.open()` starts a new chain at genesis, named by the genesis state", async () => {
  await withChain(async ({ chain }) => {
    equal(chain.genesis.toString(), genesis.cid.toString());
    equal(chain.networkName, "testnet");
    assertEquals(chain.head(), { cids: [genesis.cid], height: 0, weight: 0n });
    equal((await chain.getTipSetByHeight(0)).key.toString(), `{${genesis.cid}}`);
    assertEquals(await chain.getBlockMessages(genesis.header), { bls: [], secpk: [] });
  });
});

Deno.test("`ChainStore.setHead()` extends the chain, indexes heights and emits head-changed", async () => {
  await withChain(async ({ kv, ipld, chain, g }) => {
    const tipsets = chainOf(g, range(1, 5), { blocks: 2 });
    await store(chain, tipsets);
    const events: HeadChange[] = [];
    chain.addEventListener("head-changed", (e) => events.push(e.detail));
    const change = await chain.setHead(tipsets[4], weightOf(tipsets[4]));
    equal(change?.applied.length, 5);
    equal(events.length, 1);
    assertEquals(events[0].applied.map((t) => t.height), [1, 2, 3, 4, 5]);
    assertEquals(events[0].reverted, []);
    assertEquals(chain.head(), { cids: tipsets[4].cids, height: 5, weight: 50n });
    equal(await chain.setHead(tipsets[4], 50n), undefined); // already the head
    for (const t of tipsets) {
      equal((await chain.getTipSetByHeight(t.height)).key.toString(), t.key.toString());
      ok(await chain.isAccepted(t.key));
    }
    // A restart on the same KV finds the same head.
    const again = await ChainStore.open(kv, ipld, genesis.cid);
    assertEquals(again.head(), chain.head());
    equal((await again.getTipSet(tipsets[2].cids))?.height, 3);
  });
});

Deno.test("`ChainStore.setHead()` refuses a tipset whose ancestry is not stored", async () => {
  await withChain(async ({ chain, g }) => {
    const tipsets = chainOf(g, range(1, 4));
    await store(chain, [tipsets[0], tipsets[1], tipsets[3]]); // height 3 missing
    await rejects(chain.setHead(tipsets[3], 40n), MissingAncestryError);
    equal(chain.head().height, 0);
    equal(await chain.isAccepted(tipsets[3].key), false);
    await rejects(chain.setHead(childOf(g, { salt: "unstored" }), 10n), MissingAncestryError);
    await chain.putTipSet(tipsets[2]);
    await chain.setHead(tipsets[3], 40n);
    equal(chain.head().height, 4);
  });
});

Deno.test("`ChainStore.getTipSetByHeight()` follows Lotus on null rounds", async () => {
  await withChain(async ({ chain, g }) => {
    const tipsets = chainOf(g, [1, 3, 6]);
    await store(chain, tipsets);
    await chain.setHead(tipsets[2], 60n);
    const at = async (h: number, next = false, from?: TipSet) =>
      (await chain.getTipSetByHeight(h, { next, from })).height;
    equal(await at(2), 1);
    equal(await at(2, true), 3);
    equal(await at(5), 3);
    equal(await at(5, true), 6);
    equal(await at(3), 3);
    equal(await at(2, true, tipsets[1]), 3);
    // From a tipset off the index (a side fork), it walks parents instead.
    const side = chainOf(tipsets[0], [4, 5], { salt: "side" });
    await store(chain, side);
    equal(await at(2, false, side[1]), 1);
    equal(await at(2, true, side[1]), 4);
    await rejects(chain.getTipSetByHeight(7), RangeError);
  });
});

Deno.test("`ChainStore.setHead()` reorgs to a heavier fork, reverting and applying", async () => {
  await withChain(async ({ chain, g }) => {
    const common = chainOf(g, [1, 2]);
    const a = chainOf(common[1], range(3, 6), { salt: "a" });
    const b = chainOf(common[1], [3, 5, 7], { salt: "b" }); // null rounds at 4 and 6
    await store(chain, [...common, ...a, ...b]);
    await chain.setHead(a[3], 60n);
    const change = await chain.setHead(b[2], 70n);
    assertEquals(change?.reverted.map((t) => t.height), [6, 5, 4, 3]);
    assertEquals(change?.applied.map((t) => t.key.toString()), b.map((t) => t.key.toString()));
    equal((await chain.getTipSetByHeight(4)).key.toString(), b[0].key.toString());
    equal((await chain.getTipSetByHeight(6)).key.toString(), b[1].key.toString());
    equal((await chain.getTipSetByHeight(2)).key.toString(), common[1].key.toString());
    // And back: the old fork's tipsets are accepted already, so no ancestry walk is needed.
    const back = await chain.setHead(a[3], 80n);
    assertEquals(back?.applied.map((t) => t.height), [3, 4, 5, 6]);
    equal(chain.head().weight, 80n);
  });
});

Deno.test("a crash between the commits of a deep reorg leaves the old head and a repaired index", async () => {
  let crashAt = -1;
  let commits = 0;
  const options: ChainStoreOptions = {
    maxCommitMutations: 4,
    beforeCommit(i, total) {
      commits = total;
      if (i === crashAt) throw new Error("simulated crash");
    },
  };
  await withChain(async ({ kv, ipld, chain, g }) => {
    const common = chainOf(g, [1]);
    const a = chainOf(common[0], range(2, 9), { salt: "a" });
    await store(chain, [...common, ...a]);
    await chain.setHead(a[7], 90n);
    const before = await heightsOf(chain, 9);

    for (crashAt = 0; crashAt < 7; crashAt++) {
      // A new fork each time, so that every commit of the move has work to do.
      const b = chainOf(common[0], range(2, 12), { salt: `b${crashAt}` });
      await store(chain, b);
      const fresh = await ChainStore.open(kv, ipld, genesis.cid, options);
      await rejects(fresh.setHead(b[10], 120n), /simulated crash/);
      ok(commits > 2, `a multi-commit move (${commits})`);
      // Restart: the head is the old one, and the index agrees with it.
      const reopened = await ChainStore.open(kv, ipld, genesis.cid);
      equal(reopened.head().height, 9);
      assertEquals(await heightsOf(reopened, 9), before);
      await rejects(reopened.getTipSetByHeight(10), RangeError);
      equal((await kv.get(["chain", "reindex"])).value, null);
      equal((await kv.get(["chain", "height", 11])).value, null);
    }
    crashAt = -1;
    const b = chainOf(common[0], range(2, 12), { salt: "b" });
    await store(chain, b);
    const last = await ChainStore.open(kv, ipld, genesis.cid, options);
    await last.setHead(b[10], 120n);
    const reopened = await ChainStore.open(kv, ipld, genesis.cid);
    equal(reopened.head().height, 12);
    assertEquals(
      (await heightsOf(reopened, 12)).slice(2),
      b.map((t) => t.key.toString()),
    );
  });
});

Deno.test("`ChainStore.open()` repairs a height index that is ahead of or disagrees with the head", async () => {
  await withChain(async ({ kv, ipld, chain, g }) => {
    const tipsets = chainOf(g, range(1, 4));
    const fork = chainOf(tipsets[1], [3], { salt: "x" });
    await store(chain, [...tipsets, ...fork]);
    await chain.setHead(tipsets[3], 40n);
    await kv.set(["chain", "height", 9], fork[0].key.bytes); // ahead of the head
    await kv.set(["chain", "height", 4], fork[0].key.bytes); // wrong at the head
    await kv.set(["chain", "height", 3], fork[0].key.bytes);
    const reopened = await ChainStore.open(kv, ipld, genesis.cid);
    equal((await kv.get(["chain", "height", 9])).value, null);
    assertEquals(
      await heightsOf(reopened, 4),
      [reopened.genesisTipSet, ...tipsets].map((t) => t.key.toString()),
    );
  });
});

Deno.test("`ChainStore.getBlockMessages()` answers empty blocks; `getTipSet` of unknown CIDs is undefined", async () => {
  await withChain(async ({ chain, g }) => {
    const [t] = chainOf(g, [1]);
    equal(await chain.getTipSet(t.cids), undefined);
    await chain.putTipSet(t, [{ bls: [], secpk: [] }]);
    equal((await chain.getTipSet(t.cids))?.key.toString(), t.key.toString());
    assertEquals(await chain.getBlockMessages(t.blocks[0]), { bls: [], secpk: [] });
    equal((await chain.getBlockHeader(t.cids[0]))?.height, 1);
  });
});

Deno.test("`ChainStore.getAcceptedTipSet()` serves accepted tipsets and their ancestry, not stored-only ones", async () => {
  await withChain(async ({ chain, g }) => {
    const tipsets = chainOf(g, range(1, 6));
    await store(chain, tipsets);
    await chain.setHead(tipsets[3], weightOf(tipsets[3])); // heights 1..4 accepted
    // Stored (as a sync's walk back stores headers) but not accepted: not served.
    equal(await chain.getAcceptedTipSet(tipsets[5].cids), undefined);
    equal(await chain.getAcceptedTipSet(tipsets[4].cids), undefined);
    ok((await chain.getTipSet(tipsets[5].cids))?.equals(tipsets[5]));
    // Walked down from the head as a server does, each parent is served.
    let at = await chain.getAcceptedTipSet(tipsets[3].cids);
    const served: number[] = [];
    while (at) {
      served.push(at.height);
      at = at.height === 0 ? undefined : await chain.getAcceptedTipSet(at.parents.cids);
    }
    assertEquals(served, [4, 3, 2, 1, 0]);
    // Still not served after its parent was walked: acceptance comes from below, not above.
    equal(await chain.getAcceptedTipSet(tipsets[4].cids), undefined);
  });
});
