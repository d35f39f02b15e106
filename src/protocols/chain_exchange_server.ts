/**
 * The chain exchange server (`/fil/chain/xchg/0.0.1`, Lotus `chain/exchange/server.go`): reads one
 * request, walks parents from its head for up to `length` tipsets, and answers with their headers
 * and/or compacted messages. The network registers `handler()` behind `hello.gated(...)`, so only
 * greeted peers reach it.
 *
 * Beyond Lotus, which serves every request it can parse: requests are read with a small size cap
 * and a deadline, each peer has a request budget per minute (GoAway beyond it), a server-wide cap
 * on requests served at once (GoAway beyond it), and a response stops short (Partial) before it
 * would pass the 120 MiB a Lotus client accepts. Peers that send garbage, stall, or flood are
 * reported through `misbehaved` events for the network to score.
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { IncomingStreamData } from "@libp2p/interface";
import type { CID } from "multiformats/cid";
import type { AbortOptions, Startable } from "../abort.ts";
import type { BlockHeader, Message, SignedMessage, TipSet } from "../chain/types/mod.ts";
import { TypedEventTarget } from "../events.ts";
import {
  EmptyStreamError,
  MalformedMessageError,
  readCborItem,
  type RpcStream,
  StreamTimeoutError,
} from "./cbor_rpc.ts";
import {
  type BlockMessages,
  type BSTipSet,
  type CompactedMessages,
  decodeRequest,
  encodeBSTipSet,
  ExchangeOptions,
  type ExchangeRequest,
  ExchangeStatus,
  InvalidExchangeMessageError,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  responseChunks,
} from "./chain_exchange_message.ts";
import { compactMessages, requestProblem } from "./chain_exchange_answer.ts";

export { CHAIN_EXCHANGE_PROTOCOL } from "./chain_exchange_message.ts";

/** Time a peer has to send its whole request: Lotus `streamReadDeadline` (10 s). */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Time to write a response before the stream is reset: Lotus `WriteResDeadline` (60 s). */
export const RESPONSE_TIMEOUT_MS = 60_000;

/**
 * Requests a peer may make per minute before it gets GoAway. Lotus has no limit; a syncing Lotus
 * asks for headers 900 at a time and messages in windows of a few hundred, so an honest peer
 * stays far below this, while one peer cannot keep the server walking the chain without pause.
 */
export const DEFAULT_REQUESTS_PER_PEER_PER_MINUTE = 300;

/** Tipsets whose messages a server reads at once while it walks a messages request. */
const MESSAGE_READS_IN_FLIGHT = 32;

/** Requests served at once, across peers: bounds memory (one answer can be 120 MiB). */
export const DEFAULT_MAX_CONCURRENT = 8;

/** Room left under MAX_RESPONSE_BYTES for the response's own header and error message. */
const RESPONSE_SLACK_BYTES = 16 << 10;

/** Rate-limit buckets kept before idle (full) ones are dropped. */
const MAX_TRACKED_PEERS = 1024;

/** Where the server reads the chain from. */
export interface ChainExchangeSource {
  /** The tipset with this key, or undefined if unknown. */
  getTipSet(cids: readonly CID[], options?: AbortOptions): Promise<TipSet | undefined>;
  /** Messages of one block, or undefined if not stored. */
  getBlockMessages(
    header: BlockHeader,
    options?: AbortOptions,
  ): Promise<
    { readonly bls: readonly Message[]; readonly secpk: readonly SignedMessage[] } | undefined
  >;
}

/** What the server reports about peers. */
export type ChainExchangeServerEvents = {
  /**
   * The peer sent bytes that are not a request (`malformed`), did not finish its request in time
   * (`timeout`), or asked more often than its budget allows (`rate-limited`).
   */
  misbehaved: CustomEvent<{
    peerId: string;
    kind: "malformed" | "timeout" | "rate-limited";
    message: string;
  }>;
  /** A request was answered (any status), for metrics and logs. */
  served: CustomEvent<{ peerId: string; status: number; tipsets: number }>;
};

export interface ChainExchangeServerOptions {
  source: ChainExchangeSource;
  /** Time a peer has to send its request (default REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Time to write the response (default RESPONSE_TIMEOUT_MS). */
  responseTimeoutMs?: number;
  /** Requests per peer per minute before GoAway (default DEFAULT_REQUESTS_PER_PEER_PER_MINUTE). */
  maxRequestsPerPeerPerMinute?: number;
  /** Requests served at once before GoAway (default DEFAULT_MAX_CONCURRENT). */
  maxConcurrent?: number;
  /** Largest request read (default MAX_REQUEST_BYTES). */
  maxRequestBytes?: number;
  /** Largest response written; the chain is cut short (Partial) to fit (default 120 MiB). */
  maxResponseBytes?: number;
  /** Milliseconds clock for the rate limiter (tests). */
  now?: () => number;
}

/** A token bucket: `tokens` left at time `at`. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Serves chain exchange requests from a ChainExchangeSource.
 *
 * @example
 * ```ts
 * import { ChainExchangeServer } from "./chain_exchange_server.ts";
 * const server = new ChainExchangeServer({
 *   source: { getTipSet: () => Promise.resolve(undefined), getBlockMessages: () => Promise.resolve(undefined) },
 * });
 * const handler = server.handler(); // libp2p.handle(CHAIN_EXCHANGE_PROTOCOL, hello.gated(handler))
 * if (typeof handler !== "function") throw new Error("no handler");
 * await server.stop();
 * ```
 */
export class ChainExchangeServer extends TypedEventTarget<ChainExchangeServerEvents>
  implements Startable {
  readonly #source: ChainExchangeSource;
  readonly #timeoutMs: number;
  readonly #responseTimeoutMs: number;
  readonly #perMinute: number;
  readonly #maxConcurrent: number;
  readonly #maxRequestBytes: number;
  readonly #maxResponseBytes: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #active = 0;
  #stopped = new AbortController();

  constructor(options: ChainExchangeServerOptions) {
    super();
    this.#source = options.source;
    this.#timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? RESPONSE_TIMEOUT_MS;
    this.#perMinute = options.maxRequestsPerPeerPerMinute ?? DEFAULT_REQUESTS_PER_PEER_PER_MINUTE;
    this.#maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    this.#maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.#maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /** Serves again after a `stop()`. */
  start(_options: AbortOptions = {}): Promise<void> {
    if (this.#stopped.signal.aborted) this.#stopped = new AbortController();
    return Promise.resolve();
  }

  /** Aborts every request being served (their streams are reset) and forgets rate budgets. */
  stop(): Promise<void> {
    this.#stopped.abort(new DOMException("chain exchange server stopped", "AbortError"));
    this.#buckets.clear();
    return Promise.resolve();
  }

  /** The libp2p stream handler; it never rejects. */
  handler(): (data: IncomingStreamData) => Promise<void> {
    return (data) => this.#serve(data).catch(() => {});
  }

  async #serve({ stream, connection }: IncomingStreamData): Promise<void> {
    const peerId = connection.remotePeer.toString();
    const rpc = stream as unknown as RpcStream;
    if (this.#stopped.signal.aborted) {
      stream.abort(new Error("chain exchange server stopped"));
      return;
    }
    // Counted before reading, so a flood of garbage or empty streams spends the budget too.
    const withinBudget = this.#take(peerId);
    let request: ExchangeRequest;
    try {
      request = decodeRequest(
        await readCborItem(rpc, {
          maxBytes: this.#maxRequestBytes,
          timeoutMs: this.#timeoutMs,
          signal: this.#stopped.signal,
        }),
      );
    } catch (err) {
      stream.abort(err as Error);
      const message = (err as Error).message;
      if (err instanceof StreamTimeoutError) {
        this.emit("misbehaved", { peerId, kind: "timeout", message });
      } else if (err instanceof EmptyStreamError) {
        // Not blamed: a closing connection ends its streams this way (see hello's `#blame`);
        // a peer that opens empty streams on purpose runs into its rate budget instead.
        if (!withinBudget) this.#rateLimited(peerId);
      } else if (
        err instanceof MalformedMessageError || err instanceof InvalidExchangeMessageError
      ) {
        this.emit("misbehaved", { peerId, kind: "malformed", message });
      }
      return;
    }

    if (!withinBudget) {
      this.#rateLimited(peerId);
      await this.#respond(rpc, peerId, ExchangeStatus.GoAway, "rate limit exceeded", []);
      return;
    }
    if (this.#active >= this.#maxConcurrent) {
      await this.#respond(rpc, peerId, ExchangeStatus.GoAway, "server busy", []);
      return;
    }
    this.#active++;
    try {
      const problem = requestProblem(request);
      if (problem !== undefined) {
        await this.#respond(rpc, peerId, ExchangeStatus.BadRequest, problem, []);
        return;
      }
      let segment: { status: number; message: string; tipsets: Uint8Array[] };
      try {
        segment = await this.#collect(request, this.#stopped.signal);
      } catch (err) {
        if (this.#stopped.signal.aborted) {
          stream.abort(err as Error);
          return;
        }
        segment = {
          status: ExchangeStatus.InternalError,
          message: (err as Error).message.slice(0, 1024),
          tipsets: [],
        };
      }
      await this.#respond(rpc, peerId, segment.status, segment.message, segment.tipsets);
    } finally {
      this.#active--;
    }
  }

  /**
   * Walks back from the requested head (Lotus `collectChainSegment`), encoding each tipset as it
   * goes so the response's size is known before it is sent.
   */
  async #collect(
    request: ExchangeRequest,
    signal: AbortSignal,
  ): Promise<{ status: number; message: string; tipsets: Uint8Array[] }> {
    const wantHeaders = (request.options & ExchangeOptions.Headers) !== 0;
    const wantMessages = (request.options & ExchangeOptions.Messages) !== 0;
    const budget = this.#maxResponseBytes - RESPONSE_SLACK_BYTES;
    let tipset = await this.#source.getTipSet(request.head, { signal });
    if (tipset === undefined) {
      return { status: ExchangeStatus.NotFound, message: "head tipset not found", tipsets: [] };
    }
    // Walk the parents (sequential by nature) while the messages of the tipsets already found
    // are read concurrently, at most MESSAGE_READS_IN_FLIGHT tipsets ahead of the encoding: one
    // read after another left both peers idle most of a messages request (measured). Encoding
    // follows the walk in order, so the walk stops once the byte budget is reached and memory
    // stays bounded by the budget plus the window.
    const pending: { tipset: TipSet; messages?: Promise<BlockMessages[] | undefined> }[] = [];
    const out: Uint8Array[] = [];
    let size = 0;
    let full = false;
    const encodeOldest = async () => {
      const entry = pending.shift()!;
      let messages: CompactedMessages | null = null;
      if (entry.messages) {
        const perBlock = await entry.messages;
        // Messages we do not have end the segment here: what comes before is still an answer.
        if (perBlock === undefined) {
          full = true;
          return;
        }
        messages = compactMessages(perBlock);
      }
      const bs: BSTipSet = { blocks: wantHeaders ? entry.tipset.blocks : [], messages };
      const bytes = dagCbor.encode(encodeBSTipSet(bs));
      if (size + bytes.length > budget) {
        full = true;
        return;
      }
      size += bytes.length;
      out.push(bytes);
    };
    let walked = 0;
    while (true) {
      signal.throwIfAborted();
      const messages = wantMessages ? this.#messagesOf(tipset, signal) : undefined;
      messages?.catch(() => {}); // awaited when encoded, or dropped when the answer is full
      pending.push({ tipset, messages });
      walked++;
      if (pending.length > MESSAGE_READS_IN_FLIGHT) await encodeOldest();
      if (full || walked >= request.length || tipset.height === 0) break;
      const parent = await this.#source.getTipSet(tipset.parents.cids, { signal });
      if (parent === undefined) break;
      tipset = parent;
    }
    while (!full && pending.length > 0) await encodeOldest();
    if (out.length === 0) {
      return {
        status: ExchangeStatus.NotFound,
        message: wantMessages ? "messages of the head tipset not found" : "response too large",
        tipsets: [],
      };
    }
    const status = out.length < request.length ? ExchangeStatus.Partial : ExchangeStatus.Ok;
    return { status, message: "", tipsets: out };
  }

  /** Every block's messages of `tipset`, in block order, or undefined if any is not stored. */
  async #messagesOf(tipset: TipSet, signal: AbortSignal): Promise<BlockMessages[] | undefined> {
    const perBlock = await Promise.all(
      tipset.blocks.map((header) => this.#source.getBlockMessages(header, { signal })),
    );
    return perBlock.some((m) => m === undefined) ? undefined : perBlock as BlockMessages[];
  }

  /** Writes the response and closes our side; resets the stream if the peer will not read it. */
  async #respond(
    stream: RpcStream,
    peerId: string,
    status: number,
    message: string,
    tipsets: Uint8Array[],
  ): Promise<void> {
    const chunks = responseChunks(status, message, tipsets);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new StreamTimeoutError(`response not taken within ${this.#responseTimeoutMs} ms`)),
        this.#responseTimeoutMs,
      );
    });
    const onStop = () => stream.abort(this.#stopped.signal.reason);
    this.#stopped.signal.addEventListener("abort", onStop, { once: true });
    try {
      await Promise.race([stream.sink(chunks), deadline]);
      this.emit("served", { peerId, status, tipsets: tipsets.length });
    } catch (err) {
      stream.abort(err as Error);
    } finally {
      clearTimeout(timer);
      this.#stopped.signal.removeEventListener("abort", onStop);
    }
  }

  #rateLimited(peerId: string): void {
    this.emit("misbehaved", {
      peerId,
      kind: "rate-limited",
      message: `more than ${this.#perMinute} requests per minute`,
    });
  }

  /**
   * Takes one request from the peer's token bucket (capacity `perMinute`, refilled at
   * `perMinute` per 60 s); false when it is empty.
   */
  #take(peerId: string): boolean {
    const now = this.#now();
    const rate = this.#perMinute / 60_000;
    let bucket = this.#buckets.get(peerId);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TRACKED_PEERS) this.#pruneBuckets(now, rate);
      bucket = { tokens: this.#perMinute, at: now };
      this.#buckets.set(peerId, bucket);
    } else {
      bucket.tokens = Math.min(this.#perMinute, bucket.tokens + (now - bucket.at) * rate);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Drops buckets that have refilled: forgetting them changes nothing. */
  #pruneBuckets(now: number, rate: number): void {
    for (const [id, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * rate >= this.#perMinute) this.#buckets.delete(id);
    }
  }
}
