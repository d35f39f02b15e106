import { deepStrictEqual as assertEquals, equal, ok, rejects, throws } from "node:assert/strict";
import { Address } from "../src/crypto/address.ts";
import { EMPTY_MSG_META_CID } from "../src/chain/empty_msg_meta.ts";
import {
  buildGenesis,
  decodeGenesisState,
  GENESIS_KEY,
  GenesisMismatchError,
  importGenesis,
  InvalidGenesisError,
  loadOrCreateGenesis,
} from "../src/chain/genesis.ts";
import { blockHeaderCid, deserializeBlockHeader } from "../src/chain/types/mod.ts";
import { encodeCbor } from "../src/ipld/block.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

const template = { networkName: "devnet", timestamp: 1_700_000_000, blockDelay: 4 };

Deno.test("`buildGenesis()` is deterministic and Lotus-shaped", () => {
  const a = buildGenesis(template);
  const b = buildGenesis({ ...template });
  equal(a.cid.toString(), b.cid.toString());
  equal(a.cid.toString(), blockHeaderCid(a.header).toString());
  ok(!a.cid.equals(buildGenesis({ ...template, networkName: "other" }).cid));
  ok(!a.cid.equals(buildGenesis({ ...template, timestamp: 1 }).cid));
  const h = deserializeBlockHeader(a.blocks[0].bytes);
  equal(h.height, 0);
  equal(h.parents.length, 0);
  equal(h.parentWeight, 0n);
  equal(h.miner.toString(), "f00");
  equal(new TextDecoder().decode(h.ticket!.vrfProof), "vrf proof0000000vrf proof0000000");
  equal(h.messages.toString(), EMPTY_MSG_META_CID);
  equal(h.timestamp, template.timestamp);
  // Every block genesis needs is there: header, state, empty AMT, empty MsgMeta.
  assertEquals(
    a.blocks.map((x) => x.cid.toString()),
    [a.cid, h.parentStateRoot, h.parentMessageReceipts, h.messages].map(String),
  );
});

Deno.test("the genesis state object carries network, block delay, accounts and miners", () => {
  const account = { address: Address.fromId(1234), balance: 10n ** 21n };
  const g = buildGenesis({ ...template, accounts: [account], miners: [Address.fromId(1000)] });
  const state = decodeGenesisState(g.blocks[1].bytes);
  equal(state.networkName, "devnet");
  equal(state.blockDelay, 4);
  equal(state.accounts[0].address.toString(), "f01234");
  equal(state.accounts[0].balance, 10n ** 21n);
  equal(state.miners[0].toString(), "f01000");
});

Deno.test("`buildGenesis()` refuses bad templates", () => {
  throws(() => buildGenesis({ ...template, networkName: "no spaces" }), InvalidGenesisError);
  throws(() => buildGenesis({ ...template, blockDelay: 0 }), InvalidGenesisError);
  throws(() => buildGenesis({ ...template, timestamp: -1 }), InvalidGenesisError);
  const a = Address.fromId(5);
  throws(
    () => buildGenesis({ ...template, accounts: [{ address: a, balance: 1n }], miners: [a] }),
    InvalidGenesisError,
  );
  throws(
    () => buildGenesis({ ...template, accounts: [{ address: a, balance: -1n }] }),
    InvalidGenesisError,
  );
});

Deno.test("`importGenesis()` checks blocks, sets the pointer once and refuses another genesis", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    const g = buildGenesis(template);
    const tampered = [{ cid: g.blocks[1].cid, bytes: new Uint8Array([1]) }, g.blocks[0]];
    await rejects(importGenesis(kv, ipld, g.cid, tampered), InvalidGenesisError);
    const notGenesis = encodeCbor({ hello: 1 });
    await rejects(importGenesis(kv, ipld, notGenesis.cid, [notGenesis]), InvalidGenesisError);
    equal((await kv.get(GENESIS_KEY)).value, null);

    await importGenesis(kv, ipld, g.cid, g.blocks);
    for (const b of g.blocks) ok(await ipld.has(b.cid));
    await importGenesis(kv, ipld, g.cid, g.blocks); // same genesis: fine
    const other = buildGenesis({ ...template, networkName: "other" });
    await rejects(importGenesis(kv, ipld, other.cid, other.blocks), GenesisMismatchError);
    // loadOrCreateGenesis keeps the stored one, whatever the template says.
    const loaded = await loadOrCreateGenesis(kv, ipld, { ...template, networkName: "other" });
    equal(blockHeaderCid(loaded).toString(), g.cid.toString());
  } finally {
    kv.close();
  }
});

Deno.test("`loadOrCreateGenesis()` replaces the stand-in genesis of earlier versions", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    const legacy = encodeCbor({ filnodeDevnetGenesis: 1, network: "devnet", timestamp: 0 });
    await ipld.put(legacy.cid, legacy.bytes);
    await kv.set(GENESIS_KEY, legacy.cid.bytes);
    const header = await loadOrCreateGenesis(kv, ipld, template);
    equal(blockHeaderCid(header).toString(), buildGenesis(template).cid.toString());
  } finally {
    kv.close();
  }
});
