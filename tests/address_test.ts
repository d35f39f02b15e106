import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { blake2b } from "@noble/hashes/blake2b";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import { secp256k1 } from "@noble/curves/secp256k1";
import { base32 } from "multiformats/bases/base32";
import {
  Address,
  addressChecksum,
  addressHash,
  InvalidAddressError,
  MAX_ACTOR_ID,
  Protocol,
} from "../src/chain/address.ts";
import { UserError } from "../src/errors.ts";

/** Runs `fn`, asserts it throws an instance of `type` (message containing `includes`), returns it. */
function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
  context = "",
): E {
  try {
    fn();
  } catch (err) {
    assert(err instanceof type, `${context} expected ${type.name}, got ${err}`);
    if (includes) assert(err.message.includes(includes), `${context} message: ${err.message}`);
    return err;
  }
  throw new Error(`${context} expected ${type.name} to be thrown`);
}

// Published vectors from filecoin-project/go-address address_test.go (TestVectorSecp256k1Address,
// TestVectorActorAddress, TestVectorBLSAddress): input bytes (there as decimal byte arrays, here
// as hex) -> testnet string.
const SECP_VECTORS: [string, string][] = [
  [
    "049402fac37e6432a416a3a0ca5426b5185ab3b24f6134efa25ce487c82d2e4e13bf452511e0d2245421f8613bc10d72fa216666a96c3bc13920d3ff233fd0bc05",
    "t15ihq5ibzwki2b4ep2f46avlkrqzhpqgtga7pdrq",
  ],
  [
    "047687b910379bf28cbe3aea674b12000c6b7dba46ffc05f6c94fe2a22bbcc2602ff7f5c76f21ca55d36959152b0e1e887917c393576eef093f61ebd3ad06f7fda",
    "t12fiakbhe2gwd5cnmrenekasyn6v5tnaxaqizq6a",
  ],
  [
    "04defdd01001efb86e01ded5ce34f847a73a14819ee641bcb60bb92993596f05dc2d605f2985f8d125812dac4163a396349b23c11cc2ff359de54be287ea62319b",
    "t1wbxhu3ypkuo6eyp6hjx6davuelxaxrvwb2kuwva",
  ],
  [
    "0403ed12c814b6b10d2ee09d95b4688db2d180d0a9a37a6b6a7db63d29811ee9730479d8ef9139e91249cabd393291cfe5d277ba76de45e3e085a37681bf3645d2",
    "t1xtwapqc6nh4si2hcwpr3656iotzmlwumogqbuaa",
  ],
  [
    "04f796819a8e271631af7c189797b545d60225936147e6010e6562b3ce9efe8b10144161a91ed0b4ec890800253fa6fc20ac90fbf1fbf27130a4ecc3e403b70576",
    "t1xcbgdhkgkwht3hrrnui3jdopeejsoatkzmoltqy",
  ],
  [
    "0442832bf87cce9ea345b90350de7d3495859ca449059c5e88dde74285dffb9ec01ebabc5fc86268cfeaeba7ae05bfb8d68eb75a5268782cf86fc8702bef8a1fe0",
    "t17uoq6tp427uzv7fztkbsnn64iwotfrristwpryy",
  ],
];

const ACTOR_VECTORS: [string, string][] = [
  [
    "76128190cdf068d1418044acc03e0b6781970d60",
    "t24vg6ut43yw2h2jqydgbg2xq7x6f4kub3bg6as6i",
  ],
  [
    "2cafb8e2e06bba98ea657c5cf5f42023aa23e88e",
    "t25nml2cfbljvn4goqtclhifepvfnicv6g7mfmmvq",
  ],
  [
    "022c9e0ea29d8f40c56abec35c8d587da0a64c18",
    "t2nuqrg7vuysaue2pistjjnt3fadsdzvyuatqtfei",
  ],
  [
    "dfec030e204f0f59d80f1d5ee91dfd066d7f63bd",
    "t24dd4ox4c2vpf5vk5wkadgyyn6qtuvgcpxxon64a",
  ],
  [
    "3d3a89e8ddab547832716c6d468c3560c9f47fd8",
    "t2gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y",
  ],
];

const BLS_VECTORS: [string, string][] = [
  [
    "ad58df696e2d4e91ea86c881e938ba4ea81b395e12797b84b9cf314b9546705e839c7a99d606b247ddb4f9ac7a3414dd",
    "t3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2thlanmsh3w2ptld2gqkn2jvlss4a",
  ],
  [
    "b3294f0a2e29e0c66ebc235d2fedca5697bf784af605c75af608e6a63d5cd38ea85ca8989e0efde9188b382f9372460d",
    "t3wmuu6crofhqmm3v4enos73okk2l366ck6yc4owxwbdtkmpk42ohkqxfitcpa57pjdcftql4tojda2poeruwa",
  ],
  [
    "96a1a3e4ea7a14d49985e661b22401d44fed402d1d0925b243c923589c0fbc7e32cd04e29ed78d15d37d3aaa3fe6da33",
    "t3s2q2hzhkpiknjgmf4zq3ejab2rh62qbndueslmsdzervrhapxr7dftie4kpnpdiv2n6tvkr743ndhrsw6d3a",
  ],
];

const ID_VECTORS: [bigint, string, number[]][] = [
  [0n, "t00", [0, 0]],
  [1n, "t01", [0, 1]],
  [10n, "t010", [0, 10]],
  [150n, "t0150", [0, 0x96, 0x01]],
  [499n, "t0499", [0, 0xf3, 0x03]],
  [1024n, "t01024", [0, 0x80, 0x08]],
  [1729n, "t01729", [0, 0xc1, 0x0d]],
  [999999n, "t0999999", [0, 0xbf, 0x84, 0x3d]],
  [MAX_ACTOR_ID, "t09223372036854775807", [
    0,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0x7f,
  ]],
];

Deno.test("Address.fromSecp256k1PublicKey() matches go-address f1 vectors on both networks", () => {
  for (const [pub, testnet] of SECP_VECTORS) {
    const a = Address.fromSecp256k1PublicKey(hexToBytes(pub), "t");
    assertEquals(a.toString(), testnet);
    assertEquals(a.toString("f"), "f" + testnet.slice(1));
    assertEquals(a.protocol, Protocol.SECP256K1);
    assertEquals(bytesToHex(a.payload), bytesToHex(addressHash(hexToBytes(pub))));
  }
});

Deno.test("Address.fromActorData() and fromBlsPublicKey() match go-address f2/f3 vectors", () => {
  for (const [data, testnet] of ACTOR_VECTORS) {
    assertEquals(Address.fromActorData(hexToBytes(data), "t").toString(), testnet);
  }
  for (const [pub, testnet] of BLS_VECTORS) {
    const a = Address.fromBlsPublicKey(hexToBytes(pub), "t");
    assertEquals(a.toString(), testnet);
    assertEquals(bytesToHex(a.payload), bytesToHex(hexToBytes(pub)));
  }
});

Deno.test("Address.fromId() formats go-address ID vectors and their uvarint bytes", () => {
  for (const [id, text, bytes] of ID_VECTORS) {
    const a = Address.fromId(id, "t");
    assertEquals(a.toString(), text);
    assertEquals(Array.from(a.bytes), bytes);
    assertEquals(Address.fromString(text).id, id);
    assertEquals(Address.fromBytes(Uint8Array.from(bytes)).id, id);
  }
});

Deno.test("Address string and byte forms round-trip for every vector", () => {
  const all = [...SECP_VECTORS, ...ACTOR_VECTORS, ...BLS_VECTORS].map(([, s]) => s)
    .concat(ID_VECTORS.map(([, s]) => s));
  for (const text of all) {
    const parsed = Address.fromString(text);
    assertEquals(parsed.network, "t");
    assertEquals(parsed.toString(), text);
    const mainnet = Address.fromString("f" + text.slice(1));
    assertEquals(mainnet.network, "f");
    assert(mainnet.equals(parsed), "network prefix must not change identity");
    const again = Address.fromBytes(parsed.bytes, "t");
    assertEquals(again.toString(), text);
    assertEquals(JSON.stringify(parsed), JSON.stringify(text));
  }
});

Deno.test("f1 address is derived step by step from a known private key", () => {
  // Private key 1: its public key is the secp256k1 generator point G, a value anyone can check.
  const priv = new Uint8Array(32);
  priv[31] = 1;
  const pub = secp256k1.getPublicKey(priv, false);
  assertEquals(
    bytesToHex(pub),
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" +
      "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
  );
  const payload = blake2b(pub, { dkLen: 20 });
  const checksum = blake2b(Uint8Array.of(1, ...payload), { dkLen: 4 });
  assertEquals(bytesToHex(checksum), bytesToHex(addressChecksum(Protocol.SECP256K1, payload)));
  const expected = "f1" + base32.baseEncode(Uint8Array.of(...payload, ...checksum));
  assertEquals(Address.fromSecp256k1PublicKey(pub).toString(), expected);
  assertEquals(expected.length, 41);
});

Deno.test("Address.fromString() throws InvalidAddressError for malformed strings", () => {
  const bad: [string, RegExp][] = [
    ["Q2gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y", /network/],
    ["t2gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr24y", /checksum/],
    ["t2gfvuyh7v2sx3patm1k23wdzmhyhtmqctasbr24y", /base32/],
    ["t2gfvuyh7v2sx3paTm1k23wdzmhyhtmqctasbr24y", /base32/],
    ["t2", /length/],
    ["t1234", /base32|short/],
    ["t5gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y", /protocol/],
    ["tx1234", /protocol/],
    ["t4gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y", /f4.*not supported/],
    ["t0banananananannnnnnn", /ID/],
    ["t0-1", /ID/],
    ["t007", /ID/],
    ["t09223372036854775808", /range/],
    ["t099999999999999999999", /ID/],
    ["f1" + "a".repeat(200), /length/],
    // A valid f1 body under the f2 protocol digit: checksum covers the protocol byte.
    ["t25ihq5ibzwki2b4ep2f46avlkrqzhpqgtga7pdrq", /checksum/],
    // BLS string whose payload is one byte short.
    ["t3" + base32.baseEncode(new Uint8Array(47 + 4)), /payload/],
  ];
  for (const [text, message] of bad) {
    const err = assertThrows(() => Address.fromString(text), InvalidAddressError);
    assert(message.test(err.message), `${text}: "${err.message}" should match ${message}`);
    assert(err instanceof UserError);
  }
});

Deno.test("Address.fromString() rejects a non-canonical base32 tail", () => {
  const good = "t15ihq5ibzwki2b4ep2f46avlkrqzhpqgtga7pdrq";
  // 24 bytes encode to 39 chars with 3 unused bits in the last one; setting them must not parse.
  const last = good.at(-1)!;
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const tweaked = good.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1];
  assertThrows(() => Address.fromString(tweaked), InvalidAddressError);
});

Deno.test("Address.fromBytes() throws InvalidAddressError for malformed bytes", () => {
  const bad: number[][] = [
    [],
    [0],
    [4, 4, 4],
    [9, 1, 2],
    [1, ...new Array(19).fill(0)],
    [1, ...new Array(21).fill(0)],
    [2, ...new Array(19).fill(0)],
    [3, ...new Array(47).fill(0)],
    [3, ...new Array(49).fill(0)],
    [0, 0x80], // truncated varint
    [0, 0x80, 0x00], // not minimally encoded
    [0, 1, 2], // trailing bytes
    [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 2^64
    [0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // 2^63
  ];
  for (const bytes of bad) {
    assertThrows(
      () => Address.fromBytes(Uint8Array.from(bytes)),
      InvalidAddressError,
      undefined,
      `[${bytes}] should not parse`,
    );
  }
});

Deno.test("Address.fromId() refuses IDs outside [0, 2^63)", () => {
  assertThrows(() => Address.fromId(-1), InvalidAddressError);
  assertThrows(() => Address.fromId(MAX_ACTOR_ID + 1n), InvalidAddressError);
  assertThrows(() => Address.fromId(2 ** 60), InvalidAddressError, "safe integer");
  assertEquals(Address.fromId(MAX_ACTOR_ID).id, MAX_ACTOR_ID);
});

Deno.test("Address.fromSecp256k1PublicKey() refuses compressed or wrong-length keys", () => {
  const priv = secp256k1.utils.randomPrivateKey();
  assertThrows(
    () => Address.fromSecp256k1PublicKey(secp256k1.getPublicKey(priv, true)),
    InvalidAddressError,
  );
  assertThrows(() => Address.fromSecp256k1PublicKey(new Uint8Array(65)), InvalidAddressError);
  assertThrows(() => Address.fromBlsPublicKey(new Uint8Array(47)), InvalidAddressError);
});

Deno.test("Address.id throws for a non-ID address", () => {
  const a = Address.fromString("f17uoq6tp427uzv7fztkbsnn64iwotfrristwpryy");
  assertThrows(() => a.id, InvalidAddressError);
  assertEquals(a.withNetwork("t").toString(), "t17uoq6tp427uzv7fztkbsnn64iwotfrristwpryy");
});
