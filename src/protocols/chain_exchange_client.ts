/**
 * The chain exchange client (`/fil/chain/xchg/0.0.1`, Lotus `chain/exchange/client.go`): fetches
 * a chain segment from the requested head backwards, in requests of at most 900 tipsets, from
 * connected peers, and checks every answer against its request before trusting any of it.
 *
 * A peer that times out, answers with an error status or sends something that does not answer the
 * request costs that attempt only: the batch goes to the next peer, and a `bad-answer` event lets
 * the network lower the peer's score (`good-answer` raises it). Batches are spread round robin
 * over the best few peers, so one fast peer is not asked for everything (Lotus shuffles its top
 * peers for the same reason, `ShufflePeersPrefix`).
 *
 * Messages are checked against their blocks' message roots (MsgMeta) before they are returned:
 * wrong messages under a good header are the answering peer's fault, and must not make the sync
 * judge the block bad. `getMessages` fetches only the messages of tipsets whose headers the
 * caller already has (Lotus `GetChainMessages`): a sync walks back over headers first, so going
 * forward it needs the messages alone.
 *
 * @module
 */
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { CID } from "multiformats/cid";
import type { TipSet } from "../chain/types/mod.ts";
import { TypedEventTarget } from "../events.ts";
import type { ProtocolConnections } from "./protocol_host.ts";
import {
  MalformedMessageError,
  readCborItem,
  type RpcStream,
  StreamTimeoutError,
  writeCborItem,
} from "./cbor_rpc.ts";
import {
  type BlockMessages,
  CHAIN_EXCHANGE_PROTOCOL,
  decodeResponse,
  encodeRequest,
  ExchangeOptions,
  type ExchangeRequest,
  ExchangeStatus,
  ExchangeStatusError,
  InvalidExchangeMessageError,
  MAX_REQUEST_LENGTH,
  MAX_RESPONSE_BYTES,
} from "./chain_exchange_message.ts";
import {
  checkMessageRoots,
  type ValidatedResponse,
  type ValidateOptions,
  validateResponse,
} from "./chain_exchange_answer.ts";

/**
 * Time for one request, from opening the stream to the last byte of the answer. Lotus allows 5 s
 * plus 50 KiB/s (`ReadResDeadline`, `ReadResMinSpeed`); a 900-tipset header answer is a few MiB,
 * so one minute covers a slow honest peer while a stalled one costs at most that.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** How long a peer whose answer failed is not asked first, even as the preferred peer. */
export const NOT_FIRST_AFTER_FAILURE_MS = 10 * 60_000;

/** Peers tried for one batch before giving up. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Best peers that batches rotate over. */
export const DEFAULT_SPREAD = 3;

/** What the client reports about the peers it asked. */
export type ChainExchangeClientEvents = {
  /**
   * The peer's answer was unusable: `invalid` (bytes or contents that do not answer the request),
   * `timeout`, `status` (an error status; NotFound may be honest, the network weighs it), or
   * `error` (the stream failed: reset, refused protocol, connection gone).
   */
  "bad-answer": CustomEvent<{
    peerId: string;
    kind: "invalid" | "timeout" | "status" | "error";
    reason: string;
    status?: number;
  }>;
  /** The peer's answer validated. */
  "good-answer": CustomEvent<{ peerId: string; tipsets: number; ms: number }>;
};

export interface ChainExchangeClientOptions {
  /** The host; only its open connections are used (no dialing, as Lotus's `WithNoDial`). */
  libp2p: ProtocolConnections;
  /** Candidate peer IDs, best first (greeted peers, by reputation). */
  peers: () => string[];
  /** Time for one request (default DEFAULT_REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Largest answer read (default MAX_RESPONSE_BYTES, 120 MiB as Lotus). */
  maxResponseBytes?: number;
  /** Peers tried per batch (default DEFAULT_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** How many of the best peers batches rotate over (default DEFAULT_SPREAD). */
  spread?: number;
}

export interface GetChainOptions {
  /** Also fetch every tipset's messages (Headers | Messages). */
  messages?: boolean;
  /**
   * Ask this peer first when it is a candidate: the peer that announced a head surely has it,
   * others may not (a fork, a fresh block), and asking them first costs a round of NotFound.
   */
  preferPeer?: string;
  signal?: AbortSignal;
}

/** A validated chain segment, from the requested head backwards. */
export interface ChainSegment {
  /** Each the child of the next; the first is keyed by the requested head. */
  tipsets: TipSet[];
  /** With `messages`: per tipset, per block, its messages (index-aligned with `tipsets`). */
  messages?: BlockMessages[][];
  /** The peer that served the last batch. */
  peer: string;
}

/** The messages of known tipsets, as `getMessages` returns them. */
export interface MessagesSegment {
  /** Per tipset (index-aligned with the tipsets asked about), per block, its messages. */
  messages: BlockMessages[][];
  /** The peer that served the last batch. */
  peer: string;
}

/** Every peer tried for a batch failed (or there was none to ask). */
export class ChainExchangeFailedError extends Error {
  override name = "ChainExchangeFailedError";
  /** Per peer tried, why it failed. */
  readonly attempts: readonly { peerId: string; reason: string }[];
  constructor(message: string, attempts: readonly { peerId: string; reason: string }[]) {
    super(
      attempts.length === 0
        ? message
        : `${message}: ${attempts.map((a) => `${a.peerId}: ${a.reason}`).join("; ")}`,
    );
    this.attempts = attempts;
  }
}

/**
 * Fetches chain segments over chain exchange.
 *
 * @example
 * ```ts
 * import { CID } from "multiformats/cid";
 * import { ChainExchangeClient, ChainExchangeFailedError } from "./chain_exchange_client.ts";
 * const head = [CID.parse("bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba")];
 * const client = new ChainExchangeClient({ libp2p: { getConnections: () => [] }, peers: () => [] });
 * try {
 *   await client.getChain(head, 1);
 * } catch (err) {
 *   if (!(err instanceof ChainExchangeFailedError)) throw err; // no peer to ask
 * }
 * ```
 */
export class ChainExchangeClient extends TypedEventTarget<ChainExchangeClientEvents> {
  readonly #libp2p: ProtocolConnections;
  readonly #peers: () => string[];
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #maxAttempts: number;
  readonly #spread: number;
  /** Round-robin position over the best peers, kept across calls. */
  #turn = 0;
  /**
   * Peers whose answer failed, and until when they are not asked first even when preferred: a
   * peer that announces a head and then stalls or lies would otherwise be asked first for every
   * batch of a long sync, costing a timeout each time.
   */
  readonly #notFirstUntil = new Map<string, number>();

  constructor(options: ChainExchangeClientOptions) {
    super();
    this.#libp2p = options.libp2p;
    this.#peers = options.peers;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#spread = Math.max(1, options.spread ?? DEFAULT_SPREAD);
  }

  /**
   * Up to `length` tipsets from `head` backwards (and their messages with `messages: true`), in
   * batches of at most 900. Stops early, returning what validated, when a peer answers Partial
   * (it has no more), at genesis, or when a later batch fails on every peer; the caller goes on
   * from the last tipset's parents. Throws ChainExchangeFailedError when the first batch fails
   * on every peer, and the signal's reason when it aborts.
   */
  async getChain(
    head: readonly CID[],
    length: number,
    options: GetChainOptions = {},
  ): Promise<ChainSegment> {
    if (!Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`length must be a positive integer (got ${length})`);
    }
    if (head.length === 0) throw new RangeError("head must name at least one block");
    const tipsets: TipSet[] = [];
    const messages: BlockMessages[][] = [];
    let peer = "";
    let next: readonly CID[] = head;
    while (tipsets.length < length) {
      const request: ExchangeRequest = {
        head: next,
        length: Math.min(MAX_REQUEST_LENGTH, length - tipsets.length),
        options: ExchangeOptions.Headers | (options.messages ? ExchangeOptions.Messages : 0),
      };
      let batch: { answer: ValidatedResponse; peer: string };
      try {
        batch = await this.#request(request, options.signal, options.preferPeer);
      } catch (err) {
        if (tipsets.length > 0 && err instanceof ChainExchangeFailedError) break;
        throw err;
      }
      peer = batch.peer;
      tipsets.push(...batch.answer.tipsets);
      if (batch.answer.messages) messages.push(...batch.answer.messages);
      const last = batch.answer.tipsets[batch.answer.tipsets.length - 1];
      if (batch.answer.status === ExchangeStatus.Partial || last.height === 0) break;
      next = last.parents.cids;
    }
    return options.messages ? { tipsets, messages, peer } : { tipsets, peer };
  }

  /**
   * The messages of `tipsets` (a chain from its head backwards, each the child of the next, as
   * `getChain` returns them), with messages-only requests of at most 900 tipsets. Every answer
   * is checked against the blocks' message roots; a peer whose answer does not match is a bad
   * answer and the batch goes to the next peer. A Partial answer is continued from where it
   * stopped. Throws ChainExchangeFailedError when a batch fails on every peer.
   */
  async getMessages(
    tipsets: readonly TipSet[],
    options: Omit<GetChainOptions, "messages"> = {},
  ): Promise<MessagesSegment> {
    if (tipsets.length === 0) throw new RangeError("no tipsets to fetch messages for");
    const messages: BlockMessages[][] = [];
    let peer = "";
    while (messages.length < tipsets.length) {
      const asked = tipsets.slice(messages.length, messages.length + MAX_REQUEST_LENGTH);
      const request: ExchangeRequest = {
        head: asked[0].cids,
        length: asked.length,
        options: ExchangeOptions.Messages,
      };
      const batch = await this.#request(request, options.signal, options.preferPeer, {
        tipsets: asked,
      });
      peer = batch.peer;
      messages.push(...batch.answer.messages!);
    }
    return { messages, peer };
  }

  /** One batch: peers in turn until one answers validly, at most `maxAttempts`. */
  async #request(
    request: ExchangeRequest,
    signal: AbortSignal | undefined,
    preferPeer?: string,
    known: ValidateOptions = {},
  ): Promise<{ answer: ValidatedResponse; peer: string }> {
    const ranked = this.#order();
    const order = preferPeer !== undefined && ranked.includes(preferPeer) &&
        !((this.#notFirstUntil.get(preferPeer) ?? 0) > Date.now())
      ? [preferPeer, ...ranked.filter((p) => p !== preferPeer)]
      : ranked;
    const attempts: { peerId: string; reason: string }[] = [];
    for (const peerId of order.slice(0, this.#maxAttempts)) {
      signal?.throwIfAborted();
      const started = Date.now();
      try {
        const answer = await this.#ask(peerId, request, signal, known);
        this.emit("good-answer", {
          peerId,
          tipsets: answer.tipsets.length,
          ms: Date.now() - started,
        });
        return { answer, peer: peerId };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const reason = (err as Error).message;
        attempts.push({ peerId, reason });
        if (err instanceof NotConnectedError) continue;
        this.#notFirstUntil.set(peerId, Date.now() + NOT_FIRST_AFTER_FAILURE_MS);
        if (this.#notFirstUntil.size > 1024) {
          this.#notFirstUntil.delete(this.#notFirstUntil.keys().next().value!);
        }
        this.emit("bad-answer", { peerId, ...classify(err as Error), reason });
      }
    }
    throw new ChainExchangeFailedError(
      order.length === 0 ? "no peers to ask for the chain" : "every peer failed",
      attempts,
    );
  }

  /**
   * The peers to try, in order: the best `spread` rotated by the round-robin turn, then the
   * rest as ranked.
   */
  #order(): string[] {
    const peers = [...new Set(this.#peers())];
    const top = Math.min(this.#spread, peers.length);
    if (top === 0) return [];
    const start = this.#turn++ % top;
    const best = peers.slice(0, top);
    return [...best.slice(start), ...best.slice(0, start), ...peers.slice(top)];
  }

  /** Sends `request` to one peer and validates its answer. */
  async #ask(
    peerId: string,
    request: ExchangeRequest,
    signal: AbortSignal | undefined,
    known: ValidateOptions,
  ): Promise<ValidatedResponse> {
    const connection = this.#libp2p.getConnections(peerIdFromString(peerId))
      .find((c) => c.status === "open");
    if (connection === undefined) throw new NotConnectedError(`not connected to ${peerId}`);
    const started = Date.now();
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new StreamTimeoutError(`no answer within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const bounded = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    let stream: Stream | undefined;
    try {
      stream = await connection.newStream(CHAIN_EXCHANGE_PROTOCOL, { signal: bounded });
      const rpc = stream as unknown as RpcStream;
      const reading = readCborItem(rpc, {
        maxBytes: this.#maxResponseBytes,
        // The whole exchange shares one deadline: reading gets what is left of it.
        timeoutMs: Math.max(1, this.#timeoutMs - (Date.now() - started)),
        signal: bounded,
      });
      // If the write fails, `reading` is never awaited: keep its rejection handled.
      reading.catch(() => {});
      await writeCborItem(rpc, encodeRequest(request));
      const response = decodeResponse(await reading);
      const answer = validateResponse(request, response, known);
      if (answer.messages) {
        checkMessageRoots(
          answer.tipsets.length > 0 ? answer.tipsets : known.tipsets!,
          answer.messages,
        );
      }
      return answer;
    } catch (err) {
      stream?.abort(err as Error);
      if (deadline.signal.aborted && !(signal?.aborted)) throw deadline.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** No open connection to the peer: skipped, not blamed. */
class NotConnectedError extends Error {
  override name = "NotConnectedError";
}

function classify(
  err: Error,
): { kind: "invalid" | "timeout" | "status" | "error"; status?: number } {
  if (err instanceof ExchangeStatusError) return { kind: "status", status: err.status };
  if (err instanceof StreamTimeoutError) return { kind: "timeout" };
  if (err instanceof InvalidExchangeMessageError || err instanceof MalformedMessageError) {
    return { kind: "invalid" };
  }
  return { kind: "error" };
}
