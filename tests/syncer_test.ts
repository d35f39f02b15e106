/**
 * The syncer against chain stores in memory and a fetcher serving from generated devnet chains:
 * catching up, reorgs to a heavier fork, bad blocks (penalised, remembered, sync completes from
 * an honest source), and resuming after a crash mid-sync.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import type { CID } from "multiformats/cid";
import { ChainStore } from "../src/chain/chain_store.ts";
import { makeDevnetTipSet, signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import type { MadeTipSet } from "../src/consensus/devnet_block_maker.ts";
import type { DevnetMiner } from "../src/crypto/devnet_key.ts";
import { buildGenesis, type Genesis } from "../src/chain/genesis.ts";
import {
  type FetchedChain,
  type SyncChainStore,
  Syncer,
  type SyncerOptions,
  type SyncFetcher,
  type SyncStatus,
} from "../src/sync/syncer.ts";
import { KvWalkProgress } from "../src/sync/walk_progress.ts";
import { serializeBlockMsg, signedMessageCid, TipSet, TipSetKey } from "../src/chain/types/mod.ts";
import type { Consensus } from "../src/consensus/consensus.ts";
import { blockGossipValidator } from "../src/sync/gossip_validators.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

const BLOCK_DELAY = 4;
const GENESIS_TIME = 1_700_000_000;
const MINERS = ["a", "b", "c"].map((s) => devnetMinerFromSeed(s));
const SENDER = devnetMinerFromSeed("sender");

function genesisWithMiners(): Genesis {
  return buildGenesis({
    networkName: "synctest",
    timestamp: GENESIS_TIME,
    blockDelay: BLOCK_DELAY,
    miners: MINERS.map((m) => m.address),
  });
}

/** A clock far enough ahead that every generated block lies in its past. */
function lateClock(): Clock {
  return new Clock({
    genesisTime: GENESIS_TIME,
    blockDelayMs: BLOCK_DELAY * 1000,
    timeSource: new FakeTimeSource((GENESIS_TIME + 10_000_000) * 1000),
  });
}

/** Generated tipsets by key, as a peer would serve them. */
class ChainSource {
  readonly byKey = new Map<string, MadeTipSet>();
  constructor(readonly genesis: TipSet) {}

  /** Grows `count` tipsets on `from` (genesis when absent), with `miners` per tipset. */
  grow(
    count: number,
    options: {
      from?: MadeTipSet;
      miners?: DevnetMiner[];
      salt?: string;
      corrupt?: number;
      /** Signed transfers per block (default none). */
      messages?: number;
    } = {},
  ): MadeTipSet[] {
    const consensus = new DevnetConsensus(MINERS.map((m) => m.address));
    let parent = options.from?.tipset ?? this.genesis;
    let weight = options.from?.weight ?? 0n;
    const out: MadeTipSet[] = [];
    for (let i = 0; i < count; i++) {
      const miners = options.miners ?? [MINERS[i % 2]];
      let made = makeDevnetTipSet(parent, weight, {
        miners,
        blockDelay: BLOCK_DELAY,
        consensus,
        salt: options.salt,
        messages: miners.map((_, b) => ({
          bls: [],
          secpk: Array.from(
            { length: options.messages ?? 0 },
            (_, m) => signDevnetTransfer(SENDER, (parent.height * 8 + b) * 100 + m),
          ),
        })),
      });
      if (options.corrupt === made.tipset.height) {
        // A block whose signature is not its miner's: flip a byte of the signature.
        const b = made.tipset.blocks[0];
        const data = b.blockSig!.data.slice();
        data[5] ^= 0xff;
        const tipset = TipSet.fromBlocks([{ ...b, blockSig: { ...b.blockSig!, data } }]);
        made = { ...made, tipset };
      }
      this.byKey.set(made.tipset.key.toString(), made);
      out.push(made);
      parent = made.tipset;
      weight = made.weight;
    }
    return out;
  }

  fetcher(peerId: string, calls: { messages: boolean; length: number }[] = []): SyncFetcher {
    return {
      getMessages: (tipsets) => {
        calls.push({ messages: true, length: tipsets.length });
        const messages = tipsets.map((t) => this.byKey.get(t.key.toString())?.messages);
        if (messages.some((m) => m === undefined)) return Promise.reject(new Error("not found"));
        return Promise.resolve({ peerId, messages: messages.map((m) => m!) });
      },
      getChain: (head: readonly CID[], length: number, options): Promise<FetchedChain> => {
        calls.push({ messages: options.messages, length });
        const tipsets: TipSet[] = [];
        const messages = [];
        let key = TipSetKey.of(head).toString();
        while (tipsets.length < length) {
          const made = this.byKey.get(key);
          if (!made) break;
          tipsets.push(made.tipset);
          messages.push(made.messages);
          key = made.tipset.parents.toString();
        }
        if (tipsets.length === 0) return Promise.reject(new Error("not found"));
        return Promise.resolve(
          options.messages ? { peerId, tipsets, messages } : { peerId, tipsets },
        );
      },
    };
  }
}

async function withSink(
  genesis: Genesis,
  fn: (store: ChainStore, kv: Deno.Kv, ipld: MemoryIpldStore) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    await ipld.putMany(genesis.blocks);
    await fn(await ChainStore.open(kv, ipld, genesis.header), kv, ipld);
  } finally {
    kv.close();
  }
}

function makeSyncer(
  store: SyncChainStore,
  fetcher: SyncFetcher,
  bad: string[] = [],
  extra: Partial<SyncerOptions> = {},
) {
  return new Syncer({
    store,
    fetcher,
    consensus: new DevnetConsensus(MINERS.map((m) => m.address)),
    clock: lateClock(),
    blockDelay: BLOCK_DELAY,
    batchSize: 200,
    onBadPeer: (peer, reason) => bad.push(`${peer}: ${reason}`),
    ...extra,
  });
}

/**
 * `store` seen through a wrapper: `putTipSets` throws each error of `failures` in turn (a full
 * disk, as Deno KV reports it), then works; `reads` counts `getTipSet` calls by `phase()`.
 */
function faultyStore(
  store: ChainStore,
  failures: Error[] = [],
  reads: { count: number; when?: () => boolean } = { count: 0 },
): SyncChainStore {
  return {
    get heaviest() {
      return store.heaviest;
    },
    get weight() {
      return store.weight;
    },
    getTipSet: (cids, options) => {
      if (reads.when?.() ?? true) reads.count++;
      return store.getTipSet(cids, options);
    },
    acceptedWeight: (key, options) => store.acceptedWeight(key, options),
    putTipSets: (entries, options) => {
      const failure = failures.shift();
      return failure ? Promise.reject(failure) : store.putTipSets(entries, options);
    },
    setHead: (tipset, weight, options) => store.setHead(tipset, weight, options),
  };
}

/**
 * The syncer after a restart: the chain store reopened on the same KV, walk progress read from
 * it, `reads` counting header reads while walking back and `calls` the fetches; started.
 */
async function restartedSyncer(
  kv: Deno.Kv,
  ipld: MemoryIpldStore,
  genesis: Genesis,
  source: ChainSource,
) {
  const reopened = await ChainStore.open(kv, ipld, genesis.cid);
  const ref: { syncer?: Syncer } = {};
  const reads = { count: 0, when: () => ref.syncer?.status.phase === "headers" };
  const calls: { messages: boolean; length: number }[] = [];
  const second = ref.syncer = makeSyncer(
    faultyStore(reopened, [], reads),
    source.fetcher("p", calls),
    [],
    { progress: new KvWalkProgress(kv) },
  );
  await second.start();
  return { reopened, second, reads, calls };
}

/** Resolves with the first status `test` accepts. */
function statusWhere(syncer: Syncer, test: (s: SyncStatus) => boolean): Promise<SyncStatus> {
  return new Promise((resolve) => {
    if (test(syncer.status)) return resolve(syncer.status);
    const on = (e: CustomEvent<SyncStatus>) => {
      if (!test(e.detail)) return;
      syncer.removeEventListener("status", on);
      resolve(e.detail);
    };
    syncer.addEventListener("status", on);
  });
}

const idleAfter = (syncer: Syncer) =>
  statusWhere(syncer, (s) => s.stage === "in-sync" || s.phase === "error");

Deno.test("`Syncer` catches a fresh node up with a 1,000-tipset chain in batches", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(1000, { messages: 2 });
    const top = chain.at(-1)!;
    const calls: { messages: boolean; length: number }[] = [];
    const syncer = makeSyncer(store, source.fetcher("peer-1", calls));
    syncer.start();
    try {
      equal(syncer.inSync, true, "idle counts as in sync");
      syncer.addTarget({
        peerId: "peer-1",
        cids: top.tipset.cids,
        height: 1000,
        weight: top.weight,
      });
      const done = await idleAfter(syncer);
      equal(done.stage, "in-sync", done.message);
      ok(store.heaviest.equals(top.tipset), `head at ${store.heaviest.height}`);
      equal(store.weight, top.weight);
      // Headers back in 5 batches of 200, then the messages alone forward, in 5 batches.
      deepStrictEqual(calls.filter((c) => !c.messages).length, 5);
      deepStrictEqual(calls.filter((c) => c.messages).map((c) => c.length), [
        200,
        200,
        200,
        200,
        200,
      ]);
      // Every height is indexed on the new chain, and the messages are stored under their blocks.
      equal((await store.getTipSetByHeight(500)).key.toString(), chain[499].tipset.key.toString());
      const stored = await store.getBlockMessages(chain[499].tipset.blocks[0]);
      deepStrictEqual(
        stored?.secpk.map((m) => m.message.nonce),
        chain[499].messages[0].secpk.map((m) => m.message.nonce),
      );
      equal(stored?.secpk.length, 2);
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("`Syncer` switches to a heavier fork and ignores a lighter one", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const main = source.grow(300);
    const syncer = makeSyncer(store, source.fetcher("peer-1"));
    syncer.start();
    try {
      const top = main.at(-1)!;
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 300, weight: top.weight });
      await idleAfter(syncer);
      ok(store.heaviest.equals(top.tipset));

      // A fork from height 250 with two blocks per tipset: 60 tipsets outweigh the 50 it replaces.
      const fork = source.grow(60, {
        from: main[249],
        miners: [MINERS[0], MINERS[2]],
        salt: "fork",
      });
      const forkTop = fork.at(-1)!;
      ok(forkTop.weight > top.weight);
      syncer.addTarget({
        peerId: "p2",
        cids: forkTop.tipset.cids,
        height: 310,
        weight: forkTop.weight,
      });
      await statusWhere(syncer, (s) => s.target?.peerId === "p2" && s.stage === "in-sync");
      ok(store.heaviest.equals(forkTop.tipset), `head at ${store.heaviest.height}`);
      equal((await store.getTipSetByHeight(280)).key.toString(), fork[29].tipset.key.toString());

      // A lighter fork is not even fetched.
      const light = source.grow(10, { from: main[289], salt: "light" });
      syncer.addTarget({
        peerId: "p3",
        cids: light.at(-1)!.tipset.cids,
        height: 300,
        weight: light.at(-1)!.weight,
      });
      ok(store.heaviest.equals(forkTop.tipset));
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("`Syncer` rejects a chain with a bad block, penalises its peer, then syncs from an honest one", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const honest = new ChainSource(store.heaviest);
    const good = honest.grow(400);
    const liar = new ChainSource(store.heaviest);
    // The same chain up to 149, then a block at 150 that its miner did not sign, heavier on top.
    const shared = liar.grow(149);
    const bad = liar.grow(300, { from: shared.at(-1), corrupt: 150, salt: "bad" });
    const blamed: string[] = [];
    // One fetcher: the liar's chain from the liar, the honest chain from the honest peer.
    const fetcher: SyncFetcher = {
      getChain: (head, length, options) => {
        const key = TipSetKey.of(head).toString();
        const from = liar.byKey.has(key) ? liar : honest;
        return from.fetcher(from === liar ? "liar" : "honest").getChain(head, length, options);
      },
      getMessages: (tipsets, options) => {
        const from = liar.byKey.has(tipsets[0].key.toString()) ? liar : honest;
        return from.fetcher(from === liar ? "liar" : "honest").getMessages(tipsets, options);
      },
    };
    const syncer = makeSyncer(store, fetcher, blamed);
    syncer.start();
    try {
      const badTop = bad.at(-1)!;
      syncer.addTarget({
        peerId: "liar",
        cids: badTop.tipset.cids,
        height: 449,
        weight: badTop.weight,
      });
      const failed = await statusWhere(syncer, (s) => s.phase === "error");
      ok(failed.message?.includes("invalid block"), failed.message);
      ok(blamed.some((b) => b.startsWith("liar: invalid block")), blamed.join("; "));
      ok(syncer.isBad(bad[0].tipset.cids[0]), "the bad block is remembered");
      ok(
        store.heaviest.height < 150,
        `the head stayed below the bad block (${store.heaviest.height})`,
      );

      const goodTop = good.at(-1)!;
      syncer.addTarget({
        peerId: "honest",
        cids: goodTop.tipset.cids,
        height: 400,
        weight: goodTop.weight,
      });
      await statusWhere(syncer, (s) => s.target?.peerId === "honest" && s.stage === "in-sync");
      ok(store.heaviest.equals(goodTop.tipset));
      ok(!blamed.some((b) => b.startsWith("honest")), "the honest peer is not blamed");

      // A target naming the known-bad block is dropped without fetching anything.
      syncer.addTarget({
        peerId: "liar",
        cids: bad[0].tipset.cids,
        height: 150,
        weight: goodTop.weight + 1n,
      });
      equal(syncer.status.target?.peerId, "honest");
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("a sync cut short resumes from the last batch the head reached", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store, kv, ipld) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(1000, { messages: 1 });
    const top = chain.at(-1)!;
    // Stop the first syncer once its head has moved past 400 (a crash between batches).
    const first = makeSyncer(store, source.fetcher("p"));
    first.start();
    first.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
    await statusWhere(first, (s) => s.phase === "messages" && s.height >= 400);
    await first.stop();
    const reached = store.heaviest.height;
    ok(reached >= 400 && reached < 1000, `head at ${reached} when stopped`);

    // A new store over the same KV and blocks (a restart) resumes from its head.
    const reopened = await ChainStore.open(kv, ipld, genesis.cid);
    equal(reopened.heaviest.height, reached);
    const calls: { messages: boolean; length: number }[] = [];
    const second = makeSyncer(reopened, source.fetcher("p", calls));
    second.start();
    try {
      second.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
      await idleAfter(second);
      ok(reopened.heaviest.equals(top.tipset));
      const forward = calls.filter((c) => c.messages).reduce((n, c) => n + c.length, 0);
      equal(
        forward,
        1000 - reached,
        "only the tipsets above the resumed head were validated again",
      );
    } finally {
      await second.stop();
    }
  });
});

Deno.test("`Syncer` asks no peer for the messages of blocks whose message root is empty", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    // 250 tipsets without messages, then 50 with: only the batch holding those is asked about.
    const plain = source.grow(250);
    const busy = source.grow(50, { from: plain.at(-1), messages: 3 });
    const top = busy.at(-1)!;
    const calls: { messages: boolean; length: number }[] = [];
    const syncer = makeSyncer(store, source.fetcher("p", calls));
    syncer.start();
    try {
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 300, weight: top.weight });
      await idleAfter(syncer);
      ok(store.heaviest.equals(top.tipset), `head at ${store.heaviest.height}`);
      // Batches of 200 forward: [1..200] has no messages, [201..300] has some.
      deepStrictEqual(calls.filter((c) => c.messages).map((c) => c.length), [100]);
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("`Syncer` takes a gossip block on its head by fetching its messages by CID", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const base = source.grow(50);
    const [next, after] = source.grow(2, { from: base.at(-1), messages: 3 });
    const calls: { messages: boolean; length: number }[] = [];
    const byCid: string[][] = [];
    let failByCid = false;
    const fetcher: SyncFetcher = {
      ...source.fetcher("p", calls),
      getMessagesByCid: (bls, secpk) => {
        byCid.push(secpk.map(String));
        if (failByCid) return Promise.reject(new Error("no peer has them"));
        const made = [next, after].find((m) =>
          m.messages[0].secpk.some((s) => signedMessageCid(s).equals(secpk[0]))
        )!;
        equal(bls.length, 0);
        return Promise.resolve(made.messages[0]);
      },
    };
    const syncer = makeSyncer(store, fetcher);
    syncer.start();
    try {
      const top = base.at(-1)!;
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 50, weight: top.weight });
      await idleAfter(syncer);
      ok(store.heaviest.equals(top.tipset));
      const before = calls.length;

      // A gossip block on the head: no chain exchange at all, its messages by CID.
      const gossip = (made: typeof next) => ({
        peerId: "gossiper",
        cids: made.tipset.cids,
        height: made.tipset.height,
        weight: made.weight,
        block: {
          header: made.tipset.blocks[0],
          blsMessages: [],
          secpkMessages: made.messages[0].secpk.map((s) => signedMessageCid(s)),
        },
      });
      syncer.addTarget(gossip(next));
      await statusWhere(syncer, (s) => s.target?.peerId === "gossiper" && s.stage === "in-sync");
      ok(store.heaviest.equals(next.tipset), `head at ${store.heaviest.height}`);
      equal(calls.length, before, "no chain exchange request");
      equal(byCid.length, 1);
      equal((await store.getBlockMessages(next.tipset.blocks[0]))?.secpk.length, 3);

      // Messages not to be had by CID: the same block comes by chain exchange instead.
      failByCid = true;
      syncer.addTarget({ ...gossip(after), peerId: "gossiper-2" });
      await statusWhere(syncer, (s) => s.target?.peerId === "gossiper-2" && s.stage === "in-sync");
      ok(store.heaviest.equals(after.tipset), `head at ${store.heaviest.height}`);
      equal(byCid.length, 2);
      ok(calls.length > before, "fell back to chain exchange");
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("a sync failing on a full disk shows failed with the error, then completes by retry", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(600, { messages: 1 });
    const top = chain.at(-1)!;
    // The two ways Deno KV reports a full disk: SQLite's own words, and the failed commit after
    // SQLite rolled the transaction back under a batched write.
    const failures = [
      new TypeError("database or disk is full"),
      new TypeError("cannot commit - no transaction is active"),
    ];
    const blamed: string[] = [];
    const statuses: SyncStatus[] = [];
    const syncer = makeSyncer(faultyStore(store, failures), source.fetcher("p"), blamed, {
      storePath: "/data/filnode/chain/kv.sqlite",
      retryMinMs: 20,
      retryMaxMs: 200,
    });
    syncer.addEventListener("status", (e) => statuses.push(e.detail));
    syncer.start();
    try {
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 600, weight: top.weight });
      const failed = await statusWhere(syncer, (s) => s.stage === "failed");
      ok(failed.error?.includes("disk full"), failed.error);
      ok(failed.error?.includes("/data/filnode/chain/kv.sqlite"), "names the store path");
      ok(failed.retryAt !== undefined && failed.retryAt > 0, "says when it retries");
      equal(syncer.inSync, true, "a failed sync does not hold mining back");
      // No new target, no reconnect: the syncer tries again by itself and gets there.
      const done = await statusWhere(syncer, (s) => s.stage === "in-sync");
      equal(done.error, undefined);
      ok(store.heaviest.equals(top.tipset), `head at ${store.heaviest.height}`);
      equal(statuses.filter((s) => s.stage === "failed").length, 2, "failed once per bad write");
      equal(failures.length, 0);
      deepStrictEqual(blamed, [], "a local store failure blames no peer");
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("a sync no peer could serve shows failed, then is retried without a new target", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const top = source.grow(100).at(-1)!;
    const honest = source.fetcher("p");
    let refusals = 1;
    const fetcher: SyncFetcher = {
      ...honest,
      getChain: (head, length, options) =>
        refusals-- > 0
          ? Promise.reject(new Error("no peer answered"))
          : honest.getChain(head, length, options),
    };
    const blamed: string[] = [];
    const syncer = makeSyncer(store, fetcher, blamed, { retryMinMs: 20, retryMaxMs: 200 });
    syncer.start();
    try {
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 100, weight: top.weight });
      const failed = await statusWhere(syncer, (s) => s.stage === "failed");
      equal(failed.error, "no peer answered");
      await statusWhere(syncer, (s) => s.stage === "in-sync");
      ok(store.heaviest.equals(top.tipset), `head at ${store.heaviest.height}`);
      deepStrictEqual(blamed, []);
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("a restarted sync takes recorded walk segments instead of re-reading stored headers", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store, kv, ipld) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(1000, { messages: 1 });
    const top = chain.at(-1)!;
    const progress = new KvWalkProgress(kv);
    // The first run walks all the way back, then stops mid-forward (a crash between batches).
    const first = makeSyncer(store, source.fetcher("p"), [], { progress });
    first.start();
    first.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
    await statusWhere(first, (s) => s.phase === "messages" && s.height >= 400);
    await first.stop();
    const reached = store.heaviest.height;
    ok(reached >= 400 && reached < 1000, `head at ${reached} when stopped`);
    ok((await progress.tops()).size > 0, "the walk recorded its segments");

    // After the restart: header reads while walking back, header fetches, forward fetches.
    const { reopened, second, reads, calls } = await restartedSyncer(kv, ipld, genesis, source);
    try {
      second.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
      const done = await statusWhere(second, (s) => s.stage === "in-sync");
      ok(
        reopened.heaviest.equals(top.tipset),
        `head at ${reopened.heaviest.height}: ${done.message}`,
      );
      // Without the records this walk read every header from 1000 down to the head again.
      ok(reads.count < 5, `${reads.count} header reads walking back (of ${1000 - reached} stored)`);
      equal(calls.filter((c) => !c.messages).length, 0, "no header fetched again");
      const forward = calls.filter((c) => c.messages).reduce((n, c) => n + c.length, 0);
      equal(forward, 1000 - reached, "only the tipsets above the resumed head were validated");
      equal((await progress.tops()).size, 0, "a finished sync drops its records");
    } finally {
      await second.stop();
    }
  });
});

Deno.test("a sync stopped mid-walk fetches only the headers the first walk did not store", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store, kv, ipld) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(1000);
    const top = chain.at(-1)!;
    const progress = new KvWalkProgress(kv);
    const first = makeSyncer(store, source.fetcher("p"), [], { progress });
    first.start();
    first.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
    await statusWhere(first, (s) => s.phase === "headers" && s.height <= 600);
    await first.stop();
    equal(store.heaviest.height, 0, "stopped before any head move");
    const recorded = [...(await progress.tops()).values()];
    ok(recorded.length >= 2, `${recorded.length} segments recorded`);

    const { reopened, second, reads, calls } = await restartedSyncer(kv, ipld, genesis, source);
    try {
      second.addTarget({ peerId: "p", cids: top.tipset.cids, height: 1000, weight: top.weight });
      await statusWhere(second, (s) => s.stage === "in-sync");
      ok(reopened.heaviest.equals(top.tipset), `head at ${reopened.heaviest.height}`);
      ok(reads.count < 5, `${reads.count} header reads walking back`);
      // Batches of 200: at most the three answers below the two recorded ones.
      const fetched = calls.filter((c) => !c.messages).length;
      ok(fetched <= 5 - recorded.length, `${fetched} header requests after ${recorded.length}`);
    } finally {
      await second.stop();
    }
  });
});

Deno.test("a gossiped block's consensus checks (its signature) run once on its way in, not again in validation", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store, _kv, ipld) => {
    const source = new ChainSource(store.heaviest);
    const [next] = source.grow(1, { messages: 2 });
    const [other] = source.grow(1, { from: next, messages: 2 });
    // Counts every full consensus check (what verifies the block signature on a devnet).
    const inner = new DevnetConsensus(MINERS.map((m) => m.address));
    const checks: string[] = [];
    const consensus: Consensus = {
      name: inner.name,
      weight: (tipset, parentWeight) => inner.weight(tipset, parentWeight),
      precheckGossipBlock: (header) => {
        checks.push("precheck");
        return inner.precheckGossipBlock(header);
      },
      validateBlock: (header, parent, options) => {
        if (!options?.prechecked) checks.push("full");
        return inner.validateBlock(header, parent, options);
      },
    };
    const byFirstCid = new Map(
      [next, other].map((m) => [signedMessageCid(m.messages[0].secpk[0]).toString(), m]),
    );
    const fetcher: SyncFetcher = {
      ...source.fetcher("p", []),
      getMessagesByCid: (_bls, secpk) =>
        Promise.resolve(byFirstCid.get(secpk[0].toString())!.messages[0]),
    };
    const syncer = makeSyncer(store, fetcher, [], { consensus });
    const validator = blockGossipValidator({
      clock: lateClock(),
      consensus,
      isBad: (cid) => syncer.isBad(cid),
      has: (cid) => ipld.has(cid),
      onBlock: (target) => syncer.addTarget(target),
    });
    const blockOf = (made: MadeTipSet) => ({
      header: made.tipset.blocks[0],
      blsMessages: [],
      secpkMessages: made.messages[0].secpk.map((s) => signedMessageCid(s)),
    });
    await syncer.start();
    try {
      equal(await validator("gossiper", serializeBlockMsg(blockOf(next))), "accept");
      await statusWhere(syncer, (s) => s.target?.peerId === "gossiper" && s.stage === "in-sync");
      ok(store.heaviest.equals(next.tipset), `head at ${store.heaviest.height}`);
      deepStrictEqual(checks, ["precheck"]);

      // A block handed in without the validator's word is checked in full.
      syncer.addTarget({
        peerId: "relay",
        cids: other.tipset.cids,
        height: other.tipset.height,
        weight: other.weight,
        block: blockOf(other),
      });
      await statusWhere(syncer, (s) => s.target?.peerId === "relay" && s.stage === "in-sync");
      ok(store.heaviest.equals(other.tipset), `head at ${store.heaviest.height}`);
      deepStrictEqual(checks, ["precheck", "full"]);
    } finally {
      await syncer.stop();
    }
  });
});

Deno.test("the syncer follows head-changed: a head moved past a failed target ends the failure without waiting for the retry", async () => {
  const genesis = genesisWithMiners();
  await withSink(genesis, async (store) => {
    const source = new ChainSource(store.heaviest);
    const chain = source.grow(20);
    const top = chain.at(-1)!;
    // The first write fails, and a retry would wait a minute: only the head-changed listener
    // can end the failure within this test's bound.
    const syncer = makeSyncer(
      faultyStore(store, [new TypeError("database or disk is full")]),
      source.fetcher("p"),
      [],
      { retryMinMs: 60_000, retryMaxMs: 60_000, heads: store },
    );
    await syncer.start();
    const bound = deadline(30_000, "the syncer to notice the head move");
    try {
      syncer.addTarget({ peerId: "p", cids: top.tipset.cids, height: 20, weight: top.weight });
      await Promise.race([statusWhere(syncer, (s) => s.stage === "failed"), bound.expired]);
      // Another part of the node (an import, later the miner) moves the head to the target.
      await store.putTipSets(chain.map((m) => ({ tipset: m.tipset, messages: m.messages })));
      await store.setHead(top.tipset, top.weight);
      const done = await Promise.race([
        statusWhere(syncer, (s) => s.stage === "in-sync"),
        bound.expired,
      ]);
      equal(done.error, undefined);
      equal(done.height, 20, "the status names the new head's height");
    } finally {
      bound.cancel();
      await syncer.stop();
    }
  });
});

/** A promise that rejects after `ms` unless cancelled (a test's bound, not a sleep). */
function deadline(ms: number, what: string): { expired: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  expired.catch(() => {});
  return { expired, cancel: () => clearTimeout(timer) };
}
