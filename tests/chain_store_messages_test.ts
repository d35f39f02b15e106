/** Blocks with messages: stored under their MsgMeta root, read back in block order, checked. */
import { deepStrictEqual, equal, rejects } from "node:assert/strict";
import { ChainStore } from "../src/chain/chain_store.ts";
import { makeDevnetTipSet, signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { buildGenesis } from "../src/chain/genesis.ts";
import { InvalidChainDataError } from "../src/chain/types/mod.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

const miner = devnetMinerFromSeed("m");
const sender = devnetMinerFromSeed("sender");

Deno.test("`ChainStore` keeps a block's messages under its message root and reads them back", async () => {
  const genesis = buildGenesis({
    networkName: "msgs",
    timestamp: 1_700_000_000,
    blockDelay: 4,
    miners: [miner.address],
  });
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    await ipld.putMany(genesis.blocks);
    const store = await ChainStore.open(kv, ipld, genesis.header);
    // BLS messages travel unsigned (their aggregate signature is in the header).
    const bls = Array.from({ length: 12 }, (_, i) => signDevnetTransfer(sender, i).message);
    const secpk = [20, 21, 22].map((n) => signDevnetTransfer(sender, n));
    const made = makeDevnetTipSet(store.heaviest, 0n, {
      miners: [miner],
      blockDelay: 4,
      consensus: new DevnetConsensus([miner.address]),
      messages: [{ bls, secpk }],
    });
    const header = made.tipset.blocks[0];
    equal(await store.getBlockMessages(header), undefined, "nothing stored yet");

    // The wrong messages under this header are refused, and nothing is half-stored.
    await rejects(
      store.putTipSet(made.tipset, [{ bls: bls.slice(1), secpk }]),
      InvalidChainDataError,
    );
    equal(await store.getTipSet(made.tipset.cids), undefined, "the refused tipset is not stored");
    await store.putTipSet(made.tipset, made.messages);
    const read = await store.getBlockMessages(header);
    deepStrictEqual(read?.bls.map((m) => m.nonce), bls.map((m) => m.nonce));
    deepStrictEqual(read?.secpk.map((m) => m.message.nonce), [20n, 21n, 22n]);
  } finally {
    kv.close();
  }
});
