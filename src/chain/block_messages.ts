/**
 * A block's messages as lists, and the cap on how many one block may carry: shared by the chain
 * store (reading a block's messages back), validation, sync and the chain exchange codec.
 *
 * @module
 */
import type { Message, SignedMessage } from "./types/mod.ts";

/** Most messages a block may carry (Lotus `build.BlockMessageLimit`). */
export const BLOCK_MESSAGE_LIMIT = 10_000;

/** A block's messages, in block order. */
export interface BlockMessageLists {
  readonly bls: readonly Message[];
  readonly secpk: readonly SignedMessage[];
}
