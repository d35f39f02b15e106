/**
 * The one-pass canonical reader behind `deserializeMessage` / `deserializeSignedMessage` must
 * accept exactly what the general path accepts (strict dag-cbor decode, typed read, re-encoding
 * equal to the input), with the same values, and the message bytes it hands back must be the
 * ones the message CID hashes. The general path is kept as the oracle here.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { bytesToHex } from "@noble/hashes/utils";
import { Address } from "../src/crypto/address.ts";
import { signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { signSecp256k1, SigType } from "../src/crypto/signature.ts";
import { deserialize } from "../src/chain/types/_cbor.ts";
import { CanonicalCborReader } from "../src/chain/types/canonical_cbor_reader.ts";
import {
  cidOfBytes,
  decodeMessage,
  decodeSignedMessage,
  deserializeMessage,
  deserializeReceivedSignedMessage,
  deserializeSignedMessage,
  encodeMessage,
  encodeSignedMessage,
  InvalidChainDataError,
  type Message,
  messageCid,
  serializeMessage,
  serializeSignedMessage,
  type SignedMessage,
} from "../src/chain/types/mod.ts";

/** The general path: strict dag-cbor, typed read, re-encoding compared with the input. */
const oracle = {
  message: (bytes: Uint8Array) =>
    deserialize(bytes, "message", (v) => decodeMessage(v), encodeMessage),
  signed: (bytes: Uint8Array) =>
    deserialize(bytes, "signed message", (v) => decodeSignedMessage(v), encodeSignedMessage),
};

/** The verdict of `fn`: its value, or the InvalidChainDataError class (anything else fails). */
function outcome<T>(fn: () => T, context: string): T | "invalid" {
  try {
    return fn();
  } catch (err) {
    assert(err instanceof InvalidChainDataError, `${context}: ${(err as Error).stack}`);
    return "invalid";
  }
}

/** Deterministic xorshift so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
}

const SENDER = devnetMinerFromSeed("canonical reader");

/** Messages covering every field's encodings: 1- to 9-byte heads, signs, address protocols. */
const MESSAGES: Message[] = [
  { ...signDevnetTransfer(SENDER, 7).message, value: 10n ** 18n },
  {
    version: 24,
    to: Address.fromActorData(new Uint8Array(20).fill(7)),
    from: Address.fromId(2n ** 63n - 1n),
    nonce: 2n ** 64n - 1n,
    value: -(10n ** 30n),
    gasLimit: -(2n ** 63n),
    gasFeeCap: 0n,
    gasPremium: 255n,
    method: 2n ** 53n + 1n,
    params: new Uint8Array(300).fill(0xa5),
  },
  {
    version: 256,
    to: Address.fromBlsPublicKey(new Uint8Array(48).fill(3)),
    from: SENDER.address,
    nonce: 2n ** 32n,
    value: 1n,
    gasLimit: 2n ** 63n - 1n,
    gasFeeCap: 2n ** 200n,
    gasPremium: 65_536n,
    method: 23n,
    params: new Uint8Array(70_000).fill(1),
  },
];

function signed(message: Message): SignedMessage {
  const data = signSecp256k1(SENDER.privateKey, messageCid(message).bytes);
  return { message, signature: { type: SigType.SECP256K1, data } };
}

/** Random corruptions of `bytes`: overwritten, inserted and deleted bytes, truncation. */
function* mutations(bytes: Uint8Array, count: number, seed: number): Generator<Uint8Array> {
  const next = rng(seed);
  for (let i = 0; i < count; i++) {
    const b = Array.from(bytes);
    const edits = 1 + (next() % 3);
    for (let j = 0; j < edits && b.length > 0; j++) {
      // Edits near the front hit the heads; the params of the big messages would swallow most.
      const at = next() % Math.min(b.length, 160);
      switch (next() % 4) {
        case 0:
          b[at] = next() & 0xff;
          break;
        case 1:
          b.splice(at, 0, next() & 0xff);
          break;
        case 2:
          b.splice(at, 1);
          break;
        default:
          b.length = next() % b.length;
      }
    }
    yield Uint8Array.from(b);
  }
}

Deno.test("deserializeSignedMessage() agrees with the general path on valid and corrupted bytes", () => {
  let accepted = 0;
  let refused = 0;
  for (const [m, message] of MESSAGES.entries()) {
    const good = serializeSignedMessage(signed(message));
    // Fewer copies of the 70 KB message: each mutation copies it whole.
    const count = good.length > 10_000 ? 300 : 3000;
    for (const bytes of [good, ...mutations(good, count, 0x9e3779b9 + m)]) {
      const fast = outcome(() => deserializeReceivedSignedMessage(bytes), bytesToHex(bytes));
      const slow = outcome(() => oracle.signed(bytes), bytesToHex(bytes));
      if (fast === "invalid" || slow === "invalid") {
        assertEquals(
          fast === "invalid",
          slow === "invalid",
          `verdicts differ: ${bytesToHex(bytes)}`,
        );
        refused++;
        continue;
      }
      assertEquals(fast.signed, slow);
      // The bytes handed back are the message's own encoding: hashing them names the message.
      assertEquals(bytesToHex(fast.messageBytes), bytesToHex(serializeMessage(slow.message)));
      assert(cidOfBytes(fast.messageBytes).equals(messageCid(slow.message)));
      if (bytes !== good) accepted++;
    }
  }
  // Both verdicts were exercised: corruptions still valid (a changed nonce, a flipped signature
  // bit) were compared value for value, the rest refused by both.
  assert(accepted >= 50 && refused > 5000, `accepted ${accepted}, refused ${refused}`);
});

Deno.test("deserializeMessage() agrees with the general path on valid and corrupted bytes", () => {
  let accepted = 0;
  for (const [m, message] of MESSAGES.entries()) {
    const good = serializeMessage(message);
    const count = good.length > 10_000 ? 200 : 2000;
    for (const bytes of [good, ...mutations(good, count, 0x2545f491 + m)]) {
      const fast = outcome(() => deserializeMessage(bytes), bytesToHex(bytes));
      const slow = outcome(() => oracle.message(bytes), bytesToHex(bytes));
      assertEquals(fast, slow, `verdicts differ: ${bytesToHex(bytes)}`);
      if (fast !== "invalid" && bytes !== good) accepted++;
    }
  }
  // Corruptions that are still valid messages (a changed nonce, a shorter params) were compared
  // value for value, not only refusals.
  assert(accepted >= 100, `accepted ${accepted} corrupted messages`);
});

Deno.test("a valid value written non-canonically is refused by both paths", () => {
  const good = serializeSignedMessage(signed(MESSAGES[0]));
  // [0x82, 0x8a, version 0x00, ...]: the version written as 0x18 0x00, as a half float 0.0,
  // and the outer array as an indefinite-length one.
  const variants = [
    Uint8Array.of(0x82, 0x8a, 0x18, 0x00, ...good.subarray(3)),
    Uint8Array.of(0x82, 0x8a, 0xf9, 0x00, 0x00, ...good.subarray(3)),
    Uint8Array.of(0x9f, ...good.subarray(1), 0xff),
    Uint8Array.of(...good, 0x00),
  ];
  for (const bytes of variants) {
    assertEquals(outcome(() => deserializeSignedMessage(bytes), "fast"), "invalid");
    assertEquals(outcome(() => oracle.signed(bytes), "oracle"), "invalid");
  }
});

Deno.test("CanonicalCborReader: only the shortest head is accepted, up to 2^64 - 1", () => {
  const uint = (...bytes: number[]) =>
    outcome(() => {
      const r = new CanonicalCborReader(Uint8Array.from(bytes));
      const n = r.uint64("n");
      r.end("n");
      return n;
    }, "uint");
  assertEquals(uint(0x17), 23n);
  assertEquals(uint(0x18, 0x17), "invalid");
  assertEquals(uint(0x18, 0x18), 24n);
  assertEquals(uint(0x19, 0x00, 0xff), "invalid");
  assertEquals(uint(0x19, 0x01, 0x00), 256n);
  assertEquals(uint(0x1a, 0x00, 0x00, 0xff, 0xff), "invalid");
  assertEquals(uint(0x1a, 0x00, 0x01, 0x00, 0x00), 65_536n);
  assertEquals(uint(0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), "invalid");
  assertEquals(uint(0x1b, 0, 0, 0, 1, 0, 0, 0, 0), 2n ** 32n);
  assertEquals(uint(0x1b, 0, 0x20, 0, 0, 0, 0, 0, 1), 2n ** 53n + 1n);
  assertEquals(uint(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 2n ** 64n - 1n);
  assertEquals(uint(0x1c), "invalid");
  assertEquals(uint(0x1f), "invalid");
  assertEquals(uint(0x19, 0x01), "invalid");
  assertEquals(uint(0x01, 0x00), "invalid");
  assertEquals(uint(), "invalid");

  const safe = (...bytes: number[]) =>
    outcome(() => new CanonicalCborReader(Uint8Array.from(bytes)).safeUint("n"), "safe");
  assertEquals(safe(0x1b, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), Number.MAX_SAFE_INTEGER);
  assertEquals(safe(0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0), "invalid");

  const int = (...bytes: number[]) =>
    outcome(() => new CanonicalCborReader(Uint8Array.from(bytes)).int64("n"), "int");
  assertEquals(int(0x20), -1n);
  assertEquals(int(0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -(2n ** 63n));
  assertEquals(int(0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0), "invalid");
  assertEquals(int(0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0), "invalid");
  assertEquals(int(0x38, 0x10), "invalid");

  const bytes = (...input: number[]) =>
    outcome(() => new CanonicalCborReader(Uint8Array.from(input)).bytes("b", 4), "bytes");
  assertEquals(bytes(0x42, 1, 2), Uint8Array.of(1, 2));
  assertEquals(bytes(0x43, 1, 2), "invalid");
  assertEquals(bytes(0x45, 1, 2, 3, 4, 5), "invalid");
  assertEquals(bytes(0x58, 0x02, 1, 2), "invalid");
  assertEquals(bytes(0x5f, 0x41, 1, 0xff), "invalid");
});
