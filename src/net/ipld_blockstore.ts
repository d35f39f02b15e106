/**
 * The IpldStore seen as an `interface-blockstore` Blockstore, which `@helia/bitswap` serves from
 * and writes fetched blocks into. Bitswap verifies a block's hash before `put`.
 */
import type { Blockstore, Pair } from "interface-blockstore";
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";

export function ipldBlockstore(store: IpldStore): Blockstore {
  return {
    async put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> {
      await store.put(cid, bytes, options);
      return cid;
    },
    async *putMany(source: AsyncIterable<Pair> | Iterable<Pair>, options?: AbortOptions) {
      for await (const { cid, block } of source) {
        await store.put(cid, block, options);
        yield cid;
      }
    },
    get: (cid: CID, options?: AbortOptions) => store.get(cid, options),
    async *getMany(source: AsyncIterable<CID> | Iterable<CID>, options?: AbortOptions) {
      for await (const cid of source) yield { cid, block: await store.get(cid, options) };
    },
    has: (cid: CID, options?: AbortOptions) => store.has(cid, options),
    delete: (cid: CID, options?: AbortOptions) => store.delete(cid, options),
    async *deleteMany(source: AsyncIterable<CID> | Iterable<CID>, options?: AbortOptions) {
      for await (const cid of source) {
        await store.delete(cid, options);
        yield cid;
      }
    },
    // deno-lint-ignore require-yield
    async *getAll(): AsyncGenerator<Pair> {
      // Listing every block is not something the network should ever ask of a node's store.
      throw new Error("listing all blocks is not supported");
    },
  };
}
