/**
 * TipSetKey, TipSet ordering and validation, MsgMeta and BlockMsg, built from the published
 * header vectors in tests/fixtures/chain/.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { blake2b } from "@noble/hashes/blake2b";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import type { CID } from "multiformats/cid";
import {
  type BlockHeader,
  blockHeaderCid,
  cidOf,
  cidOfBytes,
  compareTickets,
  decodeTipSetKey,
  deserializeBlockHeader,
  deserializeBlockMsg,
  deserializeMsgMeta,
  EMPTY_TIPSET_KEY,
  encodeTipSetKey,
  InvalidChainDataError,
  InvalidTipSetError,
  msgMetaCid,
  serializeBlockMsg,
  serializeMsgMeta,
  ticketDigest,
  TipSet,
  TipSetKey,
} from "../src/chain/types/mod.ts";

const vectors: { cbor_hex: string; cid: string }[] = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/chain/block_headers.json", import.meta.url)),
);
const headers = vectors.map((v) => deserializeBlockHeader(hexToBytes(v.cbor_hex)));

/** A sibling of `base` (same height and parents) with its own ticket, so a different block. */
function sibling(base: BlockHeader, ticketByte: number): BlockHeader {
  return {
    ...base,
    ticket: { vrfProof: new Uint8Array(96).fill(ticketByte) },
    timestamp: base.timestamp + ticketByte,
  };
}

Deno.test("TipSetKey: bytes are the concatenated CID bytes and parse back", () => {
  const cids = headers[4].parents;
  const key = TipSetKey.of(cids);
  assertEquals(bytesToHex(key.bytes), cids.map((c) => bytesToHex(c.bytes)).join(""));
  const parsed = TipSetKey.fromBytes(key.bytes);
  assert(parsed.equals(key));
  assertEquals(parsed.cids.map(String), cids.map(String));
  assertEquals(parsed.toString(), `{${cids.join(",")}}`);
  assertEquals(JSON.parse(JSON.stringify(parsed)), cids.map((c) => ({ "/": c.toString() })));
  // Order matters, as in Lotus.
  assert(!TipSetKey.of([...cids].reverse()).equals(key));
  // The empty key round-trips and is the "head" key.
  assert(TipSetKey.fromBytes(new Uint8Array(0)).equals(EMPTY_TIPSET_KEY));
  assert(EMPTY_TIPSET_KEY.isEmpty);
});

Deno.test("TipSetKey: CBOR form is one byte string and cid() names that encoding (Lotus TipSetKey.Cid)", () => {
  const key = TipSetKey.of(headers[4].parents);
  const encoded = dagCbor.encode(encodeTipSetKey(key));
  assertEquals(encoded[0], 0x58); // byte string, 1-byte length
  assertEquals(key.cid().toString(), cidOfBytes(encoded).toString());
  assert(decodeTipSetKey(dagCbor.decode(encoded)).equals(key));
  throws(() => decodeTipSetKey([...headers[4].parents]), InvalidChainDataError);
});

Deno.test("TipSet.fromBlocks() orders blocks by ticket digest, whatever the input order", () => {
  const base = headers[1];
  const blocks = [base, sibling(base, 1), sibling(base, 2), sibling(base, 3)];
  const expected = [...blocks].sort((a, b) =>
    compareHex(bytesToHex(ticketDigest(a.ticket!)), bytesToHex(ticketDigest(b.ticket!)))
  );
  for (
    const order of [blocks, [...blocks].reverse(), [blocks[2], blocks[0], blocks[3], blocks[1]]]
  ) {
    const ts = TipSet.fromBlocks(order);
    assertEquals(ts.cids.map(String), expected.map((b) => blockHeaderCid(b).toString()));
    assertEquals(ts.key.cids.map(String), ts.cids.map(String));
    assertEquals(ts.height, 2);
    assert(ts.parents.equals(TipSetKey.of(base.parents)));
    assertEquals(ts.parentWeight, base.parentWeight);
    assertEquals(ts.parentStateRoot.toString(), base.parentStateRoot.toString());
    assertEquals(ts.minTicketBlock, ts.blocks[0]);
    for (let i = 1; i < ts.blocks.length; i++) {
      assert(compareTickets(ts.blocks[i - 1].ticket!, ts.blocks[i].ticket!) < 0);
    }
  }
  // The digest is blake2b-256 of the VRF proof (Lotus Ticket.Less), not the proof itself.
  assertEquals(
    bytesToHex(ticketDigest(base.ticket!)),
    bytesToHex(blake2b(base.ticket!.vrfProof, { dkLen: 32 })),
  );
  assert(TipSet.fromBlocks(blocks).equals(TipSet.fromBlocks([...blocks].reverse())));
});

Deno.test("TipSet.fromBlocks() breaks equal tickets by CID bytes", () => {
  const a = sibling(headers[1], 7);
  const b = { ...a, timestamp: a.timestamp + 1 }; // same ticket, different block
  const ts = TipSet.fromBlocks([a, b]);
  const [first, second] = [blockHeaderCid(a), blockHeaderCid(b)].sort((x, y) =>
    compareHex(bytesToHex(x.bytes), bytesToHex(y.bytes))
  );
  assertEquals(ts.cids.map(String), [first, second].map(String));
});

Deno.test("TipSet.fromBlocks() refuses what Lotus's NewTipSet refuses, and duplicates", () => {
  const base = headers[1];
  const cases: [BlockHeader[], RegExp][] = [
    [[], /at least one block/],
    [[base, headers[2]], /different heights \(2 and 3\)/],
    [[base, { ...sibling(base, 1), parents: [...base.parents].reverse() }], /different parents/],
    [[base, { ...sibling(base, 1), parents: base.parents.slice(1) }], /different parents/],
    [[base, base], /appears twice/],
    [[base, { ...sibling(base, 1), ticket: null }], /without a ticket/],
  ];
  for (const [blocks, pattern] of cases) {
    throws(
      () => TipSet.fromBlocks(blocks),
      (err: Error) =>
        err instanceof InvalidTipSetError && err instanceof InvalidChainDataError &&
        pattern.test(err.message),
    );
  }
  // A lone block needs no ticket to be ordered.
  assertEquals(TipSet.fromBlocks([{ ...base, ticket: null }]).blocks.length, 1);
});

Deno.test("TipSet: the published header vectors' parent links form a chain of tipsets", () => {
  // Vector 4 (height 5) names vector 3 (height 4) among its parents.
  const parentTs = TipSet.fromBlocks([headers[3]]);
  assert(headers[4].parents.some((p) => p.equals(parentTs.cids[0])));
  assertEquals(parentTs.key.cids[0].toString(), vectors[3].cid);
});

Deno.test("MsgMeta of two empty AMTs has the CID Lotus/Forest give a block without messages", () => {
  // An empty AMT v0 root: [height 0, count 0, node [bitmap 0x00, no links, no values]]. Its
  // CID is the header vectors' genesis-parent receipts root (an empty AMT too).
  const emptyAmt: CID = cidOf([0, 0, [new Uint8Array([0]), [], []]]);
  assertEquals(emptyAmt.toString(), headers[0].parentMessageReceipts.toString());
  const meta = { blsMessages: emptyAmt, secpkMessages: emptyAmt };
  // Forest's `empty_msg_meta_vector` test (TipsetValidator::compute_msg_root of no messages), and
  // the Messages field of Lotus mainnet's blocks without messages.
  assertEquals(
    msgMetaCid(meta).toString(),
    "bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba",
  );
  const bytes = serializeMsgMeta(meta);
  assertEquals(bytesToHex(bytes).slice(0, 2), "82");
  assertEquals(deserializeMsgMeta(bytes), meta);
});

Deno.test("BlockMsg round-trips a published header with message CID lists", () => {
  const header = headers[0];
  const msg = {
    header,
    blsMessages: [headers[1].parents[0]],
    secpkMessages: [headers[2].parents[0], headers[2].parents[1]],
  };
  const bytes = serializeBlockMsg(msg);
  // [header, [cid], [cid, cid]]: the header's published bytes appear verbatim inside.
  assertEquals(
    bytesToHex(bytes).slice(0, 2 + vectors[0].cbor_hex.length),
    "83" + vectors[0].cbor_hex,
  );
  const decoded = deserializeBlockMsg(bytes);
  assertEquals(decoded, deserializeBlockMsg(serializeBlockMsg(decoded)));
  assertEquals(blockHeaderCid(decoded.header).toString(), vectors[0].cid);
  assertEquals(decoded.secpkMessages.map(String), msg.secpkMessages.map(String));
});

function compareHex(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
