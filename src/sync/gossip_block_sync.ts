/**
 * The gossip-block fast path: a gossiped block on a tipset we accepted (typically our head) is
 * taken without chain exchange: its messages come by CID (store, then bitswap), it is validated
 * on that parent, stored, and the head moves when the chain got heavier.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import { type BlockMsg, TipSet } from "../chain/types/mod.ts";
import type { SyncContext } from "./sync_context.ts";
import type { SyncTarget } from "./sync_deps.ts";
import { validateTipSet } from "./tipset_validation.ts";

/**
 * Takes `block` (from `target`) when its parent tipset is accepted. Returns false (the caller
 * syncs by chain exchange) when its parent is not accepted or its messages cannot be had.
 * @throws InvalidChainError when the block is invalid; SyncStoreError when the store fails.
 */
export async function acceptGossipBlock(
  ctx: SyncContext,
  target: SyncTarget,
  block: BlockMsg,
  options: AbortOptions,
): Promise<boolean> {
  const { store, fetcher, consensus } = ctx;
  if (!fetcher.getMessagesByCid) return false;
  const parent = await store.getTipSet(block.header.parents, options);
  const parentWeight = parent && await store.acceptedWeight(parent.key, options);
  if (!parent || parentWeight === undefined) return false;
  let messages: BlockMessageLists;
  try {
    messages = await fetcher.getMessagesByCid(block.blsMessages, block.secpkMessages, options);
  } catch (err) {
    if (options.signal?.aborted) throw err;
    ctx.log?.(
      `sync: messages of gossip block at ${block.header.height} not fetched by CID ` +
        `(${(err as Error).message}); syncing by chain exchange`,
    );
    return false;
  }
  const tipset = TipSet.fromBlocks([block.header]);
  ctx.setStatus({ ...ctx.status(), phase: "messages", height: parent.height });
  // The gossip validator ran the consensus precheck on this header before handing it here (its
  // signature above all): validation does not repeat it. A signature is checked once on its way in.
  await validateTipSet(ctx, tipset, [messages], parent, parentWeight, target.peerId, {
    ...options,
    prechecked: target.prechecked ? [block.header] : undefined,
  });
  const weight = consensus.weight(tipset, parentWeight);
  await store.putTipSets([{ tipset, messages: [messages] }], options);
  if (weight > store.weight) await store.setHead(tipset, weight, options);
  ctx.stats.validated = 1;
  ctx.setStatus({
    ...ctx.status(),
    height: tipset.height,
    phase: "complete",
    endedAt: ctx.clock.now(),
  });
  ctx.log?.(
    `sync: took gossip block ${tipset.cids[0]} at height ${tipset.height} ` +
      `(${block.blsMessages.length + block.secpkMessages.length} messages by CID)`,
  );
  return true;
}
