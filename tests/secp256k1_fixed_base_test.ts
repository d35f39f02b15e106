/**
 * `u1·G + u2·Q` over affine fixed-base tables equals noble's constant-time multiplication, for
 * random and edge scalars and for the sums where the mixed addition meets its exceptional cases
 * (a point added to itself, or to its negation).
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { secp256k1 } from "@noble/curves/secp256k1";
import { FixedBaseTable, generatorAndKeyMultiple } from "../src/crypto/secp256k1_fixed_base.ts";

const Point = secp256k1.ProjectivePoint;
type Point = InstanceType<typeof Point>;
const N = secp256k1.CURVE.n;

/** noble's answer: u1·G + u2·Q affine, or undefined for infinity. */
function expected(u1: bigint, u2: bigint, q: Point): { x: bigint; y: bigint } | undefined {
  const times = (p: Point, k: bigint) => (k === 0n ? Point.ZERO : p.multiply(k));
  const sum = times(Point.BASE, u1).add(times(q, u2));
  return sum.is0() ? undefined : sum.toAffine();
}

/** Deterministic scalars in [0, n): a splitmix-style generator over bigints. */
function scalars(seed: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) % (1n << 256n);
    out.push((s ^ (s >> 97n) ^ (s << 61n)) % N);
  }
  return out;
}

const key = Point.BASE.multiply(0x1234567890abcdefn ** 3n);
const tables = [4, 8].map((w) => new FixedBaseTable(key, w));

Deno.test("generatorAndKeyMultiple() equals noble on random and edge scalars, windows 4 and 8", () => {
  const edges = [0n, 1n, 2n, N - 1n, N - 2n, (1n << 128n) - 1n, 1n << 128n, (1n << 255n) % N];
  const pairs: [bigint, bigint][] = [];
  for (const a of edges) for (const b of edges) pairs.push([a, b]);
  const random = scalars(7n, 120);
  for (let i = 0; i < random.length; i += 2) pairs.push([random[i], random[i + 1]]);
  for (const table of tables) {
    for (const [u1, u2] of pairs) {
      deepStrictEqual(
        generatorAndKeyMultiple(u1, u2, table),
        expected(u1, u2, key),
        `window ${table.window}: u1=${u1} u2=${u2}`,
      );
    }
  }
});

Deno.test("generatorAndKeyMultiple() handles sums that double or cancel (key = G)", () => {
  // With Q = G, equal scalars add each table point to itself (the doubling case), and
  // u2 = n - u1 cancels to infinity (the negation case), partway and at the end.
  const gTables = [4, 8].map((w) => new FixedBaseTable(Point.BASE, w));
  for (const table of gTables) {
    for (const u of [...scalars(11n, 20), 1n, 5n, N - 1n]) {
      deepStrictEqual(generatorAndKeyMultiple(u, u, table), expected(u, u, Point.BASE));
      equal(generatorAndKeyMultiple(u, N - u, table), undefined, `u=${u} cancels`);
    }
  }
});

Deno.test("FixedBaseTable refuses the point at infinity", () => {
  let threw = false;
  try {
    new FixedBaseTable(Point.ZERO, 4);
  } catch (err) {
    threw = err instanceof RangeError;
  }
  equal(threw, true);
});
