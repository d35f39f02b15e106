/**
 * A block's messages by CID, for a gossip block that extends our head: from the IpldStore when
 * we have them, else over bitswap from connected peers (the spec's "Bitswap fetches single blocks
 * and messages by CID where that is cheaper"; Lotus `FetchMessagesByCids`). One round trip per
 * missing message, all at once, instead of a chain exchange request for a tipset we already know
 * the header of.
 *
 * Bitswap checks every block against its CID (blake2b-256 is registered in `libp2p_host.ts`), so
 * what comes back is exactly the message the CID names; a peer cannot substitute another.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import {
  deserializeMessage,
  deserializeSignedMessage,
  InvalidChainDataError,
} from "../chain/types/mod.ts";

/** How long a gossip block's messages may take to arrive before the syncer falls back. */
export const DEFAULT_MESSAGES_BY_CID_TIMEOUT_MS = 5_000;

/** Where message bytes come from: our store, then bitswap. */
export interface MessageSource {
  readonly ipld: Pick<IpldStore, "has" | "get">;
  /** Bitswap's `want`: the block's bytes, checked against its CID. */
  want(cid: CID, options: AbortOptions): Promise<Uint8Array>;
}

/** A message could not be had in time, or its bytes are not a message. */
export class MessagesUnavailableError extends UserError {}

/**
 * The messages `bls` and `secpk` name (unsigned BLS messages, signed secp256k1 messages), in
 * order. Throws MessagesUnavailableError when one is not in the store and not fetched within
 * `timeoutMs`, or does not decode as its kind of message; the signal's reason when it aborts.
 */
export async function fetchBlockMessages(
  source: MessageSource,
  bls: readonly CID[],
  secpk: readonly CID[],
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<BlockMessageLists> {
  const deadline = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_MESSAGES_BY_CID_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const bytesOf = async (cid: CID): Promise<Uint8Array> => {
    if (await source.ipld.has(cid, { signal })) return await source.ipld.get(cid, { signal });
    return await source.want(cid, { signal });
  };
  try {
    const [blsBytes, secpkBytes] = await Promise.all([
      Promise.all(bls.map(bytesOf)),
      Promise.all(secpk.map(bytesOf)),
    ]);
    return {
      bls: blsBytes.map((b) => deserializeMessage(b)),
      secpk: secpkBytes.map((b) => deserializeSignedMessage(b)),
    };
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (deadline.aborted) {
      throw new MessagesUnavailableError(
        `the block's ${bls.length + secpk.length} messages did not all arrive within ` +
          `${options.timeoutMs ?? DEFAULT_MESSAGES_BY_CID_TIMEOUT_MS} ms`,
      );
    }
    if (err instanceof InvalidChainDataError) {
      throw new MessagesUnavailableError(`a fetched message does not decode: ${err.message}`);
    }
    throw err;
  }
}
