/**
 * How far walks back got, kept across restarts: each answer's new headers are recorded as a
 * segment (their tipset keys, descending, and the parents of the lowest), written after the
 * headers' own commit. A walk that reaches a segment's top takes the segment's keys instead of
 * reading its headers one by one (measured ~0.35 ms a header: 7 s for a 20,000-tipset gap on
 * every restart), then goes on from the segment's bottom.
 *
 * A segment only ever names headers already stored: it is written after them (a crash between
 * leaves headers without a record, which the walk reads as before), and nothing deletes
 * unaccepted headers. Records are an accelerator, never the truth: a missing or unreadable one
 * only costs the header reads it would have saved.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { TipSetKey } from "../chain/types/mod.ts";

/** A run of stored headers, each the parent of the one before. */
export interface WalkSegment {
  /** Descending: `keys[0]` is the top, `keys[i + 1]` the parent of `keys[i]`. */
  readonly keys: readonly TipSetKey[];
  readonly topHeight: number;
  readonly lowestHeight: number;
  /** The parents of the lowest: where a walk goes on. */
  readonly parents: TipSetKey;
}

/** The syncer's record of walk-back segments. */
export interface WalkProgress {
  /** The top key (`TipSetKey.toString()`) and height of every recorded segment. */
  tops(options?: AbortOptions): Promise<Map<string, { key: TipSetKey; height: number }>>;
  /** The segment whose top is `top`, or undefined. */
  get(top: TipSetKey, options?: AbortOptions): Promise<WalkSegment | undefined>;
  /** Records segments whose headers are stored. */
  put(segments: readonly WalkSegment[], options?: AbortOptions): Promise<void>;
  /** Forgets the segments with these tops (synced, or of a chain found bad). */
  delete(tops: readonly TipSetKey[], options?: AbortOptions): Promise<void>;
}

/**
 * Most block CIDs in one segment record: ~40 bytes each keeps a record near 40 KB, under Deno
 * KV's 64 KiB value limit however many blocks the tipsets have.
 */
export const MAX_SEGMENT_CIDS = 1_000;

/** Descending consecutive tipsets as segments of at most {@link MAX_SEGMENT_CIDS} block CIDs. */
export function segmentsOf(
  tipsets: readonly { key: TipSetKey; height: number; parents: TipSetKey }[],
): WalkSegment[] {
  const out: WalkSegment[] = [];
  let start = 0;
  let cids = 0;
  const close = (end: number) => {
    if (end <= start) return;
    const run = tipsets.slice(start, end);
    out.push({
      keys: run.map((t) => t.key),
      topHeight: run[0].height,
      lowestHeight: run[run.length - 1].height,
      parents: run[run.length - 1].parents,
    });
    start = end;
    cids = 0;
  };
  for (let i = 0; i < tipsets.length; i++) {
    const n = tipsets[i].key.cids.length;
    if (cids + n > MAX_SEGMENT_CIDS) close(i);
    cids += n;
  }
  close(tipsets.length);
  return out;
}

/** The sync's own key space in the node's KV: nothing else reads or writes under it. */
const SEGMENT_PREFIX = ["sync", "walk-segment"] as const;
/** Top key -> height, listed at each walk's start (the segments themselves are larger). */
const TOP_PREFIX = ["sync", "walk-top"] as const;

interface SegmentRecord {
  keys: Uint8Array[];
  topHeight: number;
  lowestHeight: number;
  parents: Uint8Array;
}

/** WalkProgress on Deno KV: a segment and its top index in one atomic commit. */
export class KvWalkProgress implements WalkProgress {
  constructor(readonly kv: Deno.Kv) {}

  async tops(options: AbortOptions = {}) {
    const out = new Map<string, { key: TipSetKey; height: number }>();
    for await (const entry of this.kv.list<number>({ prefix: [...TOP_PREFIX] })) {
      options.signal?.throwIfAborted();
      const bytes = entry.key[TOP_PREFIX.length];
      const key = bytes instanceof Uint8Array ? parseKey(bytes) : undefined;
      if (!key || typeof entry.value !== "number") continue; // not ours to read: skipped
      out.set(key.toString(), { key, height: entry.value });
    }
    return out;
  }

  async get(top: TipSetKey, options: AbortOptions = {}): Promise<WalkSegment | undefined> {
    options.signal?.throwIfAborted();
    const record = (await this.kv.get<SegmentRecord>([...SEGMENT_PREFIX, top.bytes])).value;
    return record ? decodeSegment(record, top) : undefined;
  }

  async put(segments: readonly WalkSegment[], options: AbortOptions = {}): Promise<void> {
    for (const s of segments) {
      options.signal?.throwIfAborted();
      const top = s.keys[0].bytes;
      const record: SegmentRecord = {
        keys: s.keys.map((k) => k.bytes),
        topHeight: s.topHeight,
        lowestHeight: s.lowestHeight,
        parents: s.parents.bytes,
      };
      const result = await this.kv.atomic()
        .set([...SEGMENT_PREFIX, top], record)
        .set([...TOP_PREFIX, top], s.topHeight)
        .commit();
      if (!result.ok) throw new Error("walk progress commit was refused");
    }
  }

  async delete(tops: readonly TipSetKey[], options: AbortOptions = {}): Promise<void> {
    // Many deletes per commit (Deno KV allows 1,000 mutations per atomic operation).
    for (let at = 0; at < tops.length; at += 400) {
      options.signal?.throwIfAborted();
      const atomic = this.kv.atomic();
      for (const top of tops.slice(at, at + 400)) {
        atomic.delete([...SEGMENT_PREFIX, top.bytes]).delete([...TOP_PREFIX, top.bytes]);
      }
      await atomic.commit();
    }
  }
}

function parseKey(bytes: Uint8Array): TipSetKey | undefined {
  try {
    const key = TipSetKey.fromBytes(bytes);
    return key.isEmpty ? undefined : key;
  } catch {
    return undefined;
  }
}

/** A stored record as a segment, or undefined when it does not read as one of `top`. */
function decodeSegment(record: SegmentRecord, top: TipSetKey): WalkSegment | undefined {
  if (
    !Array.isArray(record.keys) || record.keys.length === 0 ||
    !Number.isSafeInteger(record.topHeight) || !Number.isSafeInteger(record.lowestHeight) ||
    !(record.parents instanceof Uint8Array) ||
    // Heights may skip (null rounds) but never fall short of one per tipset.
    record.topHeight - record.lowestHeight < record.keys.length - 1
  ) return undefined;
  const keys: TipSetKey[] = [];
  for (const bytes of record.keys) {
    const key = bytes instanceof Uint8Array ? parseKey(bytes) : undefined;
    if (!key) return undefined;
    keys.push(key);
  }
  const parents = parseKey(record.parents);
  if (!parents || !keys[0].equals(top)) return undefined;
  return {
    keys,
    topHeight: record.topHeight,
    lowestHeight: record.lowestHeight,
    parents,
  };
}
