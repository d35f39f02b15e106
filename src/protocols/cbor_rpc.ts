/**
 * Filecoin request/response streams: one raw DAG-CBOR item each way, no length prefix; the sender
 * closes its write side after the item (Lotus `go-cbor-util` `ReadCborRPC`/`WriteCborRPC`,
 * Forest `libp2p/rpc`). Every read is bounded in bytes and time, since the bytes come from peers.
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { AbortOptions } from "../abort.ts";

/** Below this many buffered bytes, try to decode after each chunk instead of waiting for EOF. */
const INCREMENTAL_DECODE_LIMIT = 64 * 1024;

/** What a libp2p stream (v2 line) offers that these helpers use. */
export interface RpcStream {
  source: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>;
  sink(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void>;
  abort(err: Error): void;
}

/** The peer sent bytes that are not one well-formed item of the expected shape. */
export class MalformedMessageError extends Error {
  override name = "MalformedMessageError";
}

/** The peer sent more than the protocol allows. */
export class MessageTooLargeError extends MalformedMessageError {
  override name = "MessageTooLargeError";
}

/** The peer did not finish its message in time (slow-loris, or gone). */
/**
 * The stream ended before its first byte. Not always the peer's fault: a connection being closed
 * ends its streams this way before it reports itself closing, so callers may weigh it apart.
 */
export class EmptyStreamError extends MalformedMessageError {
  override name = "EmptyStreamError";
}

export class StreamTimeoutError extends Error {
  override name = "StreamTimeoutError";
}

export interface ReadOptions extends AbortOptions {
  /** Most bytes accepted for the item. */
  maxBytes: number;
  /** Most time allowed for the whole item, from the call. */
  timeoutMs: number;
}

/**
 * Reads one DAG-CBOR item. Throws MalformedMessageError (bad CBOR, trailing bytes, early EOF),
 * MessageTooLargeError or StreamTimeoutError; aborts the stream on any of them.
 */
export async function readCborItem(stream: RpcStream, options: ReadOptions): Promise<unknown> {
  // An explicit timer (not AbortSignal.timeout) so it is cleared as soon as the item is in.
  const timeoutController = new AbortController();
  const timer = setTimeout(() => timeoutController.abort(), options.timeoutMs);
  const timeout = timeoutController.signal;
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const iterator = stream.source[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const onAbort = () => {
    const err = timeout.aborted
      ? new StreamTimeoutError(`no complete message within ${options.timeoutMs} ms`)
      : signal.reason;
    stream.abort(err);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const next = await nextOrAbort(iterator, signal);
      if (next.done) break;
      const chunk = next.value instanceof Uint8Array ? next.value : next.value.subarray();
      total += chunk.length;
      if (total > options.maxBytes) {
        throw new MessageTooLargeError(`message exceeds ${options.maxBytes} bytes`);
      }
      chunks.push(chunk);
      if (total <= INCREMENTAL_DECODE_LIMIT) {
        const item = tryDecode(concat(chunks, total));
        if (item.complete) return item.value;
      }
    }
    if (total === 0) throw new EmptyStreamError("stream closed before any message");
    const item = tryDecode(concat(chunks, total));
    if (!item.complete) throw new MalformedMessageError(`malformed CBOR: ${item.reason}`);
    return item.value;
  } catch (err) {
    if (timeout.aborted && !(err instanceof MalformedMessageError)) {
      const e = new StreamTimeoutError(`no complete message within ${options.timeoutMs} ms`);
      stream.abort(e);
      throw e;
    }
    if (err instanceof MalformedMessageError) stream.abort(err);
    throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** Writes one DAG-CBOR item and closes the write side. */
export async function writeCborItem(stream: RpcStream, value: unknown): Promise<void> {
  await stream.sink([dagCbor.encode(value)]);
}

type Decoded = { complete: true; value: unknown } | { complete: false; reason: string };

function tryDecode(bytes: Uint8Array): Decoded {
  try {
    return { complete: true, value: dagCbor.decode(bytes) };
  } catch (err) {
    const reason = (err as Error).message;
    // Trailing bytes can never become valid by reading more.
    if (/too many terminals/.test(reason)) {
      throw new MalformedMessageError("trailing bytes after the message");
    }
    return { complete: false, reason };
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  chunks.splice(0, chunks.length, out);
  return out;
}

function nextOrAbort<T>(
  iterator: AsyncIterator<T>,
  signal: AbortSignal,
): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
