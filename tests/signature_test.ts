import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import { base64pad } from "multiformats/bases/base64";
import { Address } from "../src/crypto/address.ts";
import {
  decodeSignature,
  encodeSignature,
  InvalidSignatureError,
  recoverSecp256k1Address,
  recoverSecp256k1PublicKey,
  signingDigest,
  signSecp256k1,
  SigType,
  UnsupportedSignatureError,
  verifySignature,
} from "../src/crypto/signature.ts";
import { cidOf, DAG_CBOR } from "../src/ipld/block.ts";

/** Runs `fn`, asserts it throws an instance of `type`, returns the error. */
function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): E {
  try {
    fn();
  } catch (err) {
    assert(err instanceof type, `expected ${type.name}, got ${err}`);
    return err;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}

// Published vector from Zondax filecoin-signing-tools (signer-npm wasm tests, `sign()`): this
// private key signs the message {to: t17uoq6..., from: t1d2xrz..., nonce 1, value 100000,
// gaslimit 25000, gasfeecap 1, gaspremium 1, method 0, params ""} to the signature below. As in
// Lotus, what is signed is the message's CID bytes (dag-cbor, blake2b-256).
const VECTOR_PRIVATE_KEY = base64pad.baseDecode("8VcW07ADswS4BV2cxi5rnIadVsyTDDhY1NfDH19T8Uo=");
const VECTOR_ADDRESS = "t1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba";
// The message as CBOR: [0, to, from, 1, 100000 (bigint bytes), 25000, 1, 1, 0, h''].
const VECTOR_MESSAGE_CBOR = hexToBytes(
  "8a00" +
    "5501fd1d0f4dfcd7e99afcb99a8326b7dc459d32c628" +
    "55011eaf1c8a4bbfeeb0870b1745b1f57503470b7116" +
    "01" + "44000186a0" + "1961a8" + "420001" + "420001" + "00" + "40",
);
const VECTOR_SIGNATURE = base64pad.baseDecode(
  "nFuTI7MxEXqTQ0QmmQTmqbUsNZfHFXlNjz+susVDkAk1SrRCdJKxlVZZrM4vUtVBSYgtMIeigNfpqdKGIFhoWQA=",
);

const vectorCidBytes = () => cidOf(DAG_CBOR, VECTOR_MESSAGE_CBOR).bytes;

Deno.test("signSecp256k1() reproduces the published filecoin-signing-tools signature", () => {
  const sig = signSecp256k1(VECTOR_PRIVATE_KEY, vectorCidBytes());
  assertEquals(bytesToHex(sig), bytesToHex(VECTOR_SIGNATURE));
  const pub = secp256k1.getPublicKey(VECTOR_PRIVATE_KEY, false);
  assertEquals(Address.fromSecp256k1PublicKey(pub, "t").toString(), VECTOR_ADDRESS);
});

Deno.test("verifySignature() accepts the published signature for its signer address", () => {
  const sig = { type: SigType.SECP256K1, data: VECTOR_SIGNATURE };
  assert(verifySignature(sig, vectorCidBytes(), VECTOR_ADDRESS));
  assert(verifySignature(sig, vectorCidBytes(), "f" + VECTOR_ADDRESS.slice(1)));
  assertEquals(
    recoverSecp256k1Address(VECTOR_SIGNATURE, vectorCidBytes(), "t")?.toString(),
    VECTOR_ADDRESS,
  );
});

Deno.test("signSecp256k1() round-trips: 65 bytes, low-s, recovery id 0/1, deterministic", () => {
  const priv = secp256k1.utils.randomPrivateKey();
  const address = Address.fromSecp256k1PublicKey(secp256k1.getPublicKey(priv, false));
  for (let i = 0; i < 8; i++) {
    const msg = crypto.getRandomValues(new Uint8Array(1 + i * 37));
    const sig = signSecp256k1(priv, msg);
    assertEquals(sig.length, 65);
    assert(sig[64] === 0 || sig[64] === 1);
    assert(!secp256k1.Signature.fromCompact(sig.subarray(0, 64)).hasHighS());
    assertEquals(bytesToHex(signSecp256k1(priv, msg)), bytesToHex(sig));
    assert(verifySignature({ type: SigType.SECP256K1, data: sig }, msg, address));
    assertEquals(
      bytesToHex(recoverSecp256k1PublicKey(sig, msg)!),
      bytesToHex(secp256k1.getPublicKey(priv, false)),
    );
  }
});

Deno.test("verifySignature() rejects tampered data, tampered signature and wrong signer", () => {
  const priv = secp256k1.utils.randomPrivateKey();
  const address = Address.fromSecp256k1PublicKey(secp256k1.getPublicKey(priv, false));
  const other = Address.fromSecp256k1PublicKey(
    secp256k1.getPublicKey(secp256k1.utils.randomPrivateKey(), false),
  );
  const msg = new TextEncoder().encode("pay 10 FIL to f01234");
  const sig = signSecp256k1(priv, msg);
  const typed = (data: Uint8Array) => ({ type: SigType.SECP256K1, data });

  const badMsg = msg.slice();
  badMsg[0] ^= 1;
  assert(!verifySignature(typed(sig), badMsg, address), "tampered data");
  for (const index of [0, 31, 32, 63, 64]) {
    const badSig = sig.slice();
    badSig[index] ^= 1;
    assert(!verifySignature(typed(badSig), msg, address), `flipped byte ${index}`);
  }
  assert(!verifySignature(typed(sig), msg, other), "wrong address");
  assert(!verifySignature(typed(sig.subarray(0, 64)), msg, address), "truncated");
  assert(!verifySignature(typed(new Uint8Array(65)), msg, address), "all zero");
  const badV = sig.slice();
  badV[64] = 27; // Ethereum-style v is not Filecoin's
  assert(!verifySignature(typed(badV), msg, address), "v = 27");
  assert(!verifySignature(typed(sig), msg, Address.fromId(1234)), "ID address signer");
});

Deno.test("verifySignature() accepts the high-s twin of a signature, as Lotus's recover does", () => {
  const priv = secp256k1.utils.randomPrivateKey();
  const address = Address.fromSecp256k1PublicKey(secp256k1.getPublicKey(priv, false));
  const msg = new TextEncoder().encode("malleable");
  const sig = signSecp256k1(priv, msg);
  const parsed = secp256k1.Signature.fromCompact(sig.subarray(0, 64));
  const highS = new secp256k1.Signature(parsed.r, secp256k1.CURVE.n - parsed.s);
  const twin = new Uint8Array(65);
  twin.set(highS.toCompactRawBytes());
  twin[64] = sig[64] ^ 1;
  assert(verifySignature({ type: SigType.SECP256K1, data: twin }, msg, address));
});

Deno.test("verifySignature() throws UnsupportedSignatureError for BLS", () => {
  const bls = { type: SigType.BLS, data: new Uint8Array(96) };
  assertThrows(
    () => verifySignature(bls, new Uint8Array(1), Address.fromBlsPublicKey(new Uint8Array(48))),
    UnsupportedSignatureError,
  );
});

Deno.test("encodeSignature()/decodeSignature() use Lotus's type byte || data form", () => {
  const data = signSecp256k1(VECTOR_PRIVATE_KEY, vectorCidBytes());
  const bytes = encodeSignature({ type: SigType.SECP256K1, data });
  assertEquals(bytes[0], 1);
  assertEquals(bytes.length, 66);
  const back = decodeSignature(bytes);
  assertEquals(back.type, SigType.SECP256K1);
  assertEquals(bytesToHex(back.data), bytesToHex(data));
  assertEquals(decodeSignature(Uint8Array.of(2, 9)).type, SigType.BLS);
});

Deno.test("decodeSignature() rejects empty, overlong and unknown-type bytes", () => {
  assertThrows(() => decodeSignature(new Uint8Array(0)), InvalidSignatureError);
  assertThrows(() => decodeSignature(new Uint8Array(201).fill(1)), InvalidSignatureError);
  assertThrows(() => decodeSignature(Uint8Array.of(0, 1, 2)), UnsupportedSignatureError);
  assertThrows(() => decodeSignature(Uint8Array.of(7, 1, 2)), UnsupportedSignatureError);
});

Deno.test("signingDigest() is blake2b-256 and signSecp256k1() refuses a short key", () => {
  assertEquals(
    bytesToHex(signingDigest(new Uint8Array(0))),
    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
  );
  assertThrows(() => signSecp256k1(new Uint8Array(31), new Uint8Array(1)), RangeError);
});
