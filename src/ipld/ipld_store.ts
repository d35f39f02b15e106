/**
 * IpldStore: the node's content-addressed block store, the contract every system persists through.
 *
 * Modelled on `interface-blockstore` (ipfs/js-stores) so that `@helia/bitswap` can consume it.
 * Two backends implement it: `KvIpldStore` (Deno KV, the default, on disk or KV Connect) and
 * `MemoryIpldStore` (tests).
 */
import type { AbortOptions } from "../abort.ts";
import { type Block, type CID, SUPPORTED_CODECS, SUPPORTED_HASHES } from "./block.ts";
import { NotFoundError, UserError } from "../errors.ts";

/** Largest block the store accepts: Filecoin's largest objects (message-heavy blocks) fit. */
export const DEFAULT_MAX_BLOCK_SIZE = 2 * 1024 * 1024;

export interface IpldStore {
  /** Store one block. Idempotent: storing the same CID twice is a no-op. */
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>;
  /** Store many blocks, batched into as few atomic commits as the backend allows. */
  putMany(blocks: Iterable<Block> | AsyncIterable<Block>, options?: AbortOptions): Promise<void>;
  /** Bytes of a block; throws `BlockNotFoundError` when absent. */
  get(cid: CID, options?: GetBlockOptions): Promise<Uint8Array>;
  /** Blocks for `cids`, in order; throws `BlockNotFoundError` on the first absent one. */
  getMany(
    cids: Iterable<CID> | AsyncIterable<CID>,
    options?: GetBlockOptions,
  ): AsyncIterable<Block>;
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

/** Options of `get()`: `verify` rehashes the bytes and throws `CorruptRecordError` on mismatch. */
export interface GetBlockOptions extends AbortOptions {
  verify?: boolean;
}

/**
 * Longest CID (in bytes) either backend accepts: CIDv1 varints plus a 32-byte digest are about
 * 36 bytes; the margin keeps a hostile CID from ever reaching a 2 KiB Deno KV key.
 */
const MAX_CID_BYTES = 64;
/** Digest length of both supported multihashes (blake2b-256 and sha2-256). */
const DIGEST_BYTES = 32;

/** Why `cid` cannot name a stored block, or `undefined` when it can. */
export function unsupportedCidReason(cid: CID): string | undefined {
  if (cid.version !== 1) return `CIDv${cid.version} is not supported, only CIDv1`;
  if (!SUPPORTED_CODECS.has(cid.code)) {
    return `codec 0x${cid.code.toString(16)} is not supported (dag-cbor or raw only)`;
  }
  const mh = cid.multihash;
  if (!SUPPORTED_HASHES.has(mh.code)) {
    return `multihash 0x${mh.code.toString(16)} is not supported (blake2b-256 or sha2-256 only)`;
  }
  if (mh.digest.length !== DIGEST_BYTES) {
    return `digest is ${mh.digest.length} bytes, not ${DIGEST_BYTES}`;
  }
  if (cid.bytes.length > MAX_CID_BYTES) return `CID is longer than ${MAX_CID_BYTES} bytes`;
  return undefined;
}

/**
 * Throw unless `bytes` may be stored under `cid`: a supported codec and multihash, and at most
 * `maxBlockSize` bytes. Both backends call it first so that they reject exactly the same blocks.
 * It does not hash `bytes`: callers name blocks by hashing them, and rehashing every put would
 * cost more than the KV write of a small block.
 */
export function assertStorableBlock(cid: CID, bytes: Uint8Array, maxBlockSize: number): void {
  const reason = unsupportedCidReason(cid);
  if (reason !== undefined) throw new UnsupportedCidError(cid, reason);
  if (bytes.length > maxBlockSize) throw new BlockTooLargeError(cid, bytes.length, maxBlockSize);
}
