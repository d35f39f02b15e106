/**
 * `KvIpldStore`: the IpldStore on Deno KV, on a local SQLite file or a KV Connect URL.
 *
 * The key layout (blocks inline up to 64 KiB, larger ones as a header plus chunks and a manifest)
 * is `kv_block_layout.ts`; writes go through `kv_batch_writer.ts`, which commits a chunked
 * block's chunks before the header that makes it visible. A reader sees either no block or the
 * whole block, never part of one.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError } from "../errors.ts";
import { type Block, type CID, verifyBlock } from "../ipld/block.ts";
import {
  assertStorableBlock,
  BlockNotFoundError,
  DEFAULT_MAX_BLOCK_SIZE,
  type GetBlockOptions,
  type IpldStore,
  unsupportedCidReason,
} from "../ipld/ipld_store.ts";
import { BatchWriter, deleteWrite, PUT_ATTEMPTS } from "./kv_batch_writer.ts";
import {
  type ChunkedHeader,
  chunkLength,
  INLINE_MAX_BYTES,
  isChunkedHeader,
  KV_MAX_GET_MANY,
  KvBlockKeys,
} from "./kv_block_layout.ts";

// The store's module stays its public surface: the layout and the writer's delete are
// re-exported for `fsckIpldStore`, tests and tools.
export {
  CHUNK_BYTES,
  type ChunkedHeader,
  chunkLength,
  type ChunkManifest,
  cidOfBlockKey,
  encodedKeyBytes,
  INLINE_MAX_BYTES,
  isChunkedHeader,
  isChunkManifest,
  KV_MAX_VALUE_BYTES,
  KvBlockKeys,
} from "./kv_block_layout.ts";
export { deleteWrite } from "./kv_batch_writer.ts";

export interface KvIpldStoreOptions {
  /** Largest block accepted, in bytes; defaults to `DEFAULT_MAX_BLOCK_SIZE` (2 MiB). */
  maxBlockSize?: number;
  /** Key space of the store inside the Kv; defaults to `["blocks"]`. */
  keyPrefix?: Deno.KvKey;
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
