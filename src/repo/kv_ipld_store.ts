/**
 * `KvIpldStore`: the IpldStore on Deno KV, on a local SQLite file or a KV Connect URL.
 *
 * Key layout under `keyPrefix` (default `["blocks"]`), CIDs keyed by their binary form:
 *
 * ```
 * [...prefix, "b", cidBytes]      block ≤ 64 KiB: its bytes inline (one key, cheapest path)
 *                                 larger block: a ChunkedHeader {size, chunks, id, stamps}
 * [...prefix, "c", writeId, i]    chunk i (64 KiB, the last one shorter) of a chunked write
 * [...prefix, "m", writeId]       ChunkManifest {cid, size, chunks, created} of that write
 * ```
 *
 * A chunked block is written as: chunks under a fresh random `writeId` (the manifest rides in
 * the commit that carries chunk 0), then the header in a later (or the same) commit, guarded by
 * checks that the block key is unchanged and that the manifest was not reaped meanwhile. Until
 * the header commit, the chunks are invisible orphans; a crash leaves only those, and the
 * manifest lets `fsckIpldStore` find them without listing (and so reading) every chunk.
 * A reader sees either no block or the whole block, never part of one.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError } from "../errors.ts";
import { type Block, CID, verifyBlock } from "../ipld/block.ts";
import {
  assertStorableBlock,
  BlockNotFoundError,
  DEFAULT_MAX_BLOCK_SIZE,
  type GetBlockOptions,
  type IpldStore,
  unsupportedCidReason,
} from "../ipld/ipld_store.ts";

/** Deno KV's largest value (bytes); a Uint8Array value is stored as its raw bytes. */
export const KV_MAX_VALUE_BYTES = 65_536;
/** Blocks up to this size are stored inline under one key. */
export const INLINE_MAX_BYTES = KV_MAX_VALUE_BYTES;
/** Chunk size of larger blocks: a whole KV value, so 2 MiB is exactly 32 chunks. */
export const CHUNK_BYTES = KV_MAX_VALUE_BYTES;
/** Deno KV per-atomic limits (denokv `KvConfig`, checked against Deno 2.9). */
const KV_MAX_MUTATIONS = 1000;
const KV_MAX_CHECKS = 100;
/**
 * Total size of one atomic: Deno counts each value once and each key twice (measured on Deno
 * 2.9: 781 sets of 1 KiB under 12-byte keys fit, 782 do not). A 1 KiB margin on top.
 */
const KV_MAX_COMMIT_BYTES = 800 * 1024 - 1024;
/** Encoded keys of one atomic; margin as above. */
const KV_MAX_COMMIT_KEY_BYTES = 80 * 1024 - 512;
/** `kv.getMany` reads at most 10 keys per call. */
const KV_MAX_GET_MANY = 10;
/** Random bytes of a write id: collisions between concurrent writes are out of the question. */
const WRITE_ID_BYTES = 16;
/** Rounds of a chunked put that lost a race (its manifest was reaped by fsck) before giving up. */
const PUT_ATTEMPTS = 3;
/** Upper bound of a V8-serialized manifest (a CID, three numbers and field names). */
const SERIALIZED_RECORD_BYTES = 256;
/** Sanity cap on a stored header's size field, so that a corrupt header never allocates wildly. */
const MAX_STORED_BLOCK_BYTES = 1 << 30;

export interface KvIpldStoreOptions {
  /** Largest block accepted, in bytes; defaults to `DEFAULT_MAX_BLOCK_SIZE` (2 MiB). */
  maxBlockSize?: number;
  /** Key space of the store inside the Kv; defaults to `["blocks"]`. */
  keyPrefix?: Deno.KvKey;
}

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

/**
 * Read a chunked block's chunks and join them. Throws `CorruptRecordError` on a missing, mistyped,
 * mis-sized or rewritten chunk; returns `undefined` when the header vanished meanwhile (a
 * concurrent delete), so callers treat the block as absent.
 */
export async function readChunked(
  kv: Deno.Kv,
  keys: KvBlockKeys,
  cid: CID,
  header: ChunkedHeader,
  headerStamp: string,
): Promise<Uint8Array | undefined> {
  const chunkKeys: Deno.KvKey[] = [];
  for (let i = 0; i < header.chunks; i++) chunkKeys.push(keys.chunk(header.id, i));
  const groups: Promise<Deno.KvEntryMaybe<unknown>[]>[] = [];
  for (let i = 0; i < chunkKeys.length; i += KV_MAX_GET_MANY) {
    groups.push(kv.getMany(chunkKeys.slice(i, i + KV_MAX_GET_MANY)));
  }
  const entries = (await Promise.all(groups)).flat();
  const out = new Uint8Array(header.size);
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const { value, versionstamp } = entries[i];
    const problem = versionstamp === null
      ? "is missing"
      : !(value instanceof Uint8Array)
      ? `is not bytes (${describeValue(value)})`
      : value.length !== chunkLength(header.size, i)
      ? `is ${value.length} bytes, not ${chunkLength(header.size, i)}`
      : versionstamp !== (header.stamps[i] || headerStamp)
      ? "was rewritten after its block was stored"
      : undefined;
    if (problem !== undefined) {
      // A delete removes the header first, then the chunks: if the header is gone the block
      // was deleted under us, which is absence, not corruption.
      const again = await kv.get(keys.block(cid));
      if (again.versionstamp !== headerStamp) return undefined;
      throw new CorruptRecordError(
        `block ${cid}: chunk ${i} of ${header.chunks} ${problem}; run \`filnode repo fsck\``,
      );
    }
    out.set(value as Uint8Array, offset);
    offset += (value as Uint8Array).length;
  }
  if (offset !== header.size) {
    throw new CorruptRecordError(
      `block ${cid}: chunks hold ${offset} bytes, header says ${header.size}`,
    );
  }
  return out;
}

/** A short description of a stored value that is not what it should be, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

/**
 * Blocks on Deno KV. Construct over an open `Deno.Kv` (the caller keeps ownership), or use
 * `KvIpldStore.open()` which opens one and closes it in `close()`.
 *
 * @example
 * ```ts
 * import { KvIpldStore } from "./kv_ipld_store.ts";
 * import { encodeCbor } from "../ipld/block.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await KvIpldStore.open(`${dir}/kv.sqlite`);
 * const block = encodeCbor({ hello: "world" });
 * await store.put(block.cid, block.bytes);
 * console.assert((await store.get(block.cid)).length === block.bytes.length);
 * store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class KvIpldStore implements IpldStore {
  readonly maxBlockSize: number;
  readonly keys: KvBlockKeys;
  #owned = false;
  #closed = false;

  constructor(readonly kv: Deno.Kv, options: KvIpldStoreOptions = {}) {
    this.maxBlockSize = options.maxBlockSize ?? DEFAULT_MAX_BLOCK_SIZE;
    if (!Number.isSafeInteger(this.maxBlockSize) || this.maxBlockSize < 0) {
      throw new RangeError(`maxBlockSize must be a non-negative integer, got ${this.maxBlockSize}`);
    }
    this.keys = new KvBlockKeys(options.keyPrefix ?? ["blocks"]);
  }

  /**
   * Open the Kv at `pathOrUrl` (a local path, or a KV Connect `https://` URL: same code path)
   * and return a store that closes it in `close()`.
   */
  static async open(
    pathOrUrl: string,
    options: KvIpldStoreOptions & AbortOptions = {},
  ): Promise<KvIpldStore> {
    options.signal?.throwIfAborted();
    const kv = await Deno.openKv(pathOrUrl);
    try {
      const store = new KvIpldStore(kv, options);
      store.#owned = true;
      return store;
    } catch (err) {
      kv.close();
      throw err;
    }
  }

  /** Close the Kv if this store opened it; idempotent. A store over a borrowed Kv leaves it open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) this.kv.close();
  }

  async put(cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    assertStorableBlock(cid, bytes, this.maxBlockSize);
    options.signal?.throwIfAborted();
    if (bytes.length <= INLINE_MAX_BYTES) {
      // Same CID, same bytes: overwriting is a no-op in meaning and cheaper than a check.
      await this.kv.set(this.keys.block(cid), bytes);
      return;
    }
    await this.putMany([{ cid, bytes }], options);
  }

  /**
   * Store blocks in as few atomic commits as Deno KV allows (1000 mutations, 800 KiB each).
   * Every block is checked before it joins a commit; an invalid one throws and blocks already
   * committed stay (they are valid, content-addressed), those not yet committed are dropped.
   */
  async putMany(
    blocks: Iterable<Block> | AsyncIterable<Block>,
    options: AbortOptions = {},
  ): Promise<void> {
    const writer = new BatchWriter(this.kv, this.keys, options.signal);
    const add = (cid: CID, bytes: Uint8Array): Promise<void> | undefined => {
      assertStorableBlock(cid, bytes, this.maxBlockSize);
      options.signal?.throwIfAborted();
      return bytes.length <= INLINE_MAX_BYTES
        ? writer.addInline(cid, bytes)
        : writer.addChunked(cid, bytes);
    };
    // An await per block costs more than packing it: await only when a commit is due.
    if (Symbol.iterator in blocks) {
      for (const { cid, bytes } of blocks) {
        const flushing = add(cid, bytes);
        if (flushing !== undefined) await flushing;
      }
    } else {
      for await (const { cid, bytes } of blocks) {
        const flushing = add(cid, bytes);
        if (flushing !== undefined) await flushing;
      }
    }
    await writer.finish();
  }

  async get(cid: CID, options: GetBlockOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted();
    if (unsupportedCidReason(cid) !== undefined) throw new BlockNotFoundError(cid);
    const entry = await this.kv.get(this.keys.block(cid));
    const bytes = await this.#resolve(cid, entry);
    if (bytes === undefined) throw new BlockNotFoundError(cid);
    if (options.verify) this.#verify(cid, bytes);
    return bytes;
  }

  async *getMany(
    cids: Iterable<CID> | AsyncIterable<CID>,
    options: GetBlockOptions = {},
  ): AsyncIterable<Block> {
    let group: CID[] = [];
    for await (const cid of cids) {
      if (unsupportedCidReason(cid) !== undefined) {
        // Cannot be stored, and its key may not even be a valid KV key: absent, in order.
        yield* this.#getGroup(group, options);
        throw new BlockNotFoundError(cid);
      }
      group.push(cid);
      if (group.length === KV_MAX_GET_MANY) {
        yield* this.#getGroup(group, options);
        group = [];
      }
    }
    if (group.length > 0) yield* this.#getGroup(group, options);
  }

  /** One `kv.getMany` round trip for up to 10 CIDs, plus chunk reads for chunked blocks. */
  async *#getGroup(group: CID[], options: GetBlockOptions): AsyncIterable<Block> {
    options.signal?.throwIfAborted();
    if (group.length === 0) return;
    const entries = await this.kv.getMany(group.map((cid) => this.keys.block(cid)));
    // Chunked blocks of the group are read concurrently, then yielded in order.
    const reads = entries.map((entry, i) => this.#resolve(group[i], entry));
    // A read after one that throws is never awaited: keep its rejection from going unhandled.
    for (const read of reads) read.catch(() => {});
    for (let i = 0; i < group.length; i++) {
      const cid = group[i];
      const bytes = await reads[i];
      if (bytes === undefined) throw new BlockNotFoundError(cid);
      if (options.verify) this.#verify(cid, bytes);
      yield { cid, bytes };
    }
  }

  async has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted();
    if (unsupportedCidReason(cid) !== undefined) return false;
    const { value, versionstamp } = await this.kv.get(this.keys.block(cid));
    if (versionstamp === null) return false;
    if (value instanceof Uint8Array || isChunkedHeader(value)) return true;
    throw this.#corrupt(cid, value);
  }

  /** Remove a block: its header first (atomically), then its chunks and manifest. */
  async delete(cid: CID, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (unsupportedCidReason(cid) !== undefined) return;
    const key = this.keys.block(cid);
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      const { value, versionstamp } = await this.kv.get(key);
      if (versionstamp === null) return;
      const res = await this.kv.atomic().check({ key, versionstamp }).delete(key).commit();
      if (!res.ok) continue; // rewritten meanwhile: look again
      if (isChunkedHeader(value)) await deleteWrite(this.kv, this.keys, value.id, value.chunks);
      return;
    }
    throw new Error(`block ${cid}: delete kept racing concurrent writes`);
  }

  /** Bytes of a block entry, `undefined` when absent; throws on a corrupt record. */
  async #resolve(cid: CID, entry: Deno.KvEntryMaybe<unknown>): Promise<Uint8Array | undefined> {
    const { value, versionstamp } = entry;
    if (versionstamp === null) return undefined;
    if (value instanceof Uint8Array) return value;
    if (isChunkedHeader(value)) {
      return await readChunked(this.kv, this.keys, cid, value, versionstamp);
    }
    throw this.#corrupt(cid, value);
  }

  #verify(cid: CID, bytes: Uint8Array): void {
    if (!verifyBlock(cid, bytes)) {
      throw new CorruptRecordError(`block ${cid}: stored bytes do not hash to the CID`);
    }
  }

  #corrupt(cid: CID, value: unknown): CorruptRecordError {
    return new CorruptRecordError(
      `block ${cid}: stored record is neither bytes nor a chunk header (${
        describeValue(value)
      }); ` +
        "run `filnode repo fsck`",
    );
  }
}

/** Delete the chunks and manifest of write `id`, in as few commits as the limits allow. */
export async function deleteWrite(
  kv: Deno.Kv,
  keys: KvBlockKeys,
  id: Uint8Array,
  chunks: number,
): Promise<void> {
  const all: Deno.KvKey[] = [];
  for (let i = 0; i < chunks; i++) all.push(keys.chunk(id, i));
  all.push(keys.manifest(id)); // last: while a chunk may remain, its manifest stays findable
  for (let i = 0; i < all.length; i += KV_MAX_MUTATIONS) {
    const op = kv.atomic();
    for (const key of all.slice(i, i + KV_MAX_MUTATIONS)) op.delete(key);
    await commitOrThrow(op);
  }
}

// ---------------------------------------------------------------------------------------------

const ENCODER = new TextEncoder();

let writeSequence = 0;

/**
 * A write id: 6 bytes of milliseconds, 2 of a per-process sequence, 8 random. Time-ordered, so
 * chunks are appended at the end of the KV's B-tree instead of scattered through it (random ids
 * made a 1 MiB putMany twice as slow, measured on SQLite); the random tail keeps concurrent
 * writers, across processes too, apart.
 */
function newWriteId(): Uint8Array {
  const id = new Uint8Array(WRITE_ID_BYTES);
  const view = new DataView(id.buffer);
  const ms = Date.now();
  view.setUint16(0, Math.floor(ms / 2 ** 32));
  view.setUint32(2, ms >>> 0);
  view.setUint16(6, writeSequence = (writeSequence + 1) & 0xffff);
  crypto.getRandomValues(id.subarray(8));
  return id;
}

function countZeros(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) n++;
  return n;
}

async function commitOrThrow(op: Deno.AtomicOperation): Promise<string> {
  const res = await op.commit();
  if (!res.ok) throw new Error("Deno KV commit without checks failed unexpectedly");
  return res.versionstamp;
}

/** A chunked block on its way in: its chunks may span several commits before its header. */
interface PendingChunked {
  cid: CID;
  bytes: Uint8Array;
  key: Deno.KvKey;
  id: Uint8Array;
  chunks: number;
  /** Versionstamp the block key had when we looked (`null`: absent); the header checks it. */
  observed: string | null;
  stamps: string[];
  /** Versionstamp of the commit that wrote the manifest, once committed. */
  manifestStamp?: string;
}

interface Mutation {
  key: Deno.KvKey;
  value: unknown;
  /** Chunk `index` of `write`, whose stamp is recorded after the commit. */
  write?: PendingChunked;
  index?: number;
  /** This mutation is the manifest of `write`. */
  manifest?: boolean;
}

/**
 * Packs sets into atomic commits up to Deno KV's limits. Inline blocks are plain sets; a chunked
 * block contributes its manifest and chunks, then its header (with its checks) once every chunk
 * is committed or in the commit being built.
 */
class BatchWriter {
  #mutations: Mutation[] = [];
  #headers: PendingChunked[] = [];
  #checks = 0;
  #bytes = 0;
  #keyBytes = 0;
  #chunkedCids = new Set<string>();

  constructor(
    readonly kv: Deno.Kv,
    readonly keys: KvBlockKeys,
    readonly signal?: AbortSignal,
  ) {}

  /** Add an inline block; returns a promise only when a commit had to be flushed first. */
  addInline(cid: CID, bytes: Uint8Array): Promise<void> | undefined {
    const keyBytes = this.keys.blockKeyBytes(cid);
    const size = bytes.length + 2 * keyBytes;
    const m: Mutation = { key: this.keys.block(cid), value: bytes };
    if (this.#fits(1, 0, size, keyBytes)) {
      this.#mutations.push(m);
      this.#bytes += size;
      this.#keyBytes += keyBytes;
      return undefined;
    }
    return this.#add([m]);
  }

  async addChunked(cid: CID, bytes: Uint8Array): Promise<void> {
    const key = this.keys.block(cid);
    const name = cid.toString();
    if (this.#chunkedCids.has(name)) return; // twice in one putMany: the first write suffices
    this.#chunkedCids.add(name);
    const current = await this.kv.get(key);
    if (isChunkedHeader(current.value)) return; // already stored: idempotent
    // Absent, or a corrupt record the header commit will replace (fsck reaps its chunks).
    const write: PendingChunked = {
      cid,
      bytes,
      key,
      id: newWriteId(),
      chunks: Math.ceil(bytes.length / CHUNK_BYTES),
      observed: current.versionstamp,
      stamps: [],
    };
    await this.#writeChunks(write);
  }

  async #writeChunks(write: PendingChunked): Promise<void> {
    const manifest: ChunkManifest = {
      cid: write.cid.bytes,
      size: write.bytes.length,
      chunks: write.chunks,
      created: Date.now(),
    };
    await this.#add([
      { key: this.keys.manifest(write.id), value: manifest, write, manifest: true },
      { key: this.keys.chunk(write.id, 0), value: this.#chunk(write, 0), write, index: 0 },
    ]);
    for (let i = 1; i < write.chunks; i++) {
      await this.#add([
        { key: this.keys.chunk(write.id, i), value: this.#chunk(write, i), write, index: i },
      ]);
    }
    await this.#addHeader(write);
  }

  async finish(): Promise<void> {
    if (this.#mutations.length > 0) await this.#flush();
  }

  #chunk(write: PendingChunked, index: number): Uint8Array {
    return write.bytes.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES);
  }

  /** Add `list` to one commit, flushing first when it would not fit. */
  async #add(list: Mutation[]): Promise<void> {
    let keyBytes = 0;
    let bytes = 0;
    for (const x of list) {
      keyBytes += encodedKeyBytes(x.key);
      // Bytes are stored raw; anything else (a manifest) is V8-serialized: a generous bound.
      bytes += x.value instanceof Uint8Array ? x.value.length : SERIALIZED_RECORD_BYTES;
    }
    bytes += 2 * keyBytes;
    if (!this.#fits(list.length, 0, bytes, keyBytes)) await this.#flush();
    this.#mutations.push(...list);
    this.#bytes += bytes;
    this.#keyBytes += keyBytes;
  }

  async #addHeader(write: PendingChunked): Promise<void> {
    // Checks: the block key still holds what we saw, and (once committed) the manifest is ours.
    const checkKeys = encodedKeyBytes(write.key) * 2 +
      encodedKeyBytes(this.keys.manifest(write.id));
    const bytes = 2 * checkKeys + 96 + 24 * write.chunks;
    if (!this.#fits(1, 2, bytes, checkKeys)) await this.#flush();
    this.#headers.push(write);
    this.#checks += 2;
    this.#bytes += bytes;
    this.#keyBytes += checkKeys;
  }

  #fits(mutations: number, checks: number, bytes: number, keyBytes: number): boolean {
    return this.#mutations.length + this.#headers.length + mutations <= KV_MAX_MUTATIONS &&
      this.#checks + checks <= KV_MAX_CHECKS &&
      this.#bytes + bytes <= KV_MAX_COMMIT_BYTES &&
      this.#keyBytes + keyBytes <= KV_MAX_COMMIT_KEY_BYTES;
  }

  async #flush(): Promise<void> {
    this.signal?.throwIfAborted();
    const mutations = this.#mutations;
    const headers = this.#headers;
    this.#mutations = [];
    this.#headers = [];
    this.#checks = 0;
    this.#bytes = 0;
    this.#keyBytes = 0;
    if (mutations.length === 0 && headers.length === 0) return;

    const op = this.kv.atomic();
    for (const m of mutations) op.set(m.key, m.value);
    const inThisCommit = new Set(mutations.map((m) => m.write).filter((w) => w !== undefined));
    for (const w of headers) {
      op.check({ key: w.key, versionstamp: w.observed });
      if (w.manifestStamp !== undefined) {
        op.check({ key: this.keys.manifest(w.id), versionstamp: w.manifestStamp });
      }
      op.set(w.key, this.#header(w, inThisCommit.has(w)));
    }
    const res = await op.commit();
    if (res.ok) {
      this.#recordStamps(mutations, res.versionstamp);
      return;
    }
    // A header lost a race (same CID stored meanwhile, or fsck reaped our manifest). Commit the
    // data alone, then settle each header on its own.
    const dataOnly = this.kv.atomic();
    for (const m of mutations) dataOnly.set(m.key, m.value);
    this.#recordStamps(mutations, await commitOrThrow(dataOnly));
    for (const w of headers) await this.#settleHeader(w);
  }

  #recordStamps(mutations: Mutation[], versionstamp: string): void {
    for (const m of mutations) {
      if (m.write === undefined) continue;
      if (m.manifest) m.write.manifestStamp = versionstamp;
      else m.write.stamps[m.index!] = versionstamp;
    }
  }

  #header(w: PendingChunked, sameCommit: boolean): ChunkedHeader {
    const stamps: string[] = [];
    // A chunk without a recorded stamp is in the header's own commit: `""` stands for it.
    for (let i = 0; i < w.chunks; i++) stamps.push(sameCommit ? w.stamps[i] ?? "" : w.stamps[i]);
    return { size: w.bytes.length, chunks: w.chunks, id: w.id, stamps };
  }

  /** Commit one header alone, resolving the race it lost; rewrite the block if it was reaped. */
  async #settleHeader(w: PendingChunked): Promise<void> {
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      this.signal?.throwIfAborted();
      const res = await this.kv.atomic()
        .check({ key: w.key, versionstamp: w.observed })
        .check({ key: this.keys.manifest(w.id), versionstamp: w.manifestStamp! })
        .set(w.key, this.#header(w, false))
        .commit();
      if (res.ok) return;
      const [current, manifest] = await this.kv.getMany([w.key, this.keys.manifest(w.id)]);
      if (isChunkedHeader(current.value)) {
        // Someone else stored this block: ours is a duplicate, drop it.
        await deleteWrite(this.kv, this.keys, w.id, w.chunks);
        return;
      }
      w.observed = current.versionstamp;
      if (manifest.versionstamp !== w.manifestStamp) {
        // fsck reaped our chunks: start over under a fresh write id.
        await deleteWrite(this.kv, this.keys, w.id, w.chunks);
        const again = new BatchWriter(this.kv, this.keys, this.signal);
        await again.addChunked(w.cid, w.bytes);
        await again.finish();
        return;
      }
    }
    throw new Error(`block ${w.cid}: put kept racing concurrent writes`);
  }
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
