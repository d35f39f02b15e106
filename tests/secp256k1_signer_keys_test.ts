/**
 * The fast check against a known signer key gives exactly recovery's verdict, on valid,
 * high-s, tampered and out-of-range signatures alike; keys get a table only after repeat use.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { secp256k1 } from "@noble/curves/secp256k1";
import { Address } from "../src/crypto/address.ts";
import { FixedBaseTable } from "../src/crypto/secp256k1_fixed_base.ts";
import {
  signedByKey,
  SignerKeyCache,
  TABLE_AFTER_USES,
  TABLE_WINDOW,
  WIDE_TABLE_AFTER_USES,
  WIDE_TABLE_WINDOW,
} from "../src/crypto/secp256k1_signer_keys.ts";
import {
  recoverSecp256k1PublicKey,
  signingDigest,
  signSecp256k1,
  SigType,
  verifySignature,
} from "../src/crypto/signature.ts";

const N = secp256k1.CURVE.n;
const key = new Uint8Array(32).fill(0x42);
const publicKey = secp256k1.getPublicKey(key, false);
const signer = Address.fromSecp256k1PublicKey(publicKey);
const point = new FixedBaseTable(secp256k1.ProjectivePoint.fromHex(publicKey), TABLE_WINDOW);
const widePoint = new FixedBaseTable(
  secp256k1.ProjectivePoint.fromHex(publicKey),
  WIDE_TABLE_WINDOW,
);

const big = (b: Uint8Array) =>
  BigInt("0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") || "0");
const bytes32 = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};

const publicKeyPayload = (pub: Uint8Array) => Address.fromSecp256k1PublicKey(pub).payload;

/** Recovery's verdict: the signature recovers to our key. */
function byRecovery(signature: Uint8Array, message: Uint8Array): boolean {
  const recovered = recoverSecp256k1PublicKey(signature, message);
  return recovered !== undefined && recovered.every((b, i) => b === publicKey[i]);
}

Deno.test("signedByKey() agrees with recovery on valid, high-s, tampered and out-of-range signatures", () => {
  let valid = 0;
  let cases = 0;
  for (let i = 0; i < 150; i++) {
    const message = new TextEncoder().encode(`message ${i}`);
    const signature = signSecp256k1(key, message);
    const r = big(signature.subarray(0, 32));
    const s = big(signature.subarray(32, 64));
    const variants: Uint8Array[] = [signature];
    // The high-s twin (Lotus's recover accepts it): s' = n - s flips the recovery parity.
    variants.push(Uint8Array.of(...bytes32(r), ...bytes32(N - s), signature[64] ^ 1));
    // Every other recovery id, a flipped bit of r, of s, r or s zero or >= n.
    for (let v = 0; v < 4; v++) if (v !== signature[64]) variants.push(signature.with(64, v));
    variants.push(signature.with(3, signature[3] ^ 0x10), signature.with(40, signature[40] ^ 1));
    variants.push(Uint8Array.of(...bytes32(0n), ...signature.subarray(32)));
    variants.push(Uint8Array.of(...signature.subarray(0, 32), ...bytes32(N), signature[64]));
    variants.push(Uint8Array.of(...bytes32(r + N), ...signature.subarray(32)));
    for (const variant of variants) {
      for (const signed of [message, new TextEncoder().encode(`other ${i}`)]) {
        const expected = byRecovery(variant, signed);
        for (const table of [point, widePoint]) {
          equal(
            signedByKey(variant, signingDigest(signed), table),
            expected,
            `case ${cases}: recovery says ${expected}`,
          );
        }
        if (expected) valid++;
        cases++;
      }
    }
  }
  // Each message's own signature and its high-s twin are valid; nothing else is.
  equal(valid, 300, `${valid} valid of ${cases}`);
});

Deno.test("signedByKey() agrees with recovery on digests that are 0 mod n (no generator term)", () => {
  for (const digest of [new Uint8Array(32), bytes32(N)]) {
    const sig = secp256k1.sign(digest, key);
    const signature = Uint8Array.of(...sig.toCompactRawBytes(), sig.recovery);
    for (let v = 0; v < 4; v++) {
      const variant = signature.with(64, v);
      let recovered: Uint8Array | undefined;
      try {
        recovered = secp256k1.Signature.fromCompact(variant.subarray(0, 64)).addRecoveryBit(v)
          .recoverPublicKey(digest).toRawBytes(false);
      } catch {
        recovered = undefined;
      }
      const expected = recovered !== undefined && recovered.every((b, i) => b === publicKey[i]);
      equal(signedByKey(variant, digest, point), expected, `v=${v}`);
      equal(expected, v === sig.recovery, `recovery accepts only v=${sig.recovery}`);
    }
  }
});

Deno.test("SignerKeyCache tables a key only after repeat use and keeps the most recent signers", () => {
  const cache = new SignerKeyCache(2);
  const others = [1, 2].map((n) => {
    const k = secp256k1.getPublicKey(new Uint8Array(32).fill(n), false);
    return { pub: k, payload: Address.fromSecp256k1PublicKey(k).payload };
  });
  for (let use = 1; use < TABLE_AFTER_USES; use++) {
    cache.remember(signer.payload, publicKey);
    equal(cache.tableWindow(signer.payload), 0, `no table after ${use} use(s)`);
  }
  cache.remember(signer.payload, publicKey);
  equal(cache.tableWindow(signer.payload), TABLE_WINDOW, "tabled after repeat use");
  cache.remember(others[0].payload, others[0].pub);
  cache.remember(others[1].payload, others[1].pub); // evicts the least recently used: signer
  equal(cache.size, 2);
  equal(cache.tableWindow(signer.payload), undefined);
});

Deno.test("SignerKeyCache widens the tables of its busiest signers, within its quota, on valid checks only", () => {
  const cache = new SignerKeyCache(2, 1);
  const signers = [3, 4].map((n) => {
    const secret = new Uint8Array(32).fill(n);
    const pub = secp256k1.getPublicKey(secret, false);
    return { secret, pub, payload: Address.fromSecp256k1PublicKey(pub).payload };
  });
  const checkMany = (who: (typeof signers)[number], count: number, forged: boolean) => {
    for (let i = 0; i < count; i++) {
      const message = new TextEncoder().encode(`busy ${i}`);
      const signature = signSecp256k1(who.secret, message);
      const signed = forged ? message.with(0, 0) : message;
      equal(cache.check(who.payload, signature, signingDigest(signed)), !forged);
    }
  };
  for (const who of signers) {
    for (let i = 0; i < TABLE_AFTER_USES; i++) cache.remember(who.payload, who.pub);
  }
  const [a, b] = signers;
  checkMany(a, WIDE_TABLE_AFTER_USES, false);
  equal(cache.tableWindow(a.payload), WIDE_TABLE_WINDOW, "a busy signer's table widens");
  checkMany(b, WIDE_TABLE_AFTER_USES * 2, true);
  equal(cache.tableWindow(b.payload), TABLE_WINDOW, "forgeries in b's name do not count");
  checkMany(b, WIDE_TABLE_AFTER_USES, false);
  equal(cache.tableWindow(b.payload), TABLE_WINDOW, "the quota of one wide table is taken");
  // A third signer evicts a (least recently used); b's next valid check takes the freed quota.
  cache.remember(publicKeyPayload(publicKey), publicKey);
  equal(cache.tableWindow(a.payload), undefined);
  checkMany(b, 1, false);
  equal(cache.tableWindow(b.payload), WIDE_TABLE_WINDOW);
});

Deno.test("verifySignature() keeps its verdicts once a signer's key is known", () => {
  const verdicts: boolean[] = [];
  for (let i = 0; i < TABLE_AFTER_USES + 3; i++) {
    const message = new TextEncoder().encode(`repeat ${i}`);
    const data = signSecp256k1(key, message);
    verdicts.push(verifySignature({ type: SigType.SECP256K1, data }, message, signer));
    // A forged one from the now-known signer, and a valid one claimed by someone else.
    verdicts.push(verifySignature({ type: SigType.SECP256K1, data }, message.with(0, 0), signer));
    verdicts.push(
      verifySignature({ type: SigType.SECP256K1, data }, message, Address.fromId(1000)),
    );
  }
  deepStrictEqual(
    verdicts,
    Array.from({ length: TABLE_AFTER_USES + 3 }, () => [true, false, false]).flat(),
  );
});
