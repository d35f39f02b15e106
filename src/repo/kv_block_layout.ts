/**
 * The key scheme of `KvIpldStore` in Deno KV, and the records stored under it: what the store,
 * its batch writer and `fsckIpldStore` must agree on. Under `keyPrefix` (default `["blocks"]`),
 * CIDs keyed by their binary form:
 *
 * ```
 * [...prefix, "b", cidBytes]      block ≤ 64 KiB: its bytes inline (one key, cheapest path)
 *                                 larger block: a ChunkedHeader {size, chunks, id, stamps}
 * [...prefix, "c", writeId, i]    chunk i (64 KiB, the last one shorter) of a chunked write
 * [...prefix, "m", writeId]       ChunkManifest {cid, size, chunks, created} of that write
 * ```
 *
 * Also Deno KV's size limits, which decide what is inline and how commits are packed.
 *
 * @module
 */
import { CID } from "../ipld/block.ts";

/** Deno KV's largest value (bytes); a Uint8Array value is stored as its raw bytes. */
export const KV_MAX_VALUE_BYTES = 65_536;
/** Blocks up to this size are stored inline under one key. */
export const INLINE_MAX_BYTES = KV_MAX_VALUE_BYTES;
/** Chunk size of larger blocks: a whole KV value, so 2 MiB is exactly 32 chunks. */
export const CHUNK_BYTES = KV_MAX_VALUE_BYTES;
/** Deno KV per-atomic limits (denokv `KvConfig`, checked against Deno 2.9). */
export const KV_MAX_MUTATIONS = 1000;
export const KV_MAX_CHECKS = 100;
/**
 * Total size of one atomic: Deno counts each value once and each key twice (measured on Deno
 * 2.9: 781 sets of 1 KiB under 12-byte keys fit, 782 do not). A 1 KiB margin on top.
 */
export const KV_MAX_COMMIT_BYTES = 800 * 1024 - 1024;
/** Encoded keys of one atomic; margin as above. */
export const KV_MAX_COMMIT_KEY_BYTES = 80 * 1024 - 512;
/** `kv.getMany` reads at most 10 keys per call. */
export const KV_MAX_GET_MANY = 10;
/** Random bytes of a write id: collisions between concurrent writes are out of the question. */
export const WRITE_ID_BYTES = 16;
/** Sanity cap on a stored header's size field, so that a corrupt header never allocates wildly. */
const MAX_STORED_BLOCK_BYTES = 1 << 30;

/** Header of a chunked block, the value under its block key. */
export interface ChunkedHeader {
  size: number;
  chunks: number;
  /** Write id: the chunks live under `[...prefix, "c", id, i]`. */
  id: Uint8Array;
  /** Versionstamp of each chunk's commit; `""` means the header's own commit. */
  stamps: string[];
}

/** Manifest of a chunked write, written with its first chunk; lets fsck find orphan chunks. */
export interface ChunkManifest {
  /** Binary CID the write is for. */
  cid: Uint8Array;
  size: number;
  chunks: number;
  /** `Date.now()` when the write started: fsck reports it for orphans. */
  created: number;
  /** Set by fsck once it decided to reap the write, so that a late header commit fails. */
  dead?: boolean;
}

/** The keys of one store; shared with `fsckIpldStore` so that both agree on the layout. */
export class KvBlockKeys {
  readonly blocks: Deno.KvKey;
  readonly chunks: Deno.KvKey;
  readonly manifests: Deno.KvKey;
  /** Encoded size of `blocks`, so that sizing a block key costs no re-encoding. */
  readonly #blocksBytes: number;
  constructor(readonly prefix: Deno.KvKey) {
    this.blocks = [...prefix, "b"];
    this.#blocksBytes = encodedKeyBytes(this.blocks);
    this.chunks = [...prefix, "c"];
    this.manifests = [...prefix, "m"];
  }
  block(cid: CID): Deno.KvKey {
    return [...this.blocks, cid.bytes];
  }
  /** `encodedKeyBytes(this.block(cid))`, cheaply: putMany sizes every key it commits. */
  blockKeyBytes(cid: CID): number {
    return this.#blocksBytes + 2 + cid.bytes.length + countZeros(cid.bytes);
  }
  chunk(id: Uint8Array, index: number): Deno.KvKey {
    return [...this.chunks, id, index];
  }
  chunksOf(id: Uint8Array): Deno.KvKey {
    return [...this.chunks, id];
  }
  manifest(id: Uint8Array): Deno.KvKey {
    return [...this.manifests, id];
  }
}

/** True when `value` is a well-formed chunked header. */
export function isChunkedHeader(value: unknown): value is ChunkedHeader {
  if (typeof value !== "object" || value === null) return false;
  const h = value as Partial<ChunkedHeader>;
  return Number.isSafeInteger(h.size) && h.size! > INLINE_MAX_BYTES &&
    h.size! <= MAX_STORED_BLOCK_BYTES && h.chunks === Math.ceil(h.size! / CHUNK_BYTES) &&
    h.id instanceof Uint8Array && h.id.length === WRITE_ID_BYTES &&
    Array.isArray(h.stamps) && h.stamps.length === h.chunks &&
    h.stamps.every((s) => typeof s === "string");
}

/** True when `value` is a well-formed chunk manifest. */
export function isChunkManifest(value: unknown): value is ChunkManifest {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Partial<ChunkManifest>;
  return m.cid instanceof Uint8Array && Number.isSafeInteger(m.size) &&
    Number.isSafeInteger(m.chunks) && m.chunks! >= 0 && typeof m.created === "number";
}

/** Length in bytes of chunk `index` of a `size`-byte block. */
export function chunkLength(size: number, index: number): number {
  return Math.min(CHUNK_BYTES, size - index * CHUNK_BYTES);
}

/** Byte length of `key` in denokv's tuple encoding (0x00 inside bytes/strings is escaped). */
export function encodedKeyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (part instanceof Uint8Array) n += 2 + part.length + countZeros(part);
    else if (typeof part === "string") {
      const utf8 = ENCODER.encode(part);
      n += 2 + utf8.length + countZeros(utf8);
    } else if (typeof part === "number") n += 9;
    else if (typeof part === "bigint") n += 2 + 8 * Math.ceil(part.toString(16).length / 16);
    else n += 1;
  }
  return n;
}

/** Decode the CID of a block key, or `undefined` when the key is not one. */
export function cidOfBlockKey(keys: KvBlockKeys, key: Deno.KvKey): CID | undefined {
  const part = key[keys.blocks.length];
  if (key.length !== keys.blocks.length + 1 || !(part instanceof Uint8Array)) return undefined;
  try {
    return CID.decode(part);
  } catch {
    return undefined;
  }
}

let writeSequence = 0;

/**
 * A write id: 6 bytes of milliseconds, 2 of a per-process sequence, 8 random. Time-ordered, so
 * chunks are appended at the end of the KV's B-tree instead of scattered through it (random ids
 * made a 1 MiB putMany twice as slow, measured on SQLite); the random tail keeps concurrent
 * writers, across processes too, apart.
 */
export function newWriteId(): Uint8Array {
  const id = new Uint8Array(WRITE_ID_BYTES);
  const view = new DataView(id.buffer);
  const ms = Date.now();
  view.setUint16(0, Math.floor(ms / 2 ** 32));
  view.setUint32(2, ms >>> 0);
  view.setUint16(6, writeSequence = (writeSequence + 1) & 0xffff);
  crypto.getRandomValues(id.subarray(8));
  return id;
}

export function countZeros(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) n++;
  return n;
}

const ENCODER = new TextEncoder();
