/**
 * `MemoryIpldStore`: the IpldStore contract in a `Map`, for tests and tools that need no disk.
 * It applies the same CID and size checks as `KvIpldStore` and copies bytes in and out, so a
 * caller mutating a buffer after `put()` or after `get()` cannot change what is stored.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError } from "../errors.ts";
import { type Block, type CID, verifyBlock } from "./block.ts";
import {
  assertStorableBlock,
  BlockNotFoundError,
  DEFAULT_MAX_BLOCK_SIZE,
  type GetBlockOptions,
  type IpldStore,
  unsupportedCidReason,
} from "./ipld_store.ts";

export interface MemoryIpldStoreOptions {
  /** Largest block accepted, in bytes; defaults to `DEFAULT_MAX_BLOCK_SIZE` (2 MiB). */
  maxBlockSize?: number;
}

/**
 * Blocks in memory.
 *
 * @example
 * ```ts
 * import { MemoryIpldStore } from "./memory_ipld_store.ts";
 * import { encodeRaw } from "./block.ts";
 * const store = new MemoryIpldStore();
 * const block = encodeRaw(new Uint8Array([1, 2, 3]));
 * await store.put(block.cid, block.bytes);
 * console.assert(await store.has(block.cid));
 * ```
 */
export class MemoryIpldStore implements IpldStore {
  readonly maxBlockSize: number;
  /** Keyed by the CID's string form (multiformats caches it). */
  readonly #blocks = new Map<string, Uint8Array>();

  constructor(options: MemoryIpldStoreOptions = {}) {
    this.maxBlockSize = options.maxBlockSize ?? DEFAULT_MAX_BLOCK_SIZE;
    if (!Number.isSafeInteger(this.maxBlockSize) || this.maxBlockSize < 0) {
      throw new RangeError(`maxBlockSize must be a non-negative integer, got ${this.maxBlockSize}`);
    }
  }

  /** Number of stored blocks. */
  get size(): number {
    return this.#blocks.size;
  }

  put(cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    try {
      assertStorableBlock(cid, bytes, this.maxBlockSize);
      options.signal?.throwIfAborted();
      const key = cid.toString();
      if (!this.#blocks.has(key)) this.#blocks.set(key, bytes.slice());
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async putMany(
    blocks: Iterable<Block> | AsyncIterable<Block>,
    options: AbortOptions = {},
  ): Promise<void> {
    for await (const { cid, bytes } of blocks) await this.put(cid, bytes, options);
  }

  get(cid: CID, options: GetBlockOptions = {}): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.#get(cid, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async *getMany(
    cids: Iterable<CID> | AsyncIterable<CID>,
    options: GetBlockOptions = {},
  ): AsyncIterable<Block> {
    for await (const cid of cids) yield { cid, bytes: this.#get(cid, options) };
  }

  has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return Promise.resolve(
      unsupportedCidReason(cid) === undefined && this.#blocks.has(cid.toString()),
    );
  }

  delete(cid: CID, options: AbortOptions = {}): Promise<void> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    this.#blocks.delete(cid.toString());
    return Promise.resolve();
  }

  /** Nothing to release; present so both backends close the same way. */
  close(): void {}

  #get(cid: CID, options: GetBlockOptions): Uint8Array {
    options.signal?.throwIfAborted();
    const bytes = unsupportedCidReason(cid) === undefined
      ? this.#blocks.get(cid.toString())
      : undefined;
    if (bytes === undefined) throw new BlockNotFoundError(cid);
    if (options.verify && !verifyBlock(cid, bytes)) {
      throw new CorruptRecordError(`block ${cid}: stored bytes do not hash to the CID`);
    }
    return bytes.slice();
  }
}
