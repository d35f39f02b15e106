/**
 * Peer bytes that are not valid chain objects: every case must end in InvalidChainDataError
 * with a message naming the problem, never a TypeError, a RangeError or a hang.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import { CID } from "multiformats/cid";
import { Address } from "../src/crypto/address.ts";
import { SigType } from "../src/crypto/signature.ts";
import { UserError } from "../src/errors.ts";
import {
  type BlockHeader,
  deserializeBlockHeader,
  deserializeBlockMsg,
  deserializeMessage,
  deserializeMsgMeta,
  deserializeSignedMessage,
  InvalidChainDataError,
  MAX_LIST_LENGTH,
  type Message,
  serializeBlockHeader,
  serializeMessage,
  serializeSignedMessage,
  TipSetKey,
} from "../src/chain/types/mod.ts";

const FIXTURES = new URL("./fixtures/chain/", import.meta.url);
const HEADER_HEX: string = JSON.parse(
  Deno.readTextFileSync(new URL("block_headers.json", FIXTURES)),
)[0].cbor_hex;
const HEADER_BYTES = hexToBytes(HEADER_HEX);
const MESSAGE_HEX: string = JSON.parse(
  Deno.readTextFileSync(new URL("unsigned_messages.json", FIXTURES)),
)[1].hex_cbor;

/** Asserts `fn` throws InvalidChainDataError whose message matches `pattern`; returns it. */
function assertInvalid(fn: () => unknown, pattern: RegExp, context = ""): InvalidChainDataError {
  try {
    fn();
  } catch (err) {
    assert(
      err instanceof InvalidChainDataError,
      `${context}: expected InvalidChainDataError, got ${(err as Error)?.name}: ${err}`,
    );
    assert(pattern.test(err.message), `${context}: "${err.message}" should match ${pattern}`);
    return err;
  }
  throw new Error(`${context}: expected InvalidChainDataError, nothing was thrown`);
}

/** The header vector's tuple with field `index` replaced by `value`, encoded. */
function headerWith(index: number, value: unknown): Uint8Array {
  const tuple = dagCbor.decode(HEADER_BYTES) as unknown[];
  tuple[index] = value;
  return dagCbor.encode(tuple);
}

/**
 * The header vector with field `index` replaced by raw CBOR `hex` (for encodings dag-cbor's
 * encoder would never write: floats for integers, non-minimal forms, undefined).
 */
function headerWithRaw(index: number, hex: string): Uint8Array {
  const marker = 0xdeadbeef; // encodes as 1a deadbeef, found nowhere else in the vector
  const encoded = bytesToHex(headerWith(index, marker));
  assert(encoded.split("1adeadbeef").length === 2);
  return hexToBytes(encoded.replace("1adeadbeef", hex));
}

const someCid = CID.parse("bafy2bzacecv2dnse37l6p2xwhqaq63txtme7hc7ajkgawuswyzqftgdmuhrfs");

Deno.test("the malformed-input helpers start from a header that decodes", () => {
  deserializeBlockHeader(HEADER_BYTES);
  deserializeBlockHeader(headerWith(7, 1));
});

Deno.test("deserializeBlockHeader() refuses every truncation of a valid header", () => {
  for (let n = 0; n < HEADER_BYTES.length; n++) {
    assertInvalid(
      () => deserializeBlockHeader(HEADER_BYTES.subarray(0, n)),
      /malformed CBOR/,
      `prefix ${n}`,
    );
  }
});

Deno.test("deserializeBlockHeader() refuses trailing bytes", () => {
  const padded = Uint8Array.of(...HEADER_BYTES, 0x00);
  assertInvalid(() => deserializeBlockHeader(padded), /malformed CBOR/);
  assertInvalid(
    () => deserializeBlockHeader(Uint8Array.of(...HEADER_BYTES, ...HEADER_BYTES)),
    /malformed/,
  );
});

Deno.test("deserializeBlockHeader() refuses 15- and 17-field headers and non-arrays", () => {
  const tuple = dagCbor.decode(HEADER_BYTES) as unknown[];
  assertInvalid(
    () => deserializeBlockHeader(dagCbor.encode([...tuple, 0])),
    /16-field array, got 17 fields/,
  );
  assertInvalid(
    () => deserializeBlockHeader(dagCbor.encode(tuple.slice(0, 15))),
    /16-field array, got 15 fields/,
  );
  assertInvalid(() => deserializeBlockHeader(dagCbor.encode({ Miner: 1 })), /got a map/);
  assertInvalid(() => deserializeBlockHeader(dagCbor.encode(null)), /got null/);
  assertInvalid(() => deserializeBlockHeader(new Uint8Array(0)), /malformed CBOR/);
});

Deno.test("deserializeBlockHeader() names the field whose type is wrong", () => {
  const cases: [number, unknown, RegExp][] = [
    [0, 1000, /Miner: expected a byte string, got number/],
    [0, new Uint8Array(0), /Miner: address bytes too short/],
    [0, Uint8Array.of(4, 0xff), /Miner: delegated address namespace varint is truncated/],
    [0, new Uint8Array(65), /Miner: too long \(65 bytes, max 64\)/],
    [1, new Uint8Array(96), /Ticket: expected a 1-field array, got a 96-byte string/],
    [1, [], /Ticket: expected a 1-field array, got 0 fields/],
    [1, [7], /Ticket\.VRFProof: expected a byte string, got number/],
    [2, [1], /ElectionProof: expected a 2-field array, got 1 fields/],
    [2, [new Uint8Array(1), new Uint8Array(1)], /ElectionProof\.WinCount: expected an integer/],
    [3, null, /BeaconEntries: expected an array, got null/],
    [3, [[-1, new Uint8Array(1)]], /BeaconEntries\[0\]\.Round: must not be negative/],
    [3, [[1, "data"]], /BeaconEntries\[0\]\.Data: expected a byte string, got string/],
    [4, [[0]], /WinPoStProof\[0\]: expected a 2-field array/],
    [5, [someCid, new Uint8Array(36)], /Parents\[1\]: expected a CID, got a 36-byte string/],
    [5, someCid, /Parents: expected an array, got a CID/],
    [6, 3840, /ParentWeight: expected a byte string, got number/],
    [7, "1", /Height: expected an integer, got string/],
    [7, 1.5, /Height: expected an integer, got the float 1.5/],
    [7, 2n ** 53n, /Height: out of range/],
    [8, new Uint8Array(38), /ParentStateRoot: expected a CID/],
    [10, null, /Messages: expected a CID, got null/],
    [11, new Uint8Array(0), /BLSAggregate: empty signature/],
    [11, Uint8Array.of(9, 1, 2), /BLSAggregate: unknown signature type 9/],
    [11, Uint8Array.of(3, 1, 2), /BLSAggregate: unknown signature type 3/],
    [12, -1, /Timestamp: must not be negative/],
    [12, 2n ** 63n, /Timestamp: out of range/],
    [13, Uint8Array.of(2, ...new Uint8Array(200)), /BlockSig: too long \(201 bytes, max 200\)/],
    [13, [2, new Uint8Array(96)], /BlockSig: expected a byte string/],
    [14, -5, /ForkSignaling: must not be negative/],
    [15, new Uint8Array(129), /ParentBaseFee: too long \(129 bytes, max 128\)/],
    [15, Uint8Array.of(2, 1), /ParentBaseFee: invalid big int sign byte 2/],
    [15, Uint8Array.of(0), /ParentBaseFee: big int is not minimally encoded/],
    [15, Uint8Array.of(1), /ParentBaseFee: big int is not minimally encoded/],
    [15, Uint8Array.of(0, 0, 5), /ParentBaseFee: big int is not minimally encoded/],
  ];
  for (const [index, value, pattern] of cases) {
    const err = assertInvalid(
      () => deserializeBlockHeader(headerWith(index, value)),
      pattern,
      `field ${index} = ${String(value).slice(0, 20)}`,
    );
    assert(err instanceof UserError);
    assert(err.message.startsWith("block header."), err.message);
  }
});

Deno.test("deserializeBlockHeader() refuses lists longer than Lotus's cbor-gen limit (8192)", () => {
  const entries = Array.from({ length: MAX_LIST_LENGTH + 1 }, () => [1, new Uint8Array(0)]);
  assertInvalid(
    () => deserializeBlockHeader(headerWith(3, entries)),
    /BeaconEntries: too many items \(8193, max 8192\)/,
  );
  const parents = Array.from({ length: MAX_LIST_LENGTH + 1 }, () => someCid);
  assertInvalid(() => deserializeBlockHeader(headerWith(5, parents)), /Parents: too many items/);
  const proofs = Array.from({ length: MAX_LIST_LENGTH + 1 }, () => [0, new Uint8Array(0)]);
  assertInvalid(() => deserializeBlockHeader(headerWith(4, proofs)), /WinPoStProof: too many/);
  // At the limit it decodes.
  const atLimit = Array.from({ length: MAX_LIST_LENGTH }, () => [1, new Uint8Array(0)]);
  assertEquals(deserializeBlockHeader(headerWith(3, atLimit)).beaconEntries.length, 8192);
});

Deno.test("length headers that promise more than the input holds fail without allocating", () => {
  const cases = [
    "9b00000000ffffffff", // array of 2^32 - 1 items in 9 bytes
    "9bffffffffffffffff", // array of 2^64 - 1 items
    "90" + "5bffffffffffffffff", // header whose miner is a 2^64 - 1 byte string
    "905a7fffffff00", // a 2 GiB byte string
  ];
  for (const hex of cases) {
    assertInvalid(() => deserializeBlockHeader(hexToBytes(hex)), /malformed CBOR/, hex);
  }
});

Deno.test("non-canonical CBOR is refused even where dag-cbor would decode a value", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    // Height 1 as a one-byte-extended integer (18 01): cbor-gen and dag-cbor both refuse.
    ["non-minimal integer", headerWithRaw(7, "1801"), /malformed CBOR.*more bytes than necessary/],
    ["non-minimal length", hexToBytes("9910" + HEADER_HEX.slice(2)), /malformed CBOR/],
    ["indefinite-length array", hexToBytes("9f" + HEADER_HEX.slice(2) + "ff"), /malformed CBOR/],
    // Float 1.0 where the integer height belongs: decodes to the number 1, caught by re-encoding.
    ["float 1.0 for an integer", headerWithRaw(7, "fb3ff0000000000000"), /not canonically encoded/],
    ["half float 1.0", headerWithRaw(7, "f93c00"), /malformed CBOR|not canonically/],
    // undefined (f7) where a null ticket may stand: dag-cbor reads it as null.
    ["undefined for null", headerWithRaw(1, "f7"), /malformed CBOR|not canonically encoded/],
    ["NaN height", headerWithRaw(7, "f97e00"), /malformed CBOR/],
    ["tag other than 42", headerWithRaw(8, "d82b4100"), /malformed CBOR/],
    ["CID without the 0x00 prefix", headerWithRaw(8, "d82a4101"), /malformed CBOR/],
  ];
  for (const [name, bytes, pattern] of cases) {
    assertInvalid(() => deserializeBlockHeader(bytes), pattern, name);
  }
});

Deno.test("absurd nesting and oversized input end in InvalidChainDataError, not a stack overflow", () => {
  const deep = new Uint8Array(200_000).fill(0x81); // [[[[...
  assertInvalid(() => deserializeBlockHeader(deep), /malformed CBOR/);
  const big = new Uint8Array((1 << 20) + 1);
  assertInvalid(() => deserializeBlockHeader(big), /too large \(1048577 bytes, max 1048576\)/);
  assertInvalid(
    () => deserializeBlockHeader(HEADER_BYTES, { maxBytes: 100 }),
    /too large \(\d+ bytes, max 100\)/,
  );
  assertInvalid(
    () => deserializeBlockHeader("90" as unknown as Uint8Array),
    /expected bytes, got string/,
  );
});

Deno.test("random corruption of a valid header never escapes as anything but InvalidChainDataError", () => {
  // Deterministic xorshift so a failure reproduces.
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = HEADER_BYTES.slice();
    const flips = 1 + (next() % 3);
    for (let j = 0; j < flips; j++) bytes[next() % bytes.length] = next() & 0xff;
    try {
      const header = deserializeBlockHeader(bytes);
      // Whatever is accepted must be canonical: it re-encodes to the very same bytes.
      assertEquals(bytesToHex(serializeBlockHeader(header)), bytesToHex(bytes));
      accepted++;
    } catch (err) {
      assert(err instanceof InvalidChainDataError, `mutation ${i}: ${(err as Error).stack}`);
    }
  }
  assert(accepted > 0 && accepted < 3000, `accepted ${accepted}`);
});

Deno.test("deserializeMessage() refuses malformed messages, naming the field", () => {
  const tuple = dagCbor.decode(hexToBytes(MESSAGE_HEX)) as unknown[];
  const withField = (index: number, value: unknown) => {
    const t = [...tuple];
    t[index] = value;
    return dagCbor.encode(t);
  };
  const cases: [Uint8Array, RegExp][] = [
    [dagCbor.encode(tuple.slice(0, 9)), /message: expected a 10-field array, got 9 fields/],
    [dagCbor.encode([...tuple, 0]), /message: expected a 10-field array, got 11 fields/],
    [withField(0, -1), /message\.Version: must not be negative/],
    [withField(1, 5), /message\.To: expected a byte string/],
    [withField(2, Uint8Array.of(1, 2, 3)), /message\.From: f1 address payload must be 20 bytes/],
    [withField(3, -1), /message\.Nonce: must not be negative/],
    [withField(3, -(2n ** 63n)), /message\.Nonce: must not be negative/],
    [withField(4, 5), /message\.Value: expected a byte string/],
    [withField(5, 2n ** 63n), /message\.GasLimit: out of int64 range/],
    [withField(5, -(2n ** 63n) - 1n), /message\.GasLimit: out of int64 range/],
    [withField(6, new Uint8Array(129)), /message\.GasFeeCap: too long/],
    [withField(8, -3), /message\.Method: must not be negative/],
    [withField(8, "send"), /message\.Method: expected an integer, got string/],
    [withField(9, null), /message\.Params: expected a byte string, got null/],
  ];
  for (const [bytes, pattern] of cases) assertInvalid(() => deserializeMessage(bytes), pattern);
  // int64 extremes decode: GasLimit is signed in Lotus.
  const extreme = deserializeMessage(withField(5, -(2n ** 63n)));
  assertEquals(extreme.gasLimit, -(2n ** 63n));
  const truncated = hexToBytes(MESSAGE_HEX);
  for (let n = 0; n < truncated.length; n++) {
    assertInvalid(() => deserializeMessage(truncated.subarray(0, n)), /malformed CBOR/);
  }
});

const message: Message = {
  version: 0,
  to: Address.fromId(1000),
  from: Address.fromId(1001),
  nonce: 7n,
  value: 10n ** 18n,
  gasLimit: 1_000_000n,
  gasFeeCap: 100n,
  gasPremium: 1n,
  method: 0n,
  params: new Uint8Array(0),
};

Deno.test("deserializeSignedMessage() refuses missing, null, oversized or unknown signatures", () => {
  const good = serializeSignedMessage({
    message,
    signature: { type: SigType.SECP256K1, data: new Uint8Array(65) },
  });
  const [m] = dagCbor.decode(good) as unknown[];
  const cases: [unknown, RegExp][] = [
    [[m], /signed message: expected a 2-field array, got 1 fields/],
    [[m, null], /signed message\.Signature: expected a byte string, got null/],
    [[m, Uint8Array.of(1, ...new Uint8Array(200))], /Signature: too long \(201 bytes, max 200\)/],
    [[m, Uint8Array.of(0)], /Signature: unknown signature type 0/],
    [[[], Uint8Array.of(1)], /signed message\.Message: expected a 10-field array, got 0 fields/],
  ];
  for (const [value, pattern] of cases) {
    assertInvalid(() => deserializeSignedMessage(dagCbor.encode(value)), pattern);
  }
});

Deno.test("encoders refuse values they could not write canonically", () => {
  const header = deserializeBlockHeader(HEADER_BYTES);
  const bad: [Partial<BlockHeader>, RegExp][] = [
    [{ height: 1.5 }, /Height: cannot encode 1.5/],
    [{ height: 2 ** 53 }, /Height: cannot encode/],
    [{ timestamp: -1 }, /Timestamp: cannot encode -1/],
    [{ forkSignaling: NaN }, /ForkSignaling: cannot encode NaN/],
    [{ parentWeight: 1n << 1100n }, /ParentWeight: .*too large/],
    [{ blockSig: { type: SigType.BLS, data: new Uint8Array(200) } }, /BlockSig: cannot encode/],
  ];
  for (const [patch, pattern] of bad) {
    assertInvalid(() => serializeBlockHeader({ ...header, ...patch }), pattern);
  }
  assertInvalid(() => serializeMessage({ ...message, nonce: -1n }), /Nonce: cannot encode -1/);
  assertInvalid(() => serializeMessage({ ...message, method: 1n << 64n }), /Method: cannot encode/);
  assertInvalid(
    () => serializeMessage({ ...message, gasLimit: 1n << 63n }),
    /GasLimit: cannot encode/,
  );
  assertInvalid(() => serializeMessage({ ...message, version: -1 }), /Version: cannot encode/);
});

Deno.test("deserializeBlockMsg() and deserializeMsgMeta() refuse malformed input", () => {
  const headerTuple = dagCbor.decode(HEADER_BYTES);
  const tooMany = Array.from({ length: MAX_LIST_LENGTH + 1 }, () => someCid);
  const cases: [unknown, RegExp][] = [
    [[headerTuple, []], /block msg: expected a 3-field array, got 2 fields/],
    [[headerTuple, [], tooMany], /block msg\.SecpkMessages: too many items \(8193, max 8192\)/],
    [[headerTuple, [new Uint8Array(1)], []], /block msg\.BlsMessages\[0\]: expected a CID/],
    [[null, [], []], /Header: must not be null/],
    [[[], [], []], /block header: expected a 16-field array, got 0 fields/],
  ];
  for (const [value, pattern] of cases) {
    assertInvalid(() => deserializeBlockMsg(dagCbor.encode(value)), pattern);
  }
  assertInvalid(
    () => deserializeMsgMeta(dagCbor.encode([someCid])),
    /msg meta: expected a 2-field/,
  );
  assertInvalid(
    () => deserializeMsgMeta(dagCbor.encode([someCid, new Uint8Array(4)])),
    /msg meta\.SecpkMessages: expected a CID/,
  );
});

Deno.test("TipSetKey.fromBytes() refuses bytes that are not whole canonical CIDs", () => {
  const good = someCid.bytes;
  assertInvalid(
    () => TipSetKey.fromBytes(good.subarray(0, good.length - 1)),
    /CID 0 does not parse/,
  );
  assertInvalid(() => TipSetKey.fromBytes(Uint8Array.of(...good, 0x01)), /CID 1 does not parse/);
  // CID version 1 written as a two-byte varint (81 00): go-cid refuses non-minimal varints.
  const padded = Uint8Array.of(0x81, 0x00, ...good.subarray(1));
  assertInvalid(
    () => TipSetKey.fromBytes(padded),
    /CID 0 (is not canonically encoded|does not parse)/,
  );
});
