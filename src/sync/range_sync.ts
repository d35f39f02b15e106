/**
 * Range sync: catching up with a target by chain exchange, as the spec's "Syncing" section
 * describes.
 * 1. Walk back from the target in batches of headers, storing each answer as it arrives and
 *    keeping only tipset keys in memory, until a tipset we accepted. Headers an earlier walk
 *    stored are not fetched again: a recorded segment (walk_progress.ts) gives their keys at
 *    once, else they are read from the store one by one.
 * 2. Go forward from there in batches: read the batch's stored headers, fetch only their
 *    messages (none for blocks whose message root is the empty one), validate every block on
 *    its (already valid) parent, store the messages, and move the head after each batch when
 *    the chain got heavier. The next batch is fetched while this one is validated. A crash
 *    loses at most one batch of work: the head only ever names validated tipsets whose
 *    ancestry is stored, and the next start resumes from it.
 * 3. A target whose chain branches below our head becomes the head once heavier (a reorg is
 *    the chain store's `setHead` on a tipset whose ancestry leaves our chain).
 *
 * Memory is bounded by the batch size plus one tipset key per height of the gap.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import { EMPTY_MSG_META_BLOCK } from "../chain/empty_msg_meta.ts";
import { type TipSet, TipSetKey } from "../chain/types/mod.ts";
import type { SyncContext } from "./sync_context.ts";
import type { SyncTarget } from "./sync_deps.ts";
import { InvalidChainError, SyncFailedError, SyncStoreError } from "./sync_errors.ts";
import { NO_MESSAGES, validateTipSet } from "./tipset_validation.ts";
import { segmentsOf, type WalkSegment } from "./walk_progress.ts";

/** Longest stretch of validation before the event loop gets a turn (for I/O in flight). */
const YIELD_EVERY_MS = 10;

/**
 * Syncs to `target` by chain exchange: walk back, then validate forward. Resolves when the
 * head reached the target's chain (or the target was already accepted).
 */
export async function rangeSync(
  ctx: SyncContext,
  target: SyncTarget,
  options: AbortOptions,
): Promise<void> {
  const started = performance.now();
  // The segments this walk read or wrote: forgotten once synced, or once found bad.
  const segmentTops: TipSetKey[] = [];
  try {
    const path = await collectHeaders(ctx, target, segmentTops, options);
    if (path.keys.length === 0) return; // the target is already accepted
    const walked = performance.now();
    await validateForward(ctx, target, path, segmentTops, options);
    ctx.setStatus({ ...ctx.status(), phase: "complete", endedAt: ctx.clock.now() });
    const st = ctx.stats;
    const s = (ms: number) => (ms / 1000).toFixed(1);
    ctx.log?.(
      `sync: reached height ${ctx.store.heaviest.height} (+${st.validated} tipsets) in ` +
        `${s(performance.now() - started)} s: walk back ${s(walked - started)} s ` +
        `(${st.headers} headers fetched, ${st.headersReread} read back), forward ` +
        `${s(performance.now() - walked)} s (waiting for batches ${s(st.waitMs)} s of their ` +
        `${s(st.fetchMs)} s loading; validating ${s(st.validateMs)} s; storing ` +
        `${s(st.storeMs)} s)`,
    );
    await forgetSegments(ctx, segmentTops);
  } catch (err) {
    if (err instanceof InvalidChainError) await forgetSegments(ctx, segmentTops);
    throw err;
  }
}

/** Drops walk records no longer needed; a failure only leaves them to be pruned later. */
async function forgetSegments(ctx: SyncContext, tops: readonly TipSetKey[]): Promise<void> {
  if (!ctx.progress || tops.length === 0) return;
  try {
    await ctx.progress.delete(tops);
  } catch (err) {
    ctx.log?.(`sync: could not drop ${tops.length} walk records: ${(err as Error).message}`);
  }
}

/**
 * Which peer served the headers from `lowest` up (to the next range's start), in a walk back;
 * no peer for headers an earlier walk stored (a sync resumed after a restart).
 */
interface ServedRange {
  lowest: number;
  readonly peerId?: string;
}

/** What the walk back found: the accepted ancestor and the keys above it, ascending. */
interface SyncPath {
  readonly ancestor: TipSet;
  readonly weight: bigint;
  readonly keys: TipSetKey[];
  /** Descending by height, one entry per answer that brought new headers. */
  readonly servedBy: ServedRange[];
}

/**
 * Walks back from the target until a tipset we accepted, storing headers as they come.
 * Returns the accepted ancestor and the keys above it, ascending. Appends to `segmentTops`
 * every walk record it reads or writes.
 */
async function collectHeaders(
  ctx: SyncContext,
  target: SyncTarget,
  segmentTops: TipSetKey[],
  options: AbortOptions,
): Promise<SyncPath> {
  const { store, fetcher, batchSize, maxGap, progress } = ctx;
  const descending: TipSetKey[] = [];
  const servedBy: ServedRange[] = [];
  let cursor: readonly CID[] = target.cids;
  // The next batch is asked for as soon as an answer names its lowest tipset's parents, so
  // the peer works on it while this answer is checked and stored. Aborted when the walk ends.
  const done = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
  const tops = progress ? await recordedTops(ctx, { signal }) : new Map<string, unknown>();
  const requestBatch = (head: readonly CID[]) => {
    const fetching = fetcher.getChain(head, batchSize, {
      signal,
      messages: false,
      preferPeer: target.peerId,
    });
    fetching.catch(() => {}); // awaited below, or dropped when the walk ends first
    return { key: TipSetKey.of(head).toString(), fetching };
  };
  const checkGap = (adding: number) => {
    if (descending.length + adding > maxGap) {
      throw new InvalidChainError(`no accepted ancestor within ${maxGap} tipsets of the target`);
    }
  };
  /** Headers an earlier walk stored, from `lowest` up: no peer to credit or blame. */
  const storedEarlier = (lowest: number) => {
    const last = servedBy.at(-1);
    if (last && last.peerId === undefined) last.lowest = lowest;
    else servedBy.push({ lowest });
  };
  let prefetched: ReturnType<typeof requestBatch> | undefined;
  try {
    while (true) {
      signal.throwIfAborted();
      const cursorKey = TipSetKey.of(cursor);
      // A segment an earlier walk recorded: its keys without reading its headers.
      if (progress && tops.delete(cursorKey.toString())) {
        const segment = await progress.get(cursorKey, { signal });
        if (segment) {
          segmentTops.push(cursorKey);
          const bad = ctx.bad.find(segment.keys.flatMap((k) => k.cids));
          if (bad) throw new InvalidChainError(`the target's chain contains the bad block ${bad}`);
          const reached = await takeSegment(ctx, segment, { signal });
          checkGap(reached.keys.length);
          descending.push(...reached.keys);
          if (reached.keys.length > 0) storedEarlier(reached.lowestHeight);
          if (reached.ancestor) {
            return { ...reached.ancestor, keys: descending.reverse(), servedBy };
          }
          cursor = segment.parents.cids;
          ctx.setStatus({ ...ctx.status(), height: segment.lowestHeight });
          continue;
        }
      }
      const known = await store.getTipSet(cursor, { signal });
      if (known) {
        const weight = await store.acceptedWeight(known.key, { signal });
        if (weight !== undefined) {
          return { ancestor: known, weight, keys: descending.reverse(), servedBy };
        }
        // Stored by an earlier walk (before a crash or a failed batch) but not recorded: walk
        // it locally instead of fetching it again. Its blocks are still validated going forward.
        ctx.stats.headersReread++;
        if (known.height === 0) {
          throw new InvalidChainError("the target's chain reaches a genesis that is not ours");
        }
        const bad = ctx.bad.find(known.cids);
        if (bad) throw new InvalidChainError(`the target's chain contains the bad block ${bad}`);
        checkGap(1);
        descending.push(known.key);
        storedEarlier(known.height);
        cursor = known.parents.cids;
        if (descending.length % batchSize === 0) {
          ctx.setStatus({ ...ctx.status(), height: known.height });
        }
        continue;
      }
      checkGap(1);
      const request = prefetched?.key === cursorKey.toString() ? prefetched : requestBatch(cursor);
      const answer = await request.fetching;
      const lowest = answer.tipsets.at(-1);
      // A recorded segment inside the answer: the walk goes on from its top, by the record.
      const segmentAt = answer.tipsets.find((t) => tops.has(t.key.toString()));
      // Not past an ancestor we have or a recorded segment: that is where the walk goes next.
      const more = lowest !== undefined && lowest.height > 0 && segmentAt === undefined &&
        await store.acceptedWeight(lowest.parents, { signal }) === undefined;
      prefetched = more ? requestBatch(lowest.parents.cids) : undefined;
      let reachedKnown: { tipset: TipSet; weight: bigint } | undefined;
      const fresh: { tipset: TipSet }[] = [];
      // An accepted tipset's ancestors are all accepted: unless the lowest tipset of the answer
      // is, none is, and one read settles the whole answer.
      const lowestAccepted = lowest && await store.acceptedWeight(lowest.key, { signal });
      for (const tipset of answer.tipsets) {
        const bad = ctx.bad.find(tipset.cids);
        if (bad) {
          ctx.onBadPeer?.(answer.peerId, `served known-bad block ${bad}`);
          throw new InvalidChainError(`the target's chain contains the bad block ${bad}`);
        }
        const weight = lowestAccepted === undefined
          ? undefined
          : await store.acceptedWeight(tipset.key, { signal });
        if (weight !== undefined) {
          reachedKnown = { tipset, weight };
          break;
        }
        if (tipset === segmentAt) break;
        fresh.push({ tipset });
        descending.push(tipset.key);
      }
      // One batched write per answer (one commit per tipset was most of the walk's time).
      await store.putTipSets(fresh, { signal });
      if (fresh.length > 0) {
        servedBy.push({ lowest: fresh[fresh.length - 1].tipset.height, peerId: answer.peerId });
        // Recorded only once the headers are stored: a record never names a missing header.
        if (progress) {
          const segments = segmentsOf(fresh.map((f) => f.tipset));
          await progress.put(segments, { signal });
          segmentTops.push(...segments.map((s) => s.keys[0]));
        }
      }
      ctx.stats.headers += fresh.length;
      if (reachedKnown) {
        return {
          ancestor: reachedKnown.tipset,
          weight: reachedKnown.weight,
          keys: descending.reverse(),
          servedBy,
        };
      }
      if (segmentAt) {
        cursor = segmentAt.cids;
        continue;
      }
      const last = answer.tipsets.at(-1);
      if (!last) throw new SyncFailedError("a peer answered with no tipsets");
      if (last.height === 0) {
        throw new InvalidChainError("the target's chain reaches a genesis that is not ours");
      }
      cursor = last.parents.cids;
      ctx.setStatus({ ...ctx.status(), height: last.height });
    }
  } finally {
    done.abort(new DOMException("walk back ended", "AbortError"));
  }
}

/**
 * The recorded segments' tops; those at or below our head are forgotten first (synced, or a
 * lighter fork's: either way no walk above the head needs them).
 */
async function recordedTops(
  ctx: SyncContext,
  options: AbortOptions,
): Promise<Map<string, unknown>> {
  const tops = await ctx.progress!.tops(options);
  const stale = [...tops.values()].filter((t) => t.height <= ctx.store.heaviest.height);
  for (const t of stale) tops.delete(t.key.toString());
  await forgetSegments(ctx, stale.map((t) => t.key));
  return tops;
}

/**
 * The part of a recorded segment not yet accepted, and, when a forward pass already reached
 * into it (an earlier run validated part of it), the accepted tipset where it stops.
 */
async function takeSegment(
  ctx: SyncContext,
  segment: WalkSegment,
  options: AbortOptions,
): Promise<{
  keys: readonly TipSetKey[];
  lowestHeight: number;
  ancestor?: { ancestor: TipSet; weight: bigint };
}> {
  const { store } = ctx;
  const { keys } = segment;
  // Accepted tipsets' ancestors are accepted: unless the segment's bottom is, none of it is.
  if (await store.acceptedWeight(segment.parents, options) === undefined) {
    return { keys, lowestHeight: segment.lowestHeight };
  }
  // keys[i] is accepted for every i at or past some boundary: find the lowest such i.
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (await store.acceptedWeight(keys[mid], options) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  const ancestorKey = lo < keys.length ? keys[lo] : segment.parents;
  const ancestor = await store.getTipSet(ancestorKey.cids, options);
  const weight = await store.acceptedWeight(ancestorKey, options);
  if (!ancestor || weight === undefined) {
    throw new SyncStoreError(`accepted tipset ${ancestorKey} is not stored`);
  }
  const taken = keys.slice(0, lo);
  const lowestHeight = lo > 0
    ? (await store.getTipSet(taken[lo - 1].cids, options))?.height ?? ancestor.height + 1
    : ancestor.height;
  return { keys: taken, lowestHeight, ancestor: { ancestor, weight } };
}

/**
 * Validates the path from the accepted ancestor up, batch by batch, moving the head. The
 * headers are stored (the walk back put them there); only messages are fetched, and the next
 * batch's are fetched while this batch is validated, so the network and the CPU overlap.
 */
async function validateForward(
  ctx: SyncContext,
  target: SyncTarget,
  path: SyncPath,
  segmentTops: readonly TipSetKey[],
  options: AbortOptions,
): Promise<void> {
  const { store, batchSize, consensus } = ctx;
  let parent = path.ancestor;
  let parentWeight = path.weight;
  ctx.setStatus({ ...ctx.status(), phase: "messages", height: parent.height });
  // Aborted when this sync ends, however it ends: a prefetch must not outlive it.
  const done = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
  const load = (at: number) => {
    const loading = loadBatch(ctx, path.keys.slice(at, at + batchSize), target, segmentTops, {
      signal,
    });
    loading.catch(() => {}); // awaited below, or dropped when the sync fails first
    return loading;
  };
  try {
    let next = load(0);
    for (let at = 0; at < path.keys.length; at += batchSize) {
      const waited = performance.now();
      const batch = await next;
      ctx.stats.waitMs += performance.now() - waited;
      if (at + batchSize < path.keys.length) next = load(at + batchSize);
      const started = performance.now();
      let ranSince = started;
      for (let i = 0; i < batch.tipsets.length; i++) {
        signal.throwIfAborted();
        // Validation is CPU work with no I/O await: without a macrotask turn now and then,
        // the next batch's prefetch (store reads, the request, the answer) cannot move, and
        // nothing overlaps (measured: forward took validate + load, not the larger of them).
        if (performance.now() - ranSince > YIELD_EVERY_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          ranSince = performance.now();
        }
        const tipset = batch.tipsets[i];
        await validateTipSet(
          ctx,
          tipset,
          batch.messages[i],
          parent,
          parentWeight,
          servedByAt(path.servedBy, tipset.height) ?? target.peerId,
          { signal },
        );
        parentWeight = consensus.weight(tipset, parentWeight);
        parent = tipset;
      }
      const validated = performance.now();
      await store.putTipSets(
        batch.tipsets.map((tipset, i) => ({ tipset, messages: batch.messages[i] })),
        { signal, headers: false },
      );
      ctx.stats.validateMs += validated - started;
      ctx.stats.storeMs += performance.now() - validated;
      ctx.stats.validated += batch.tipsets.length;
      // Move the head once the batch is valid, if it is heavier: a crash resumes from here.
      if (parentWeight > store.weight) await store.setHead(parent, parentWeight, { signal });
      ctx.setStatus({ ...ctx.status(), height: parent.height });
    }
  } finally {
    done.abort(new DOMException("sync batch no longer needed", "AbortError"));
  }
}

/**
 * A forward batch (ascending keys): its stored tipsets and their messages, ascending. Blocks
 * whose message root is the empty MsgMeta have no messages; no peer is asked about a batch of
 * only such blocks.
 */
async function loadBatch(
  ctx: SyncContext,
  keys: readonly TipSetKey[],
  target: SyncTarget,
  segmentTops: readonly TipSetKey[],
  options: AbortOptions,
): Promise<{ tipsets: TipSet[]; messages: (readonly BlockMessageLists[])[] }> {
  const started = performance.now();
  const tipsets: TipSet[] = [];
  for (const key of keys) {
    const tipset = await ctx.store.getTipSet(key.cids, options);
    if (!tipset) {
      // The walk stored it (or a record said an earlier walk had) and nothing deletes
      // unaccepted headers: a record is wrong. Forget this walk's records; the retry walks
      // without them.
      await forgetSegments(ctx, segmentTops);
      throw new SyncStoreError(`tipset ${key} is no longer stored`);
    }
    tipsets.push(tipset);
  }
  const empty = (t: TipSet) => t.blocks.every((b) => b.messages.equals(EMPTY_MSG_META_BLOCK.cid));
  let messages: (readonly BlockMessageLists[])[];
  if (tipsets.every(empty)) {
    messages = tipsets.map((t) => t.blocks.map(() => NO_MESSAGES));
  } else {
    const got = await ctx.fetcher.getMessages(tipsets.toReversed(), {
      ...options,
      preferPeer: target.peerId,
    });
    if (got.messages.length !== tipsets.length) {
      throw new SyncFailedError(
        `asked ${got.peerId} for the messages of ${tipsets.length} tipsets, got ` +
          `${got.messages.length}`,
      );
    }
    messages = got.messages.toReversed();
  }
  ctx.stats.fetchMs += performance.now() - started;
  return { tipsets, messages };
}

/**
 * The peer that served the header at `height`, or undefined when an earlier walk stored it (a
 * sync resumed after a restart): ranges are descending, so the first whose lowest height is at
 * or below `height` holds it.
 */
function servedByAt(ranges: readonly ServedRange[], height: number): string | undefined {
  return ranges.find((range) => range.lowest <= height)?.peerId;
}
