/**
 * Chain sync throughput, side by side in one run (issue 4's goal: a network sync reaches at least
 * 50% of the local limit):
 *
 * 1. **network**: a devnet daemon serving a `--tipsets`-long chain (grown by
 *    `tests/e2e/fixtures/make_chain.ts`, `--messages` signed transfers per block) and a fresh
 *    daemon bootstrapped to it, both real processes on 127.0.0.1 with the start task's scoped
 *    permissions. Timed from the fresh daemon's start until its head is the server's (so daemon
 *    start and hello are included), and the syncer's own breakdown (its `sync: reached height`
 *    log line) is printed beside it.
 * 2. **local limit**: the same kind of chain (same generator, miners and message counts) as the
 *    bytes a peer would send, in memory, then: decode only; decode + validate; decode + validate +
 *    store in a fresh on-disk KV store, in 500-tipset batches with the head moved per batch, as
 *    the syncer does. No network, no process start.
 *
 *     deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run \
 *       --allow-sys=uid,gid bench/sync_throughput.ts [--tipsets 10000] [--messages 2] \
 *       [--only network|local] [--no-gate]
 *
 * Exits 1 when the network figure is under 50% of decode + validate + store (`--no-gate`: report
 * only). Every daemon is stopped and every temp root removed, whatever happens.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import type { BlockMessageLists } from "../src/chain/block_messages.ts";
import { validateBlock } from "../src/consensus/block_validator.ts";
import { ChainStore } from "../src/chain/chain_store.ts";
import { makeDevnetTipSet, signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { buildGenesis, DEVNET_MINER_SEEDS } from "../src/chain/genesis.ts";
import {
  deserializeBlockHeader,
  deserializeSignedMessage,
  serializeBlockHeader,
  serializeSignedMessage,
  TipSet,
} from "../src/chain/types/mod.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";
import { KvIpldStore } from "../src/repo/kv_ipld_store.ts";
import { grow, head, waitForHead } from "../tests/e2e/chain_harness.ts";
import { Devnet } from "../tests/e2e/network_harness.ts";

/** The goal: network sync at this share of the local limit, or better. */
const GOAL_SHARE = 0.5;
const BLOCK_DELAY = 4;
/** Tipsets per head move, as the syncer (`DEFAULT_BATCH_SIZE`). */
const BATCH = 500;
/** Longest the network sync may take before the bench gives up. */
const NETWORK_TIMEOUT_MS = 15 * 60_000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tipsets: { type: "string", default: "10000" },
    messages: { type: "string", default: "2" },
    only: { type: "string" },
    "no-gate": { type: "boolean", default: false },
  },
});
const COUNT = Number(values.tipsets);
const MESSAGES = Number(values.messages);
if (!(COUNT >= 1) || !(MESSAGES >= 0)) throw new RangeError("--tipsets >= 1, --messages >= 0");

const rate = (ms: number) => COUNT / (ms / 1000);
const line = (what: string, ms: number) =>
  `  ${what.padEnd(34)} ${rate(ms).toFixed(0).padStart(6)} tipsets/s  (${ms.toFixed(0)} ms)`;

/** Network sync between two daemons; the time from the fresh daemon's start to its head. */
async function networkSync(): Promise<{ ms: number; breakdown: string }> {
  const net = await Devnet.create();
  try {
    const source = await net.addNode({ start: false });
    const madeAt = performance.now();
    await grow(source, COUNT, ["--messages", String(MESSAGES)]);
    console.log(
      `  (grew the serving chain in ${((performance.now() - madeAt) / 1000).toFixed(1)} s)`,
    );
    await source.start();
    const target = await head(source);
    const started = performance.now();
    const fresh = await net.addNode({ bootstrappers: [source.addr] });
    await waitForHead(fresh, target, NETWORK_TIMEOUT_MS, 50);
    const ms = performance.now() - started;
    const breakdown = fresh.process.text("stderr").findLast((l) => l.startsWith("sync: reached")) ??
      "(no sync summary logged)";
    return { ms, breakdown };
  } finally {
    await net.stop();
  }
}

/** Decode / validate / store rates for the same kind of chain, in this process. */
async function localLimit(): Promise<{ decodeMs: number; validateMs: number; storeMs: number }> {
  const miners = DEVNET_MINER_SEEDS.map((s) => devnetMinerFromSeed(s));
  const sender = devnetMinerFromSeed("bench sync sender");
  const genesis = buildGenesis({
    networkName: "bench",
    timestamp: 1_700_000_000,
    blockDelay: BLOCK_DELAY,
    miners: miners.map((m) => m.address),
  });
  const consensus = new DevnetConsensus(miners.map((m) => m.address));
  const clock = new Clock({
    genesisTime: 1_700_000_000,
    blockDelayMs: BLOCK_DELAY * 1000,
    timeSource: new FakeTimeSource((1_700_000_000 + COUNT * BLOCK_DELAY * 10) * 1000),
  });
  const genesisTipSet = TipSet.fromBlocks([genesis.header]);

  // The chain as the bytes a peer would send: headers, and each block's signed messages.
  const wire: { headers: Uint8Array[]; messages: Uint8Array[][] }[] = [];
  {
    let parent: TipSet = genesisTipSet;
    let weight = 0n;
    for (let i = 0; i < COUNT; i++) {
      const secpk = Array.from(
        { length: MESSAGES },
        (_, m) => signDevnetTransfer(sender, i * MESSAGES + m),
      );
      const made = makeDevnetTipSet(parent, weight, {
        miners: [miners[i % miners.length]],
        blockDelay: BLOCK_DELAY,
        consensus,
        messages: [{ bls: [], secpk }],
      });
      wire.push({
        headers: made.tipset.blocks.map((b) => serializeBlockHeader(b)),
        messages: made.messages.map((m) => m.secpk.map((s) => serializeSignedMessage(s))),
      });
      parent = made.tipset;
      weight = made.weight;
    }
  }

  const decodeAll = () =>
    wire.map((w) => ({
      tipset: TipSet.fromBlocks(w.headers.map((b) => deserializeBlockHeader(b))),
      messages: w.messages.map((list): BlockMessageLists => ({
        bls: [],
        secpk: list.map((b) => deserializeSignedMessage(b)),
      })),
    }));
  const validateAll = async (decoded: ReturnType<typeof decodeAll>) => {
    const weights: bigint[] = [];
    let parent = genesisTipSet;
    let weight = 0n;
    for (const { tipset, messages } of decoded) {
      for (let j = 0; j < tipset.blocks.length; j++) {
        await validateBlock(tipset.blocks[j], messages[j], {
          parent,
          parentWeight: weight,
          blockDelay: BLOCK_DELAY,
          clock,
          consensus,
        });
      }
      weight = consensus.weight(tipset, weight);
      weights.push(weight);
      parent = tipset;
    }
    return weights;
  };

  let t = performance.now();
  decodeAll();
  const decodeMs = performance.now() - t;

  t = performance.now();
  await validateAll(decodeAll());
  const validateMs = performance.now() - t;

  const dir = await Deno.makeTempDir({ prefix: "filnode-sync-bench-" });
  const kv = await Deno.openKv(join(dir, "store.sqlite"));
  try {
    const ipld = new KvIpldStore(kv);
    await ipld.putMany(genesis.blocks);
    const store = await ChainStore.open(kv, ipld, genesis.header);
    t = performance.now();
    const decoded = decodeAll();
    const weights = await validateAll(decoded);
    for (let at = 0; at < decoded.length; at += BATCH) {
      const batch = decoded.slice(at, at + BATCH);
      await store.putTipSets(batch);
      const last = at + batch.length - 1;
      await store.setHead(decoded[last].tipset, weights[last]);
    }
    const storeMs = performance.now() - t;
    if (store.heaviest.height !== COUNT) throw new Error(`stored head at ${store.heaviest.height}`);
    return { decodeMs, validateMs, storeMs };
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

console.log(
  `chain sync of ${COUNT} devnet tipsets (1 block each, ${MESSAGES} signed messages per block)`,
);
let network: { ms: number; breakdown: string } | undefined;
if (values.only !== "local") {
  console.log("network (two daemons on 127.0.0.1):");
  network = await networkSync();
  console.log(line("fresh daemon start -> synced head", network.ms));
  console.log(`  ${network.breakdown}`);
}
let local: Awaited<ReturnType<typeof localLimit>> | undefined;
if (values.only !== "network") {
  console.log("local limit (same process, no network):");
  local = await localLimit();
  console.log(line("decode", local.decodeMs));
  console.log(line("decode + validate", local.validateMs));
  console.log(line("decode + validate + store", local.storeMs));
}
if (network && local) {
  const share = rate(network.ms) / rate(local.storeMs);
  const met = share >= GOAL_SHARE;
  console.log(
    `network sync = ${(share * 100).toFixed(0)}% of decode + validate + store ` +
      `(goal >= ${GOAL_SHARE * 100}%): ${met ? "met" : "MISSED"}`,
  );
  if (!met && !values["no-gate"]) Deno.exitCode = 1;
}
