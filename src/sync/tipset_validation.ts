/**
 * Validation of one tipset on its (already valid) parent, shared by range sync and the
 * gossip-block path: a block that fails goes into the bad-block cache and its peer is blamed.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import type { BlockHeader, TipSet } from "../chain/types/mod.ts";
import { BlockFromFutureError, validateBlock } from "../consensus/block_validator.ts";
import type { SyncContext } from "./sync_context.ts";
import { InvalidChainError } from "./sync_errors.ts";

/** A block without messages. */
export const NO_MESSAGES: BlockMessageLists = { bls: [], secpk: [] };

/**
 * Validates every block of `tipset` on `parent`. A block from the future is not bad (only
 * early): its error passes through unmarked. @throws InvalidChainError for an invalid block.
 */
export async function validateTipSet(
  ctx: SyncContext,
  tipset: TipSet,
  messages: readonly BlockMessageLists[],
  parent: TipSet,
  parentWeight: bigint,
  peerId: string,
  options: AbortOptions & {
    /** The blocks whose consensus precheck passed on their way in (gossip): not redone. */
    prechecked?: readonly BlockHeader[];
  },
): Promise<void> {
  const { clock, consensus, blockDelay } = ctx;
  for (let j = 0; j < tipset.blocks.length; j++) {
    try {
      await validateBlock(
        tipset.blocks[j],
        messages[j] ?? NO_MESSAGES,
        { parent, parentWeight, blockDelay, clock, consensus },
        { signal: options.signal, prechecked: options.prechecked?.includes(tipset.blocks[j]) },
      );
    } catch (err) {
      if (err instanceof BlockFromFutureError || options.signal?.aborted) throw err;
      const reason = (err as Error).message;
      ctx.bad.add(tipset.cids[j], reason);
      ctx.onBadPeer?.(peerId, `invalid block ${tipset.cids[j]}: ${reason}`);
      throw new InvalidChainError(`invalid block ${tipset.cids[j]}: ${reason}`);
    }
  }
}
