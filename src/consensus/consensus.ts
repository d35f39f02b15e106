/**
 * The seam between chain validation and consensus rules. Chain sync and the chain store know how
 * blocks link, how they are encoded and what a valid message root is; *who* may produce a block
 * and how much a chain weighs is consensus's business (Expected Consensus on mainnet, filled in by
 * the consensus issue). Validation calls through this interface only.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import type { BlockHeader, TipSet } from "../chain/types/mod.ts";
import { UserError } from "../errors.ts";

/** Options of {@link Consensus.validateBlock}. */
export interface ConsensusValidationOptions extends AbortOptions {
  /** `precheckGossipBlock` passed for this header on its way in: skip what it checked. */
  readonly prechecked?: boolean;
}

/** A block breaks a consensus rule: the block is bad for good, and its sender is penalised. */
export class ConsensusRuleError extends UserError {}

export interface Consensus {
  /** Name for logs and `SyncState`, e.g. `"devnet"`. */
  readonly name: string;
  /**
   * The weight of `tipset` on top of a parent of weight `parentWeight`: fork choice picks the
   * heaviest chain, and every child header commits to its parent's weight.
   */
  weight(tipset: TipSet, parentWeight: bigint): bigint;
  /**
   * Consensus checks of one block on top of `parent`: the miner may mine here, its election
   * and ticket hold, and the block signature is its worker key's. Throws ConsensusRuleError.
   * With `prechecked`, {@link precheckGossipBlock} already passed for this very header (the
   * gossip path): the checks it made, the block signature above all, are not made again.
   */
  validateBlock(
    header: BlockHeader,
    parent: TipSet,
    options?: ConsensusValidationOptions,
  ): Promise<void>;
  /**
   * The checks a gossiped block can pass before its parents are fetched (Lotus checks the miner
   * and the block signature against the current head's state there). Throws ConsensusRuleError.
   */
  precheckGossipBlock(header: BlockHeader, options?: AbortOptions): Promise<void>;
}
