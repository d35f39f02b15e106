/**
 * Blocks found invalid, with the reason, as Lotus's `BadBlockCache`: gossip validators ask it
 * before doing any work, and the syncer refuses a target whose chain contains one. Bounded: the
 * oldest verdict is forgotten first (a forgotten bad block is only validated, and rejected,
 * again).
 *
 * @module
 */
import type { CID } from "multiformats/cid";

/** Bad blocks remembered at once by default (Lotus keeps 1 << 15). */
export const DEFAULT_BAD_BLOCK_CACHE_SIZE = 16_384;

/** Block CID -> why it is bad, bounded, oldest forgotten first. */
export class BadBlockCache {
  readonly #reasons = new Map<string, string>();
  readonly #capacity: number;

  constructor(capacity: number = DEFAULT_BAD_BLOCK_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`bad block cache capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Remembers `cid` as bad. A block marked again keeps its first reason but counts as new. */
  add(cid: CID, reason: string): void {
    const key = cid.toString();
    const first = this.#reasons.get(key) ?? reason;
    this.#reasons.delete(key);
    this.#reasons.set(key, first);
    if (this.#reasons.size > this.#capacity) {
      this.#reasons.delete(this.#reasons.keys().next().value!);
    }
  }

  has(cid: CID): boolean {
    return this.#reasons.has(cid.toString());
  }

  /** Why `cid` is bad, or undefined when it is not known bad. */
  reason(cid: CID): string | undefined {
    return this.#reasons.get(cid.toString());
  }

  /** The first of `cids` known bad. */
  find(cids: readonly CID[]): CID | undefined {
    return cids.find((c) => this.#reasons.has(c.toString()));
  }

  get size(): number {
    return this.#reasons.size;
  }
}
