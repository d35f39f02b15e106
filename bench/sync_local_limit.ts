/**
 * The local limit a network sync is measured against: how fast this machine can decode, validate
 * and store the same 10,000 devnet tipsets with no network at all (blocks already in memory as
 * bytes, a fresh on-disk KV store, the head moved every 500 tipsets as the syncer does).
 *
 *     deno run --allow-read --allow-write --allow-env bench/sync_local_limit.ts [--tipsets 10000]
 *
 * Prints tipsets per second for: decode only; decode + validate; decode + validate + store.
 * `tests/e2e/sync_test.ts` prints the network figure ("synced 10000 tipsets from one peer in N
 * ms"); the goal is network sync at >= 50% of the decode + validate + store rate.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { validateBlock } from "../src/chain/block_validator.ts";
import { ChainStore } from "../src/chain/chain_store.ts";
import { devnetMinerFromSeed, makeDevnetTipSet } from "../src/chain/devnet_block_maker.ts";
import { buildGenesis, DEVNET_MINER_SEEDS } from "../src/chain/genesis.ts";
import { deserializeBlockHeader, serializeBlockHeader, TipSet } from "../src/chain/types/mod.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";
import { KvIpldStore } from "../src/repo/kv_ipld_store.ts";

const { values } = parseArgs({ args: Deno.args, options: { tipsets: { type: "string" } } });
const COUNT = Number(values.tipsets ?? 10_000);
const BLOCK_DELAY = 4;
const BATCH = 500;

const miners = DEVNET_MINER_SEEDS.map((s) => devnetMinerFromSeed(s));
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

// The chain, as the bytes a peer would send.
const wire: Uint8Array[][] = [];
{
  let parent: TipSet = genesisTipSet;
  let weight = 0n;
  for (let i = 0; i < COUNT; i++) {
    const made = makeDevnetTipSet(parent, weight, {
      miners: [miners[i % miners.length]],
      blockDelay: BLOCK_DELAY,
      consensus,
    });
    wire.push(made.tipset.blocks.map((b) => serializeBlockHeader(b)));
    parent = made.tipset;
    weight = made.weight;
  }
}

function decodeAll(): TipSet[] {
  return wire.map((blocks) => TipSet.fromBlocks(blocks.map((b) => deserializeBlockHeader(b))));
}

async function validateAll(tipsets: TipSet[]): Promise<bigint[]> {
  const weights: bigint[] = [];
  let parent = genesisTipSet;
  let weight = 0n;
  for (const tipset of tipsets) {
    for (const header of tipset.blocks) {
      await validateBlock(header, { bls: [], secpk: [] }, {
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
}

function rate(ms: number): string {
  return `${(COUNT / (ms / 1000)).toFixed(0)} tipsets/s (${ms.toFixed(0)} ms)`;
}

let t = performance.now();
const decoded = decodeAll();
const decodeMs = performance.now() - t;

t = performance.now();
const tipsets = decodeAll();
const weights = await validateAll(tipsets);
const validateMs = performance.now() - t;

const dir = await Deno.makeTempDir({ prefix: "filnode-sync-bench-" });
const kv = await Deno.openKv(join(dir, "store.sqlite"));
let storeMs: number;
try {
  const ipld = new KvIpldStore(kv);
  await ipld.putMany(genesis.blocks);
  const store = await ChainStore.open(kv, ipld, genesis.header);
  t = performance.now();
  const again = decodeAll();
  const w = await validateAll(again);
  for (let i = 0; i < again.length; i++) {
    await store.putTipSet(again[i], again[i].blocks.map(() => ({ bls: [], secpk: [] })));
    if ((i + 1) % BATCH === 0 || i === again.length - 1) await store.setHead(again[i], w[i]);
  }
  storeMs = performance.now() - t;
  if (store.heaviest.height !== COUNT) throw new Error(`stored head at ${store.heaviest.height}`);
} finally {
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

console.log(`local limit for ${COUNT} devnet tipsets (1 block each), no network:`);
console.log(`  decode                      ${rate(decodeMs)}`);
console.log(`  decode + validate           ${rate(validateMs)}`);
console.log(`  decode + validate + store   ${rate(storeMs)}`);
console.log(`(${decoded.length} tipsets, final weight ${weights.at(-1)})`);
