/**
 * TipSet, Lotus `types.TipSet`: the blocks mined at one epoch on the same parents. Built only
 * through `TipSet.fromBlocks`, which checks what Lotus's `NewTipSet` checks and puts the blocks
 * in Lotus's canonical order: by blake2b-256 of the ticket's VRF proof, ties broken by the
 * block CID's bytes. The key lists the block CIDs in that order.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import { compareBytes } from "./_cbor.ts";
import { type BlockHeader, blockHeaderCid } from "./block_header.ts";
import { InvalidTipSetError } from "./errors.ts";
import { ticketDigest } from "./ticket.ts";
import { TipSetKey } from "./tipset_key.ts";

/** A validated, canonically ordered set of sibling blocks. */
export class TipSet {
  /** The blocks, in canonical order (the first holds the smallest ticket). */
  readonly blocks: readonly BlockHeader[];
  /** The blocks' CIDs, in the same order. */
  readonly cids: readonly CID[];
  /** The tipset's key (`cids` as a TipSetKey). */
  readonly key: TipSetKey;
  /** The epoch all blocks share. */
  readonly height: number;

  private constructor(blocks: readonly BlockHeader[], cids: readonly CID[]) {
    this.blocks = blocks;
    this.cids = cids;
    this.key = TipSetKey.of(cids);
    this.height = blocks[0].height;
  }

  /**
   * Form a tipset from `headers` in any order. Throws InvalidTipSetError when there are none,
   * when heights or parents differ (parents compared in order, as Lotus), when a block appears
   * twice, or when one of several blocks has no ticket to order it by.
   */
  static fromBlocks(headers: Iterable<BlockHeader>): TipSet {
    const entries = [...headers].map((header) => ({
      header,
      cid: blockHeaderCid(header),
      digest: header.ticket && ticketDigest(header.ticket),
    }));
    if (entries.length === 0) throw new InvalidTipSetError("a tipset needs at least one block");
    const first = entries[0].header;
    for (const { header } of entries.slice(1)) {
      if (header.height !== first.height) {
        throw new InvalidTipSetError(
          `blocks at different heights (${first.height} and ${header.height})`,
        );
      }
      if (!sameCids(header.parents, first.parents)) {
        throw new InvalidTipSetError("blocks with different parents");
      }
    }
    if (entries.length > 1 && entries.some((e) => e.digest === null)) {
      throw new InvalidTipSetError("a block without a ticket cannot be ordered in a tipset");
    }
    entries.sort((a, b) =>
      compareBytes(a.digest!, b.digest!) || compareBytes(a.cid.bytes, b.cid.bytes)
    );
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].cid.equals(entries[i - 1].cid)) {
        throw new InvalidTipSetError(`block ${entries[i].cid} appears twice`);
      }
    }
    return new TipSet(
      Object.freeze(entries.map((e) => e.header)),
      Object.freeze(entries.map((e) => e.cid)),
    );
  }

  /** Key of the parent tipset (every block's `parents`). */
  get parents(): TipSetKey {
    return TipSetKey.of(this.blocks[0].parents);
  }

  /** Weight of the parent tipset, as every block states it. */
  get parentWeight(): bigint {
    return this.blocks[0].parentWeight;
  }

  /** State root after the parent tipset. */
  get parentStateRoot(): CID {
    return this.blocks[0].parentStateRoot;
  }

  /** The block with the smallest ticket, whose ticket seeds the next epoch (Lotus `MinTicketBlock`). */
  get minTicketBlock(): BlockHeader {
    return this.blocks[0];
  }

  /** Same blocks (by CID, in order). */
  equals(other: TipSet): boolean {
    return this.key.equals(other.key);
  }
}

function sameCids(a: readonly CID[], b: readonly CID[]): boolean {
  return a.length === b.length && a.every((cid, i) => cid.equals(b[i]));
}
