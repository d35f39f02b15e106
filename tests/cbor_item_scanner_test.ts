/**
 * The CBOR item scanner finds where an item ends however its bytes are split, never before all
 * of it is there, and refuses heads that no further byte can make valid.
 */
import { equal, throws } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import {
  CborItemScanner,
  CborLengthOverCapError,
  MalformedCborHeadError,
} from "../src/protocols/cbor_item_scanner.ts";

const SAMPLE_CID = CID.parse("bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba");

/** Values of every major type, nested, as chain exchange and hello carry them. */
const VALUES: unknown[] = [
  0,
  23,
  24,
  -1,
  -500,
  2 ** 40,
  18446744073709551615n, // uint64 max: valid CBOR above 2^53
  -18446744073709551616n,
  1.5,
  true,
  null,
  "",
  "héllo",
  new Uint8Array(0),
  new Uint8Array(70_000).fill(7),
  [],
  {},
  [[[], [[]]], { a: [1, { b: new Uint8Array(300) }] }],
  [SAMPLE_CID, [SAMPLE_CID, SAMPLE_CID], 900, 3],
  Array.from({ length: 500 }, (_, i) => [i, `s${i}`, new Uint8Array(i % 40), [SAMPLE_CID]]),
];

const describe = (value: unknown) => Deno.inspect(value, { depth: 2 }).slice(0, 40);

/** Feeds `bytes` in pieces cut at `cuts`, returning what the scanner said after each piece. */
function feed(bytes: Uint8Array, cuts: number[]): (number | undefined)[] {
  const scanner = new CborItemScanner();
  const seen: (number | undefined)[] = [];
  for (const cut of [...cuts, bytes.length]) seen.push(scanner.scan(bytes.subarray(0, cut)));
  return seen;
}

Deno.test("CborItemScanner finds the end of every kind of item, only once all of it is there", () => {
  for (const value of VALUES) {
    const bytes = dagCbor.encode(value);
    // Byte by byte for short items, at 200 random points for long ones.
    const cuts = bytes.length <= 600
      ? Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
      : Array.from({ length: 200 }, () => 1 + Math.floor(Math.random() * (bytes.length - 1)))
        .sort((a, b) => a - b);
    const seen = feed(bytes, cuts);
    for (let i = 0; i < cuts.length; i++) {
      equal(seen[i], undefined, `${describe(value)}: complete at ${cuts[i]}`);
    }
    equal(seen.at(-1), bytes.length, `end of ${describe(value)}`);
  }
});

Deno.test("CborItemScanner reports the first item's end when more bytes follow it", () => {
  const first = dagCbor.encode([1, [2, 3]]);
  const both = new Uint8Array([...first, ...dagCbor.encode("next")]);
  equal(new CborItemScanner().scan(both), first.length);
});

Deno.test("CborItemScanner refuses indefinite and reserved heads, and lengths over the cap", () => {
  const scan = (bytes: number[], cap?: number) =>
    new CborItemScanner().scan(new Uint8Array(bytes), cap);
  throws(() => scan([0x9f, 0x01, 0xff]), MalformedCborHeadError); // indefinite array
  throws(() => scan([0x5f]), MalformedCborHeadError); // indefinite bytes
  throws(() => scan([0x1c]), MalformedCborHeadError); // reserved additional info 28
  throws(() => scan([0x82, 0x01, 0xfe]), MalformedCborHeadError); // reserved, nested
  // A 4 GiB byte string head: over a 1 MiB cap before any of its payload arrives.
  throws(() => scan([0x5a, 0xff, 0xff, 0xff, 0xff], 1 << 20), CborLengthOverCapError);
  // A length over 2^53 is never a real one.
  throws(
    () => scan([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    MalformedCborHeadError,
  );
  // A head split before its length bytes is just incomplete.
  equal(scan([0x5a, 0x00]), undefined);
});
