/**
 * Public keys of repeat secp256k1 signers, so their next signatures are checked 3-4x faster.
 *
 * Filecoin checks a secp256k1 signature by recovering the public key from it and comparing the
 * key's f1 address with the claimed signer (Lotus `sigs.Verify`). Recovery costs ~0.55 ms here in
 * pure JS (`@noble/curves`), and it is most of what validating a gossip message or a synced block
 * costs. But signers repeat: a miner signs every block it mines, an account sends message after
 * message. Once a signer's key is known (recovered and matched to its address), a signature can be
 * checked against it directly: with a precomputed multiplication table for that key (window 4:
 * ~1 ms to build, ~30 KB), a check costs ~0.13 ms.
 *
 * The check multiplies in variable time over fixed-base tables (`secp256k1_fixed_base.ts`: no
 * doublings, mixed additions, one inversion at the end), as every verifier may: the scalars and
 * points involved are public. noble's `multiply` is constant-time (built for secret keys): a
 * dummy addition per zero window and an inversion per product.
 *
 * The direct check gives exactly the verdict recovery would. Recovery with id `v` from `(r, s)`
 * over digest `e` yields `Q' = r⁻¹(sR - eG)`, where R is the curve point with x = r (+ n if `v & 2`)
 * and y parity `v & 1`. So `Q' = Q` exactly when `R = s⁻¹(eG + rQ)`: computing that point and
 * checking its x and y parity against `r` and `v` accepts what recovery accepts, high-s included,
 * and nothing else.
 *
 * A table is built only after a signer's {@link TABLE_AFTER_USES}th valid signature, so a flood
 * of one-off signers costs recovery only, never table builds; keys are kept for the
 * {@link DEFAULT_SIGNER_KEYS} most recently used signers. A signer that keeps signing (a busy
 * miner or sender) gets a window-8 table after {@link WIDE_TABLE_AFTER_USES} valid checks, for
 * at most {@link DEFAULT_WIDE_TABLES} signers: ~16 MB for a full cache at worst.
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1";
import { toHex } from "../hex.ts";
import { FixedBaseTable, generatorAndKeyMultiple } from "./secp256k1_fixed_base.ts";

const Point = secp256k1.ProjectivePoint;
type Point = InstanceType<typeof Point>;
const N = secp256k1.CURVE.n;
/** The field prime (an x coordinate is below it). */
const P = secp256k1.CURVE.Fp.ORDER;

/** Signers whose keys are kept (most recently used first): ~30 KB each with a table. */
export const DEFAULT_SIGNER_KEYS = 256;
/** Valid signatures from one signer (by recovery) before its key gets a table. */
export const TABLE_AFTER_USES = 3;
/** Window of a signer's first table: 264 points, ~30 KB, checks ~130 µs. */
export const TABLE_WINDOW = 4;
/** Valid fast checks before a signer's table widens: its busiest signers are worth more memory. */
export const WIDE_TABLE_AFTER_USES = 64;
/** The wide table's window: 2,176 points, ~250 KB, ~6 ms to build, checks ~100 µs. */
export const WIDE_TABLE_WINDOW = 8;
/** Signers with a wide table at once (~8 MB); further busy signers keep the narrow one. */
export const DEFAULT_WIDE_TABLES = 32;

interface SignerKey {
  readonly point: Point;
  /** Valid signatures seen: by recovery until tabled, then by the fast check. */
  uses: number;
  /** The key's multiplication table, once it has one. */
  table?: FixedBaseTable;
}

/** Known signer keys by f1 payload (the 20-byte key hash). */
export class SignerKeyCache {
  readonly #keys = new Map<string, SignerKey>();
  readonly #capacity: number;
  readonly #maxWide: number;
  #wide = 0;

  constructor(capacity = DEFAULT_SIGNER_KEYS, maxWide = DEFAULT_WIDE_TABLES) {
    this.#capacity = capacity;
    this.#maxWide = maxWide;
  }

  /** How many signers are remembered (tests). */
  get size(): number {
    return this.#keys.size;
  }

  /** The window of the signer's table: 0 for a key without one, undefined for an unknown signer. */
  tableWindow(payload: Uint8Array): number | undefined {
    const entry = this.#keys.get(toHex(payload));
    return entry && (entry.table?.window ?? 0);
  }

  /**
   * The fast check's verdict on the 65-byte `signature` over `digest` by the signer whose f1
   * payload is `payload`, or undefined when that signer has no table yet (the caller recovers,
   * then calls {@link remember} if it was valid). Only valid signatures count towards a wider
   * table, so forgeries in a signer's name cannot make the node build one.
   */
  check(payload: Uint8Array, signature: Uint8Array, digest: Uint8Array): boolean | undefined {
    const name = toHex(payload);
    const entry = this.#keys.get(name);
    if (!entry?.table) return undefined;
    this.#keys.delete(name); // most recently used last
    this.#keys.set(name, entry);
    const valid = signedByKey(signature, digest, entry.table);
    if (
      valid && ++entry.uses >= WIDE_TABLE_AFTER_USES &&
      entry.table.window !== WIDE_TABLE_WINDOW && this.#wide < this.#maxWide
    ) {
      entry.table = new FixedBaseTable(entry.point, WIDE_TABLE_WINDOW);
      this.#wide++;
    }
    return valid;
  }

  /**
   * Records a valid signature by the signer `payload` whose recovered key is `publicKey` (65-byte
   * uncompressed): builds its table once it has signed {@link TABLE_AFTER_USES} times.
   */
  remember(payload: Uint8Array, publicKey: Uint8Array): void {
    const name = toHex(payload);
    let entry = this.#keys.get(name);
    if (entry) {
      this.#keys.delete(name);
    } else {
      entry = { point: Point.fromHex(publicKey), uses: 0 };
    }
    entry.uses++;
    if (!entry.table && entry.uses >= TABLE_AFTER_USES) {
      entry.table = new FixedBaseTable(entry.point, TABLE_WINDOW);
    }
    this.#keys.set(name, entry);
    if (this.#keys.size > this.#capacity) {
      const [oldest, evicted] = this.#keys.entries().next().value!;
      this.#keys.delete(oldest);
      if (evicted.table?.window === WIDE_TABLE_WINDOW) this.#wide--;
    }
  }
}

/**
 * Whether the 65-byte `r || s || v` signature over the 32-byte `digest` recovers to `key`:
 * the same verdict as recovering and comparing, computed without recovery (see the module doc).
 */
export function signedByKey(
  signature: Uint8Array,
  digest: Uint8Array,
  key: FixedBaseTable,
): boolean {
  if (signature.length !== 65 || digest.length !== 32) return false;
  const v = signature[64];
  if (v > 3) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32, 64));
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const x = v & 2 ? r + N : r;
  if (x >= P) return false; // no such R: recovery fails too
  const e = toBigInt(digest) % N;
  const w = invert(s);
  const u1 = (e * w) % N;
  const u2 = (r * w) % N;
  const R = generatorAndKeyMultiple(u1, u2, key);
  return R !== undefined && R.x === x && (R.y & 1n) === BigInt(v & 1);
}

function toBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** s⁻¹ mod n (s in [1, n)), by the extended Euclidean algorithm. */
function invert(s: bigint): bigint {
  let [a, b, x, y] = [s, N, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b] = [b, a - q * b];
    [x, y] = [y, x - q * y];
  }
  return ((x % N) + N) % N;
}
