import { deepStrictEqual as assertEquals, equal, ok } from "node:assert/strict";
import { chainApiMethods, ChainMethod } from "../src/api/chain_api.ts";
import { blockHeaderFromJson, blockHeaderToJson, tipSetToJson } from "../src/api/chain_json.ts";
import { createDispatcher } from "../src/api/rpc.ts";
import { ChainStore } from "../src/chain/chain_store.ts";
import {
  blockHeaderCid,
  deserializeBlockHeader,
  serializeBlockHeader,
} from "../src/chain/types/mod.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";
import { chainOf, testGenesis } from "./_chain.ts";

interface HeaderVector {
  block: Record<string, unknown>;
  cbor_hex: string;
  cid: string;
}

const vectors: HeaderVector[] = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/chain/block_headers.json", import.meta.url)),
);

const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("our JSON of Lotus's five vector headers equals Lotus's JSON", () => {
  equal(vectors.length, 5);
  for (const v of vectors) {
    const header = deserializeBlockHeader(fromHex(v.cbor_hex), { network: "t" });
    assertEquals(blockHeaderToJson(header, { network: "t" }), v.block);
    // And back: Lotus JSON decodes to the same bytes and CID.
    const back = blockHeaderFromJson(v.block);
    equal(toHex(serializeBlockHeader(back)), v.cbor_hex);
    equal(blockHeaderCid(back).toString(), v.cid);
  }
});

Deno.test("empty lists and bytes are null in JSON, as Go writes nil slices", () => {
  const g = testGenesis();
  const json = blockHeaderToJson(g.header);
  equal(json.Parents, null);
  equal(json.WinPoStProof, null);
  equal(json.ElectionProof?.VRFProof, null);
  equal(json.Miner, "f00");
  equal(blockHeaderCid(blockHeaderFromJson(json)).toString(), g.cid.toString());
});

Deno.test("`Chain*` methods answer with Lotus shapes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const ipld = new MemoryIpldStore();
    const g = testGenesis();
    await ipld.putMany(g.blocks);
    const chain = await ChainStore.open(kv, ipld, g.header);
    const tipsets = chainOf(chain.genesisTipSet, [1, 2, 4], { blocks: 2 });
    for (const t of tipsets) await chain.putTipSet(t);
    await chain.setHead(tipsets[2], 40n);
    const dispatch = createDispatcher(chainApiMethods({ chain, ipld, network: "t" }));
    let id = 0;
    const rpc = async (method: string, params: unknown[] = []) =>
      JSON.parse(
        (await dispatch(JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params })))!,
      );
    const key = (i: number) => tipsets[i].cids.map((c) => ({ "/": c.toString() }));

    assertEquals(
      (await rpc(ChainMethod.ChainHead)).result,
      tipSetToJson(tipsets[2], { network: "t" }),
    );
    equal((await rpc(ChainMethod.ChainHead)).result.Blocks[0].Miner.startsWith("t0"), true);
    assertEquals((await rpc(ChainMethod.ChainGetGenesis)).result.Cids, [{ "/": g.cid.toString() }]);
    equal((await rpc(ChainMethod.ChainGetTipSet, [key(1)])).result.Height, 2);
    equal((await rpc(ChainMethod.ChainGetTipSet, [null])).result.Height, 4);
    equal((await rpc(ChainMethod.ChainGetTipSetByHeight, [3, null])).result.Height, 2);
    equal((await rpc(ChainMethod.ChainGetTipSetAfterHeight, [3, []])).result.Height, 4);
    equal((await rpc(ChainMethod.ChainGetTipSetByHeight, [1, key(1)])).result.Height, 1);
    equal((await rpc(ChainMethod.ChainGetTipSetByHeight, [9, null])).error.code, 1);
    const block = await rpc(ChainMethod.ChainGetBlock, [{ "/": tipsets[0].cids[1].toString() }]);
    assertEquals(block.result, blockHeaderToJson(tipsets[0].blocks[1], { network: "t" }));
    const obj = await rpc(ChainMethod.ChainReadObj, [{ "/": g.cid.toString() }]);
    assertEquals(
      Uint8Array.from(atob(obj.result), (c) => c.charCodeAt(0)),
      new Uint8Array(g.blocks[0].bytes),
    );
    equal((await rpc(ChainMethod.ChainHasObj, [{ "/": g.cid.toString() }])).result, true);
    const missing = { "/": "bafy2bzacecnamqgqmifpluoeldx7zzglxcljo6oja4vrmtj7432rphldpdmm2" };
    equal((await rpc(ChainMethod.ChainHasObj, [missing])).result, false);
    equal((await rpc(ChainMethod.ChainGetBlock, [missing])).error.code, 1);
    equal((await rpc(ChainMethod.ChainReadObj, [missing])).error.code, 1);
    equal((await rpc(ChainMethod.ChainGetBlock, ["nope"])).error.code, -32602);
    ok((await rpc(ChainMethod.ChainGetTipSet, [[missing]])).error.message.includes("not found"));
  } finally {
    kv.close();
  }
});
