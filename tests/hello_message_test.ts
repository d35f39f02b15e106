import { deepStrictEqual, equal, throws } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { decodeBigInt, encodeBigInt, InvalidBigIntError } from "../src/chain/big_int.ts";
import { encodeCbor } from "../src/ipld/block.ts";
import { MalformedMessageError } from "../src/protocols/cbor_rpc.ts";
import {
  decodeHello,
  decodeLatency,
  encodeHello,
  encodeLatency,
  type HelloMessage,
} from "../src/protocols/hello_message.ts";

const genesis = encodeCbor({ genesis: true }).cid;
const head = encodeCbor({ head: 1 }).cid;

Deno.test("Filecoin big ints encode as sign byte plus big-endian magnitude, zero as empty", () => {
  deepStrictEqual(encodeBigInt(0n), new Uint8Array([]));
  deepStrictEqual(encodeBigInt(1n), new Uint8Array([0, 1]));
  deepStrictEqual(encodeBigInt(256n), new Uint8Array([0, 1, 0]));
  deepStrictEqual(encodeBigInt(-1n), new Uint8Array([1, 1]));
  for (const v of [0n, 1n, -1n, 255n, 65536n, 10n ** 30n, -(10n ** 30n)]) {
    equal(decodeBigInt(encodeBigInt(v)), v);
  }
  throws(() => decodeBigInt(new Uint8Array([2, 1])), InvalidBigIntError);
  throws(() => decodeBigInt(new Uint8Array(129)), InvalidBigIntError);
});

Deno.test("HelloMessage round-trips through DAG-CBOR as Lotus's 4-tuple", () => {
  const msg: HelloMessage = {
    heaviestTipSet: [head],
    heaviestTipSetHeight: 1234,
    heaviestTipSetWeight: 98765432109876543210n,
    genesisHash: genesis,
  };
  const bytes = dagCbor.encode(encodeHello(msg));
  // Tuple encoding: a CBOR array of 4 (0x84), first an array of 1 CID (0x81).
  equal(bytes[0], 0x84);
  equal(bytes[1], 0x81);
  const back = decodeHello(dagCbor.decode(bytes));
  equal(back.heaviestTipSetHeight, 1234);
  equal(back.heaviestTipSetWeight, msg.heaviestTipSetWeight);
  equal(back.genesisHash.toString(), genesis.toString());
  equal(back.heaviestTipSet[0].toString(), head.toString());
});

Deno.test("decodeHello() rejects wrong shapes and types with MalformedMessageError", () => {
  const good = encodeHello({
    heaviestTipSet: [head],
    heaviestTipSetHeight: 1,
    heaviestTipSetWeight: 1n,
    genesisHash: genesis,
  });
  const bad: unknown[] = [
    null,
    "hello",
    [],
    good.slice(0, 3),
    [...good, 1],
    [[], 1, new Uint8Array(), genesis],
    [Array(65).fill(head), 1, new Uint8Array(), genesis],
    [["not a cid"], 1, new Uint8Array(), genesis],
    [[head], -1, new Uint8Array(), genesis],
    [[head], 1.5, new Uint8Array(), genesis],
    [[head], 1, "weight", genesis],
    [[head], 1, new Uint8Array([1, 5]), genesis],
    [[head], 1, new Uint8Array([7, 5]), genesis],
    [[head], 1, new Uint8Array(), "genesis"],
  ];
  for (const value of bad) {
    throws(() => decodeHello(value), MalformedMessageError, JSON.stringify(value));
  }
});

Deno.test("LatencyMessage carries nanosecond times beyond 2^53 exactly", () => {
  const msg = { tArrival: 1_700_000_000_123_456_789n, tSent: 1_700_000_000_123_999_999n };
  deepStrictEqual(decodeLatency(dagCbor.decode(dagCbor.encode(encodeLatency(msg)))), msg);
  throws(() => decodeLatency([1]), MalformedMessageError);
  throws(() => decodeLatency(["a", 1]), MalformedMessageError);
});
