/**
 * The WebAssembly blake2b gives noble's digests at every length Filecoin uses, on inputs around
 * the 128-byte block boundary and large ones, and hands out arrays no later call overwrites.
 */
import { deepStrictEqual as assertEquals, notStrictEqual } from "node:assert/strict";
import { blake2b } from "@noble/hashes/blake2b";
import { bytesToHex } from "@noble/hashes/utils";
import { blake2b160Digest, blake2b256Digest, blake2b32Digest } from "../src/crypto/blake2b.ts";

const LENGTHS = [0, 1, 38, 127, 128, 129, 255, 256, 257, 4096, (1 << 20) + 3];
const HASHES: [number, (b: Uint8Array) => Uint8Array][] = [
  [32, blake2b256Digest],
  [20, blake2b160Digest],
  [4, blake2b32Digest],
];

Deno.test("blake2b-256/160/32 digests equal noble's across block boundaries and sizes", () => {
  for (const n of LENGTHS) {
    const input = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
    for (const [dkLen, digest] of HASHES) {
      assertEquals(bytesToHex(digest(input)), bytesToHex(blake2b(input, { dkLen })), `${n} B`);
    }
  }
  // RFC 7693 style check value: BLAKE2b-256("abc").
  assertEquals(
    bytesToHex(blake2b256Digest(new TextEncoder().encode("abc"))),
    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
  );
});

Deno.test("each digest is a fresh array: a later call does not change an earlier result", () => {
  const first = blake2b256Digest(Uint8Array.of(1));
  const copy = first.slice();
  const second = blake2b256Digest(Uint8Array.of(2));
  notStrictEqual(first.buffer, second.buffer);
  assertEquals(first, copy);
});
