/**
 * The syncer's small parts on their own: the bad-block cache (bounded, with reasons), full-disk
 * detection (Deno KV's and the OS's wordings, nothing else), the retry backoff (doubling,
 * capped, jittered) and walk records that do not read back (ignored, never a crash).
 */
import { equal, ok } from "node:assert/strict";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { TipSetKey } from "../src/chain/types/mod.ts";
import { BadBlockCache } from "../src/sync/bad_block_cache.ts";
import { RETRY_JITTER, RetryBackoff } from "../src/sync/retry_backoff.ts";
import {
  asStoreError,
  DiskFullError,
  isDiskFull,
  SyncStoreError,
} from "../src/sync/sync_errors.ts";
import { KvWalkProgress, MAX_SEGMENT_CIDS, segmentsOf } from "../src/sync/walk_progress.ts";

async function cid(n: number): Promise<CID> {
  return CID.createV1(0x71, await sha256.digest(new TextEncoder().encode(`block ${n}`)));
}

Deno.test("`BadBlockCache` keeps reasons and forgets the oldest past its capacity", async () => {
  const cache = new BadBlockCache(2);
  const [a, b, c] = await Promise.all([cid(1), cid(2), cid(3)]);
  cache.add(a, "bad signature");
  cache.add(b, "bad parent weight");
  cache.add(a, "seen again"); // keeps its first reason, counts as the newest
  cache.add(c, "bad ticket");
  equal(cache.size, 2);
  equal(cache.reason(a), "bad signature");
  ok(!cache.has(b), "the oldest verdict went first");
  equal(cache.find([b, c])?.toString(), c.toString());
});

Deno.test("`isDiskFull()` matches Deno KV's and the OS's full-disk errors and nothing else", () => {
  ok(isDiskFull(new TypeError("database or disk is full")));
  ok(isDiskFull(new Error("cannot commit - no transaction is active")));
  ok(isDiskFull(new Error("No space left on device (os error 28)")));
  ok(isDiskFull(new Error("wrapped", { cause: new Error("database or disk is full") })));
  ok(!isDiskFull(new Error("database is locked")));
  ok(!isDiskFull(new Error("disk I/O error")));
  ok(!isDiskFull("database or disk is full"), "only errors");
  const full = asStoreError(new TypeError("database or disk is full"), "/x/kv", "store");
  ok(full instanceof DiskFullError);
  ok(full.message.startsWith("disk full") && full.message.includes("/x/kv"), full.message);
  const other = asStoreError(new Error("database is locked"), "/x/kv", "store tipsets");
  ok(other instanceof SyncStoreError && !(other instanceof DiskFullError));
  const abort = new DOMException("stopped", "AbortError");
  equal(asStoreError(abort, "/x/kv", "store"), abort, "an abort is not a store failure");
});

Deno.test("`RetryBackoff` doubles from its minimum to its cap, jittered below each step", () => {
  const top = new RetryBackoff(1_000, 60_000, () => 0);
  const delays = Array.from({ length: 9 }, () => top.fail());
  equal(delays.join(","), "1000,2000,4000,8000,16000,32000,60000,60000,60000");
  const low = new RetryBackoff(1_000, 60_000, () => 1);
  equal(low.fail(), 1_000 * (1 - RETRY_JITTER));
  top.reset();
  equal(top.fail(), 1_000);
});

Deno.test("`KvWalkProgress` round-trips segments and ignores records that do not read back", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const keys = await Promise.all([1, 2, 3, 4].map(async (n) => TipSetKey.of([await cid(n)])));
    const tipsets = keys.slice(0, 3).map((key, i) => ({
      key,
      height: 30 - i,
      parents: keys[i + 1],
    }));
    const [segment] = segmentsOf(tipsets);
    equal(segment.lowestHeight, 28);
    const progress = new KvWalkProgress(kv);
    await progress.put([segment]);
    const back = await progress.get(keys[0]);
    equal(back?.keys.length, 3);
    ok(back?.parents.equals(keys[3]));
    equal((await progress.tops()).get(keys[0].toString())?.height, 30);
    // Garbage under our keys: neither a crash nor a segment.
    await kv.set(["sync", "walk-segment", keys[1].bytes], { keys: "nope" });
    await kv.set(["sync", "walk-top", new Uint8Array([1, 2, 3])], 5);
    equal(await progress.get(keys[1]), undefined);
    equal((await progress.tops()).size, 1);
    await progress.delete([keys[0]]);
    equal(await progress.get(keys[0]), undefined);
    // Long runs split under the KV value limit.
    const many = Array.from({ length: MAX_SEGMENT_CIDS + 1 }, (_, i) => ({
      key: keys[0],
      height: 5000 - i,
      parents: keys[1],
    }));
    equal(segmentsOf(many).length, 2);
  } finally {
    kv.close();
  }
});
