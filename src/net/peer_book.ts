/**
 * `PeerBook`: the good peers a node remembers across restarts, so that bootstrapping after a
 * restart redials peers that served it well before falling back to the configured bootstrappers.
 *
 * Records live in memory; changes are staged and written by {@link PeerBook.flush} in batched
 * atomic commits (the host flushes on a timer and at stop). The book is bounded: past `maxPeers`
 * the worst record (lowest score, then least recently seen) gives way. Everything read back from
 * KV is validated: a corrupt, oversized or stale record is skipped and deleted, never thrown on.
 *
 * Key layout: `[...keyPrefix, peerId]` (default prefix `["peers"]`); the book owns that prefix,
 * and anything under it that is not a valid record is deleted at load.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";
import { isPeerIdString } from "./peer_id_text.ts";
import { SCORE_MAX, SCORE_MIN } from "./reputation.ts";

/**
 * Default size of the book: 20× Lotus' 50-peer connection high-water mark, so that a restart
 * finds enough live peers even after most remembered ones have churned away.
 */
export const DEFAULT_MAX_PEERS = 1_000;
/** Addresses kept per peer: identify may announce many (every interface, relay paths); the first few suffice. */
export const DEFAULT_MAX_ADDRS = 8;
/** Longest multiaddr kept; real ones (`/ip6/…/tcp/…/p2p/…`) are under 150 characters. */
export const MAX_ADDR_CHARS = 256;
/** Largest stored record (bytes of its JSON form): with the caps above a real one is ~1 KiB. */
export const DEFAULT_MAX_RECORD_BYTES = 4_096;
/** Records unseen for this long are dropped at load: such peers have most likely moved or gone. */
export const DEFAULT_MAX_AGE_MS = 30 * 24 * 60 * 60_000;
/** Most entries any stored record may list before it is called corrupt without looking further. */
const MAX_STORED_ADDRS = 256;
/** Deno KV per-atomic limits are 1000 mutations and ~800 KiB: stay well under both. */
const BATCH_MUTATIONS = 500;
const BATCH_BYTES = 512 * 1024;
/** Deno KV `list` page at load. */
const LIST_BATCH = 500;
/** Version tag of stored records. */
const RECORD_VERSION = 1;

/** One remembered peer. */
export interface PeerRecord {
  readonly peerId: string;
  /** Multiaddrs to redial it on, most useful first. */
  readonly addrs: readonly string[];
  /** Its reputation when last seen (see `reputation.ts`). */
  readonly score: number;
  /** When it was last connected (ms since the epoch). */
  readonly lastSeen: number;
}

/** What {@link PeerBook.remember} takes. */
export interface PeerInfo {
  addrs: readonly string[];
  score: number;
  lastSeen: number;
}

/** Options of {@link PeerBook.load}. */
export interface PeerBookOptions extends AbortOptions {
  /** Where "now" comes from; the system clock by default. */
  time?: TimeSource;
  /** Most records kept. Default {@link DEFAULT_MAX_PEERS}. */
  maxPeers?: number;
  /** Most addresses kept per peer. Default {@link DEFAULT_MAX_ADDRS}. */
  maxAddrs?: number;
  /** Largest record (JSON bytes). Default {@link DEFAULT_MAX_RECORD_BYTES}. */
  maxRecordBytes?: number;
  /** Records older than this are dropped at load. Default {@link DEFAULT_MAX_AGE_MS}. */
  maxAgeMs?: number;
  /** KV key prefix. Default `["peers"]`. */
  keyPrefix?: Deno.KvKey;
}

/** What {@link PeerBook.load} found. */
export interface PeerBookLoadReport {
  readonly loaded: number;
  /** Records that did not validate: deleted. */
  readonly corrupt: number;
  /** Records older than `maxAgeMs`: deleted. */
  readonly stale: number;
  /** Valid records beyond `maxPeers` (the worst ones): deleted. */
  readonly evicted: number;
}

/** What one {@link PeerBook.flush} wrote. */
export interface FlushReport {
  readonly written: number;
  readonly deleted: number;
}

/**
 * Remembered peers, bounded, persisted in batched atomic writes.
 *
 * @example
 * ```ts ignore
 * const book = await PeerBook.load(kv);
 * for (const peer of book.best(20)) await host.dial(peer.peerId, peer.addrs);
 * book.remember(peerId, { addrs, score: reputation.score(peerId), lastSeen: Date.now() });
 * await book.flush();
 * ```
 */
export class PeerBook {
  readonly maxPeers: number;
  readonly maxAddrs: number;
  readonly maxRecordBytes: number;
  readonly maxAgeMs: number;
  #loadReport: PeerBookLoadReport = { loaded: 0, corrupt: 0, stale: 0, evicted: 0 };
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #time: TimeSource;
  readonly #records = new Map<string, PeerRecord>();
  /** Peers changed since the last flush, with a change counter to spot changes during a flush. */
  readonly #dirty = new Map<string, number>();
  #version = 0;
  #flushing: Promise<unknown> = Promise.resolve();

  private constructor(kv: Deno.Kv, options: PeerBookOptions) {
    this.#kv = kv;
    this.#prefix = options.keyPrefix ?? ["peers"];
    this.#time = options.time ?? systemTime;
    this.maxPeers = positiveInt("maxPeers", options.maxPeers ?? DEFAULT_MAX_PEERS);
    this.maxAddrs = positiveInt("maxAddrs", options.maxAddrs ?? DEFAULT_MAX_ADDRS);
    this.maxRecordBytes = positiveInt(
      "maxRecordBytes",
      options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
    );
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    if (!(this.maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive`);
  }

  /** Reads the book from `kv`, deleting corrupt, stale and surplus records. */
  static async load(kv: Deno.Kv, options: PeerBookOptions = {}): Promise<PeerBook> {
    const book = new PeerBook(kv, options);
    const now = book.#time.now();
    const doomed: Deno.KvKey[] = [];
    const valid: PeerRecord[] = [];
    let corrupt = 0;
    let stale = 0;
    const depth = book.#prefix.length;
    for await (const entry of kv.list({ prefix: book.#prefix }, { batchSize: LIST_BATCH })) {
      options.signal?.throwIfAborted();
      const record = entry.key.length === depth + 1
        ? book.#decode(entry.key[depth], entry.value)
        : undefined;
      if (record === undefined) {
        corrupt++;
        doomed.push(entry.key);
      } else if (now - record.lastSeen > book.maxAgeMs) {
        stale++;
        doomed.push(entry.key);
      } else {
        valid.push(record.record);
        if (record.trimmed) book.#touch(record.record.peerId);
      }
    }
    valid.sort(compareBest);
    for (const r of valid.slice(book.maxPeers)) {
      doomed.push([...book.#prefix, r.peerId]);
      book.#dirty.delete(r.peerId);
    }
    for (const r of valid.slice(0, book.maxPeers)) book.#records.set(r.peerId, r);
    const evicted = Math.max(0, valid.length - book.maxPeers);
    for (let i = 0; i < doomed.length; i += BATCH_MUTATIONS) {
      options.signal?.throwIfAborted();
      const op = kv.atomic();
      for (const key of doomed.slice(i, i + BATCH_MUTATIONS)) op.delete(key);
      const result = await op.commit();
      if (!result.ok) throw new Error("KV refused to delete peer book records");
    }
    book.#loadReport = {
      loaded: book.#records.size,
      corrupt,
      stale,
      evicted,
    };
    return book;
  }

  /** What the load found and cleaned up. */
  get loadReport(): PeerBookLoadReport {
    return this.#loadReport;
  }

  /**
   * Remembers (or updates) `peerId`, staged until the next {@link flush}. Addresses are
   * de-duplicated, malformed or overlong ones dropped, and the list cut to `maxAddrs` and to the
   * record size limit; the score is clamped to the reputation range. Returns false, storing
   * nothing, when the peer ID is malformed, no usable address is left, or the book is full of
   * peers that all rank at least as high.
   *
   * Throws RangeError for a non-finite score or time (a caller bug, not peer input).
   */
  remember(peerId: string, info: PeerInfo): boolean {
    if (!Number.isFinite(info.score) || !Number.isFinite(info.lastSeen)) {
      throw new RangeError("score and lastSeen must be finite numbers");
    }
    if (!isPeerIdString(peerId)) return false;
    const previous = this.#records.get(peerId);
    const record = this.#normalize(peerId, info.addrs, info.score, info.lastSeen);
    if (record === undefined) return false;
    if (previous === undefined && this.#records.size >= this.maxPeers) {
      const worst = this.#worst();
      if (worst === undefined || compareBest(record, worst) >= 0) return false;
      this.#records.delete(worst.peerId);
      this.#touch(worst.peerId);
    }
    const lastSeen = Math.max(previous?.lastSeen ?? 0, record.lastSeen);
    this.#records.set(peerId, { ...record, lastSeen });
    this.#touch(peerId);
    return true;
  }

  /** Forgets `peerId` (staged until the next flush). Returns whether it was remembered. */
  forget(peerId: string): boolean {
    if (!this.#records.delete(peerId)) return false;
    this.#touch(peerId);
    return true;
  }

  /** The record of `peerId`, if remembered. */
  get(peerId: string): PeerRecord | undefined {
    return this.#records.get(peerId);
  }

  /** The `n` best peers: highest score first, then most recently seen. */
  best(n: number): PeerRecord[] {
    if (!(n > 0)) return [];
    return this.all().slice(0, Math.floor(n));
  }

  /** Every remembered peer, best first. */
  all(): PeerRecord[] {
    return [...this.#records.values()].sort(compareBest);
  }

  /** Number of peers remembered. */
  get size(): number {
    return this.#records.size;
  }

  /** Number of peers changed since the last flush. */
  get pending(): number {
    return this.#dirty.size;
  }

  /**
   * Writes every staged change in batched atomic commits (each batch all-or-nothing; records are
   * independent, so a crash between batches leaves each record either old or new). Concurrent
   * calls run one after the other; changes made during a flush stay staged for the next.
   */
  flush(options: AbortOptions = {}): Promise<FlushReport> {
    const run = this.#flushing.then(() => this.#flushNow(options));
    this.#flushing = run.catch(() => {});
    return run;
  }

  async #flushNow(options: AbortOptions): Promise<FlushReport> {
    const staged = [...this.#dirty];
    let written = 0;
    let deleted = 0;
    let op = this.#kv.atomic();
    let batch: [string, number][] = [];
    let bytes = 0;
    const commit = async () => {
      if (batch.length === 0) return;
      options.signal?.throwIfAborted();
      const result = await op.commit();
      if (!result.ok) throw new Error("KV refused a peer book write");
      for (const [peerId, version] of batch) {
        if (this.#dirty.get(peerId) === version) this.#dirty.delete(peerId);
      }
      op = this.#kv.atomic();
      batch = [];
      bytes = 0;
    };
    for (const [peerId, version] of staged) {
      const record = this.#records.get(peerId);
      const key = [...this.#prefix, peerId];
      const size = record === undefined ? peerId.length : recordBytes(record);
      if (batch.length >= BATCH_MUTATIONS || bytes + size > BATCH_BYTES) await commit();
      if (record === undefined) {
        op.delete(key);
        deleted++;
      } else {
        op.set(key, encode(record));
        written++;
      }
      batch.push([peerId, version]);
      bytes += size + 2 * peerId.length;
    }
    await commit();
    return { written, deleted };
  }

  #touch(peerId: string): void {
    this.#dirty.set(peerId, ++this.#version);
  }

  #worst(): PeerRecord | undefined {
    let worst: PeerRecord | undefined;
    for (const r of this.#records.values()) {
      if (worst === undefined || compareBest(r, worst) > 0) worst = r;
    }
    return worst;
  }

  /** A clean record within every limit, or undefined when nothing usable is left. */
  #normalize(
    peerId: string,
    addrs: unknown,
    score: number,
    lastSeen: number,
  ): PeerRecord | undefined {
    if (!Array.isArray(addrs)) return undefined;
    const kept: string[] = [];
    const base = recordBytes({ peerId, addrs: [], score: SCORE_MIN, lastSeen });
    let bytes = base;
    for (const addr of addrs) {
      if (kept.length >= this.maxAddrs) break;
      if (!isMultiaddrString(addr) || kept.includes(addr)) continue;
      const extra = JSON.stringify(addr).length + 1; // UTF-8: isMultiaddrString allows ASCII only
      if (bytes + extra > this.maxRecordBytes) break;
      kept.push(addr);
      bytes += extra;
    }
    if (kept.length === 0 || bytes > this.maxRecordBytes) return undefined;
    const clamped = Math.min(SCORE_MAX, Math.max(SCORE_MIN, score));
    return { peerId, addrs: kept, score: clamped, lastSeen: Math.min(lastSeen, this.#time.now()) };
  }

  /** Validates one stored record; `trimmed` when it was valid but had to be cut to the limits. */
  #decode(
    keyPart: Deno.KvKeyPart,
    value: unknown,
  ): { record: PeerRecord; trimmed: boolean; lastSeen: number } | undefined {
    if (typeof keyPart !== "string" || !isPeerIdString(keyPart)) return undefined;
    if (typeof value !== "object" || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (v.v !== RECORD_VERSION) return undefined;
    const { addrs, score, lastSeen } = v;
    if (!Array.isArray(addrs) || addrs.length === 0 || addrs.length > MAX_STORED_ADDRS) return;
    if (!addrs.every(isMultiaddrString)) return undefined;
    if (typeof score !== "number" || !Number.isFinite(score)) return undefined;
    if (typeof lastSeen !== "number" || !Number.isFinite(lastSeen) || lastSeen < 0) return;
    if (recordBytes({ peerId: keyPart, addrs, score, lastSeen }) > this.maxRecordBytes) return;
    const record = this.#normalize(keyPart, addrs, score, lastSeen);
    if (record === undefined) return undefined;
    const trimmed = record.addrs.length !== addrs.length || record.score !== score ||
      record.lastSeen !== lastSeen;
    return { record, trimmed, lastSeen };
  }
}

interface StoredPeer {
  v: number;
  addrs: string[];
  score: number;
  lastSeen: number;
}

function encode(record: PeerRecord): StoredPeer {
  return {
    v: RECORD_VERSION,
    addrs: [...record.addrs],
    score: record.score,
    lastSeen: record.lastSeen,
  };
}

/** Size of a record as JSON: a stand-in for its stored size that is cheap and stable. */
function recordBytes(record: PeerRecord): number {
  return JSON.stringify(record).length;
}

/** Best first: higher score, then more recent, then peer ID (a stable order for ties). */
function compareBest(a: PeerRecord, b: PeerRecord): number {
  return b.score - a.score || b.lastSeen - a.lastSeen ||
    (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0);
}

/**
 * A plausible multiaddr string: `/proto/value/…`, printable ASCII, bounded. Not parsed further:
 * the host's libp2p parses it when dialling, and a bad one only costs a failed dial.
 */
function isMultiaddrString(addr: unknown): addr is string {
  return typeof addr === "string" && addr.length <= MAX_ADDR_CHARS &&
    /^(\/[\x21-\x2e\x30-\x7e]+)+$/.test(addr);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
