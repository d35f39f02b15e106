/**
 * Chain exchange requests and answers judged: what a server must refuse, whether an answer
 * answers what was asked (linked tipsets, the right length, message roots that match the headers),
 * and the compacted message form expanded and built. The wire shapes and codecs are in
 * `chain_exchange_message.ts`; this is what the client and server decide about them.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import {
  computeMsgMeta,
  InvalidChainDataError,
  messageCid,
  signedMessageCid,
  TipSet,
} from "../chain/types/mod.ts";
import {
  type BlockMessages,
  type BSTipSet,
  type CompactedMessages,
  ExchangeOptions,
  type ExchangeRequest,
  type ExchangeResponse,
  ExchangeStatus,
  ExchangeStatusError,
  InvalidExchangeMessageError,
  InvalidExchangeResponseError,
  MAX_REQUEST_LENGTH,
} from "./chain_exchange_message.ts";

/**
 * Why a server must refuse `request` with BadRequest (Lotus server `validateRequest`), or
 * undefined when it can be served.
 */
export function requestProblem(request: ExchangeRequest): string | undefined {
  if ((request.options & (ExchangeOptions.Headers | ExchangeOptions.Messages)) === 0) {
    return "no options set";
  }
  if (request.length > MAX_REQUEST_LENGTH) {
    return `request length over maximum allowed (${MAX_REQUEST_LENGTH})`;
  }
  if (request.length === 0) return "invalid request length of zero";
  if (request.head.length === 0) return "no cids in request";
  return undefined;
}

/** What a response that answers its request holds, index-aligned from the head backwards. */
export interface ValidatedResponse {
  /** Ok or Partial. */
  readonly status: number;
  /** The tipsets, when headers were requested (empty otherwise). */
  readonly tipsets: TipSet[];
  /** Per tipset, per block, its messages, when messages were requested. */
  readonly messages?: BlockMessages[][];
}

/** Options of `validateResponse`. */
export interface ValidateOptions {
  /**
   * For a messages-only request: the tipsets the messages belong to (from the head backwards),
   * so the include lists can be checked against their blocks (Lotus `GetChainMessages`).
   */
  readonly tipsets?: readonly TipSet[];
}

/**
 * Checks that `response` answers `request` (Lotus client `processResponse` and
 * `validateCompressedIndices`): an Ok or Partial status, 1 to `length` tipsets (fewer only when
 * Partial), every BSTipSet a valid tipset, the first one keyed by the requested head, each the
 * child of the next (its parents are the next one's key, its height greater), and, for messages,
 * one includes list per block with every index in range.
 *
 * Throws ExchangeStatusError for an error status, InvalidExchangeResponseError otherwise.
 */
export function validateResponse(
  request: ExchangeRequest,
  response: ExchangeResponse,
  options: ValidateOptions = {},
): ValidatedResponse {
  const { status, chain } = response;
  if (status !== ExchangeStatus.Ok && status !== ExchangeStatus.Partial) {
    throw new ExchangeStatusError(status, response.errorMessage);
  }
  const wantHeaders = (request.options & ExchangeOptions.Headers) !== 0;
  const wantMessages = (request.options & ExchangeOptions.Messages) !== 0;
  if (!wantHeaders && !wantMessages) invalid("nothing was requested");
  if (chain.length === 0) invalid("no chain in a successful response");
  if (chain.length > request.length) {
    invalid(`longer response (${chain.length}) than requested (${request.length})`);
  }
  if (chain.length < request.length && status !== ExchangeStatus.Partial) {
    invalid(`${chain.length} of ${request.length} tipsets without status Partial`);
  }

  const tipsets: TipSet[] = [];
  if (wantHeaders) {
    for (let i = 0; i < chain.length; i++) {
      try {
        tipsets.push(TipSet.fromBlocks(chain[i].blocks));
      } catch (err) {
        if (!(err instanceof InvalidChainDataError)) throw err;
        invalid(`invalid tipset at head - ${i}: ${err.message}`, err);
      }
    }
    if (!sameCids(tipsets[0].cids, request.head)) {
      invalid("returned chain head does not match the request");
    }
    for (let i = 0; i + 1 < tipsets.length; i++) {
      const child = tipsets[i];
      const parent = tipsets[i + 1];
      if (!child.parents.equals(parent.key) || child.height <= parent.height) {
        invalid(`tipsets are not connected at head - ${i} / head - ${i + 1}`);
      }
    }
  }

  if (!wantMessages) return { status, tipsets };
  const blocksOf = wantHeaders ? tipsets : options.tipsets;
  if (blocksOf === undefined || blocksOf.length < chain.length) {
    invalid(
      `not enough tipsets to check messages against (${blocksOf?.length ?? 0} of ${chain.length})`,
    );
  }
  const messages: BlockMessages[][] = [];
  for (let i = 0; i < chain.length; i++) {
    const compacted = chain[i].messages;
    if (compacted === null) invalid(`no messages for the tipset at head - ${i}`);
    try {
      messages.push(expandMessages({ blocks: blocksOf[i].blocks, messages: compacted }));
    } catch (err) {
      if (!(err instanceof InvalidExchangeMessageError)) throw err;
      invalid(`tipset at head - ${i}: ${err.message}`, err);
    }
  }
  return { status, tipsets, messages };
}

/**
 * Checks that every block's messages are the ones its header commits to (its `Messages` MsgMeta
 * root), as Lotus's syncer does before it uses fetched messages (`checkMsgMeta`). A response can
 * pass `validateResponse` (indices in range) and still carry other messages than the blocks name:
 * such an answer is the peer's fault, never the block's, so it must be refused here, before the
 * block is judged. Throws InvalidExchangeResponseError naming the first block that does not match.
 */
export function checkMessageRoots(
  tipsets: readonly TipSet[],
  messages: readonly (readonly BlockMessages[])[],
): void {
  for (let i = 0; i < messages.length; i++) {
    const tipset = tipsets[i];
    messages[i].forEach((m, b) => {
      const root = computeMsgMeta(
        m.bls.map((x) => messageCid(x)),
        m.secpk.map((x) => signedMessageCid(x)),
      ).cid;
      if (!root.equals(tipset.blocks[b].messages)) {
        invalid(`messages of block ${tipset.cids[b]} do not match its message root`);
      }
    });
  }
}

/**
 * Per block of `tipset`, its BLS and secp256k1 messages in block order, undoing the compaction.
 * Throws InvalidExchangeResponseError when the messages are missing, when there is not exactly
 * one includes list per block, or when an index is out of range.
 */
export function expandMessages(tipset: BSTipSet): BlockMessages[] {
  const m = tipset.messages;
  if (m === null) invalid("the tipset carries no messages");
  const blocks = tipset.blocks.length;
  if (m.blsIncludes.length !== blocks) {
    invalid(`BlsIncludes (${m.blsIncludes.length}) does not match the blocks (${blocks})`);
  }
  if (m.secpkIncludes.length !== blocks) {
    invalid(`SecpkIncludes (${m.secpkIncludes.length}) does not match the blocks (${blocks})`);
  }
  const out: BlockMessages[] = [];
  for (let b = 0; b < blocks; b++) {
    out.push({
      bls: pick(m.bls, m.blsIncludes[b], `BlsIncludes[${b}]`),
      secpk: pick(m.secpk, m.secpkIncludes[b], `SecpkIncludes[${b}]`),
    });
  }
  return out;
}

function pick<T>(items: readonly T[], indices: readonly number[], what: string): T[] {
  return indices.map((index, i) => {
    if (!(index >= 0 && index < items.length)) {
      invalid(`${what}[${i}] = ${index} is out of range (${items.length} messages)`);
    }
    return items[index];
  });
}

/**
 * Compacts the messages of a tipset's blocks (in block order) as a Lotus server does
 * (`gatherMessages`): each message stored once, by CID, in order of first appearance.
 */
export function compactMessages(blocks: readonly BlockMessages[]): CompactedMessages {
  const bls = compactList(blocks.map((b) => b.bls), messageCid);
  const secpk = compactList(blocks.map((b) => b.secpk), signedMessageCid);
  return {
    bls: bls.items,
    blsIncludes: bls.includes,
    secpk: secpk.items,
    secpkIncludes: secpk.includes,
  };
}

function compactList<T>(
  perBlock: readonly (readonly T[])[],
  cidOf: (item: T) => CID,
): { items: T[]; includes: number[][] } {
  const index = new Map<string, number>();
  const items: T[] = [];
  const includes = perBlock.map((list) =>
    list.map((item) => {
      const key = cidOf(item).toString();
      let i = index.get(key);
      if (i === undefined) {
        i = items.length;
        items.push(item);
        index.set(key, i);
      }
      return i;
    })
  );
  return { items, includes };
}

function sameCids(a: readonly CID[], b: readonly CID[]): boolean {
  return a.length === b.length && a.every((c, i) => c.equals(b[i]));
}

function invalid(message: string, cause?: unknown): never {
  throw new InvalidExchangeResponseError(
    message,
    cause === undefined ? undefined : { cause },
  );
}
