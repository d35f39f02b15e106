/**
 * IpldStore: the node's content-addressed block store, the contract every system persists through.
 *
 * Modelled on `interface-blockstore` (ipfs/js-stores) so that `@helia/bitswap` can consume it.
 * Two backends implement it: `KvIpldStore` (Deno KV, the default, on disk or KV Connect) and
 * `MemoryIpldStore` (tests).
 */
import type { AbortOptions } from "../abort.ts";
import type { Block, CID } from "../ipld/block.ts";
import { NotFoundError, UserError } from "../errors.ts";

/** Largest block the store accepts: Filecoin's largest objects (message-heavy blocks) fit. */
export const DEFAULT_MAX_BLOCK_SIZE = 2 * 1024 * 1024;

export interface IpldStore {
  /** Store one block. Idempotent: storing the same CID twice is a no-op. */
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>;
  /** Store many blocks, batched into as few atomic commits as the backend allows. */
  putMany(blocks: Iterable<Block> | AsyncIterable<Block>, options?: AbortOptions): Promise<void>;
  /** Bytes of a block; throws `BlockNotFoundError` when absent. */
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array>;
  /** Blocks for `cids`, in order; throws `BlockNotFoundError` on the first absent one. */
  getMany(cids: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncIterable<Block>;
  has(cid: CID, options?: AbortOptions): Promise<boolean>;
  /** Remove a block; removing an absent block is a no-op. */
  delete(cid: CID, options?: AbortOptions): Promise<void>;
}

export class BlockNotFoundError extends NotFoundError {
  constructor(readonly cid: CID) {
    super(`block ${cid} not found`);
  }
}

export class BlockTooLargeError extends UserError {
  constructor(readonly cid: CID, readonly size: number, readonly max: number) {
    super(`block ${cid} is ${size} bytes, over the ${max}-byte maximum block size`);
  }
}

export class UnsupportedCidError extends UserError {
  constructor(readonly cid: CID, reason: string) {
    super(`block ${cid}: ${reason}`);
  }
}
