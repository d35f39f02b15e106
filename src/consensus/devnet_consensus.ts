/**
 * Consensus for local devnets until Expected Consensus lands: the miners named in genesis take
 * turns at will, each block weighs the same, and a block must be signed by its miner's key.
 *
 * Devnet miners are key addresses (`f1`, secp256k1): without a state tree there is no actor to
 * resolve an `f0` miner to its worker key, so the miner address *is* the key. The weight grows by
 * a fixed amount per block, so a tipset with more blocks, or a longer chain, is heavier; this
 * keeps fork choice meaningful (a longer honest fork replaces a shorter one) without power
 * tables.
 *
 * @module
 */
import { type BlockHeader, blockHeaderSigningBytes, type TipSet } from "../chain/types/mod.ts";
import { type Address, Protocol } from "../crypto/address.ts";
import { verifySignature } from "../crypto/signature.ts";
import {
  type Consensus,
  ConsensusRuleError,
  type ConsensusValidationOptions,
} from "./consensus.ts";
import { toHex } from "../hex.ts";

/** Weight each block adds: Lotus's weight is in units of 256 per block-equivalent too. */
export const DEVNET_WEIGHT_PER_BLOCK = 256n;

export class DevnetConsensus implements Consensus {
  readonly name = "devnet";
  readonly #miners: ReadonlySet<string>;

  /** `miners`: the key addresses genesis allows to mine. */
  constructor(miners: readonly Address[]) {
    for (const m of miners) {
      if (m.protocol !== Protocol.SECP256K1) {
        throw new ConsensusRuleError(`devnet miner ${m} must be an f1 (secp256k1) address`);
      }
    }
    // Compare by payload bytes, so t1.../f1... spellings of one key are one miner.
    this.#miners = new Set(miners.map((m) => toHex(m.bytes)));
  }

  weight(tipset: TipSet, parentWeight: bigint): bigint {
    return parentWeight + DEVNET_WEIGHT_PER_BLOCK * BigInt(tipset.blocks.length);
  }

  validateBlock(header: BlockHeader, _parent?: TipSet, options: ConsensusValidationOptions = {}) {
    // On a devnet the precheck is every consensus check (all need only the header), so a block
    // prechecked on its way in from gossip has its signature verified once, not twice.
    if (options.prechecked) return Promise.resolve();
    try {
      this.#check(header);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** On a devnet every consensus check needs only the header: the same checks. */
  precheckGossipBlock(header: BlockHeader): Promise<void> {
    return this.validateBlock(header);
  }

  #check(header: BlockHeader): void {
    if (!this.#miners.has(toHex(header.miner.bytes))) {
      throw new ConsensusRuleError(`miner ${header.miner} is not a miner of this devnet`);
    }
    if (header.electionProof === null || header.electionProof.winCount < 1) {
      throw new ConsensusRuleError("block has no winning election proof");
    }
    if (header.ticket === null) throw new ConsensusRuleError("block has no ticket");
    if (header.blockSig === null) throw new ConsensusRuleError("block is not signed");
    let valid: boolean;
    try {
      valid = verifySignature(header.blockSig, blockHeaderSigningBytes(header), header.miner);
    } catch (err) {
      throw new ConsensusRuleError(`block signature: ${(err as Error).message}`);
    }
    if (!valid) throw new ConsensusRuleError(`block signature is not ${header.miner}'s`);
  }
}
