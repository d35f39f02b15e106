/**
 * Full validation of a block on top of a known, valid parent tipset, in the order Lotus's
 * `ValidateBlock` runs its cheap checks first: linkage (parents, height, timestamp, parent
 * weight), the clock, the message root, message signatures, then the consensus rules (miner,
 * election, block signature) through the {@link Consensus} interface.
 *
 * Two outcomes are kept apart: {@link InvalidBlockError} means the block is bad for good (cache
 * it as bad, penalise the sender); {@link BlockFromFutureError} means only "not yet" (a block
 * stamped beyond the clock's drift bound may become valid; it is neither stored nor condemned).
 *
 * State-dependent checks (nonces, balances, gas, the parent state root and receipts) belong to
 * the state issue; messages from `f0` senders are signature-checked there, once their key can be
 * resolved.
 *
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import type { Consensus, ConsensusValidationOptions } from "./consensus.ts";
import { UserError } from "../errors.ts";
import { BLOCK_MESSAGE_LIMIT, type BlockMessageLists } from "../chain/block_messages.ts";
import { Protocol } from "../crypto/address.ts";
import { verifySignature } from "../crypto/signature.ts";
import {
  type BlockHeader,
  computeMsgMeta,
  messageCid,
  signedMessageCid,
  type TipSet,
} from "../chain/types/mod.ts";

/** The block breaks a rule: it is bad whatever happens later. */
export class InvalidBlockError extends UserError {}

/** The block's timestamp lies beyond the clock's drift bound: not valid *yet*. */
export class BlockFromFutureError extends UserError {}

/** What validation needs besides the block: its parent and the rules. */
export interface BlockValidationContext {
  /** The parent tipset, already valid. */
  readonly parent: TipSet;
  /** The parent tipset's weight. */
  readonly parentWeight: bigint;
  /** Seconds per epoch, from genesis. */
  readonly blockDelay: number;
  readonly clock: Clock;
  readonly consensus: Consensus;
}

/**
 * Validates `header` with its `messages` on top of `context.parent`. Throws InvalidBlockError
 * (bad for good), BlockFromFutureError (retry later) or ConsensusRuleError (bad for good).
 */
export async function validateBlock(
  header: BlockHeader,
  messages: BlockMessageLists,
  context: BlockValidationContext,
  options: ConsensusValidationOptions = {},
): Promise<void> {
  checkLinkage(header, context);
  if (context.clock.isTooFarInFuture(header.timestamp)) {
    throw new BlockFromFutureError(
      `block at height ${header.height} is stamped ${header.timestamp}, beyond the clock's drift`,
    );
  }
  checkMessages(header, messages);
  options.signal?.throwIfAborted();
  await context.consensus.validateBlock(header, context.parent, options);
}

/** Parents, height, timestamp and parent weight against the parent tipset. */
export function checkLinkage(header: BlockHeader, context: BlockValidationContext): void {
  const { parent } = context;
  if (!sameCids(header.parents, parent.cids)) {
    throw new InvalidBlockError(`block at height ${header.height} does not name its parent tipset`);
  }
  if (header.height <= parent.height) {
    throw new InvalidBlockError(
      `block height ${header.height} is not above its parent's ${parent.height}`,
    );
  }
  // Lotus: a block's timestamp is exactly its parent's plus one block delay per epoch, null
  // rounds included, so a miner cannot shift its block in time.
  const expected = minTimestamp(parent) + context.blockDelay * (header.height - parent.height);
  if (header.timestamp !== expected) {
    throw new InvalidBlockError(
      `block at height ${header.height} has timestamp ${header.timestamp}, expected ${expected}`,
    );
  }
  if (header.parentWeight !== context.parentWeight) {
    throw new InvalidBlockError(
      `block claims parent weight ${header.parentWeight}, the parent weighs ${context.parentWeight}`,
    );
  }
}

/** The message root commits to exactly `messages`, within the limit, and secp signatures hold. */
export function checkMessages(header: BlockHeader, messages: BlockMessageLists): void {
  const count = messages.bls.length + messages.secpk.length;
  if (count > BLOCK_MESSAGE_LIMIT) {
    throw new InvalidBlockError(`block has ${count} messages; the limit is ${BLOCK_MESSAGE_LIMIT}`);
  }
  const { cid } = computeMsgMeta(
    messages.bls.map((m) => messageCid(m)),
    messages.secpk.map((m) => signedMessageCid(m)),
  );
  if (!cid.equals(header.messages)) {
    throw new InvalidBlockError(
      `block at height ${header.height}: messages do not match its message root`,
    );
  }
  for (const signed of messages.secpk) {
    // A key-address sender is checked here; an f0 sender needs the state tree to name its key.
    if (signed.message.from.protocol !== Protocol.SECP256K1) continue;
    const bytes = messageCid(signed.message).bytes;
    let valid = false;
    try {
      valid = verifySignature(signed.signature, bytes, signed.message.from);
    } catch {
      valid = false;
    }
    if (!valid) {
      throw new InvalidBlockError(
        `message ${signedMessageCid(signed)} is not signed by its sender ${signed.message.from}`,
      );
    }
  }
}

/** The earliest timestamp among a tipset's blocks (they agree on valid chains). */
export function minTimestamp(tipset: TipSet): number {
  return Math.min(...tipset.blocks.map((b) => b.timestamp));
}

function sameCids(
  a: readonly { equals(o: unknown): boolean }[],
  b: readonly unknown[],
): boolean {
  return a.length === b.length && a.every((cid, i) => cid.equals(b[i]));
}
