/**
 * Filecoin request/response streams: one raw DAG-CBOR item each way, no length prefix; the sender
 * closes its write side after the item (Lotus `go-cbor-util` `ReadCborRPC`/`WriteCborRPC`,
 * Forest `libp2p/rpc`). Every read is bounded in bytes and time, since the bytes come from peers.
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { AbortOptions } from "../abort.ts";
import {
  CborItemScanner,
  CborLengthOverCapError,
  MalformedCborHeadError,
} from "./cbor_item_scanner.ts";

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
  // The item is decoded once, when the scanner says it is all here (or at EOF): a decode tried
  // after every chunk re-decodes the whole prefix each time, quadratic in the message size.
  const buffer = new GrowingBuffer();
  const scanner = new CborItemScanner();
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
      if (buffer.length + chunk.length > options.maxBytes) {
        throw new MessageTooLargeError(`message exceeds ${options.maxBytes} bytes`);
      }
      buffer.append(chunk);
      let end: number | undefined;
      try {
        end = scanner.scan(buffer.bytes, options.maxBytes);
      } catch (err) {
        if (err instanceof CborLengthOverCapError) {
          throw new MessageTooLargeError(
            `message exceeds ${options.maxBytes} bytes: ${err.message}`,
          );
        }
        if (!(err instanceof MalformedCborHeadError)) throw err;
        throw new MalformedMessageError(`malformed CBOR: ${err.message}`);
      }
      if (end !== undefined) {
        // Bytes after the item can never make it valid (as Lotus, one item per direction).
        if (end < buffer.length) {
          throw new MalformedMessageError("trailing bytes after the message");
        }
        return decode(buffer.bytes);
      }
    }
    if (buffer.length === 0) throw new EmptyStreamError("stream closed before any message");
    throw new MalformedMessageError("malformed CBOR: the stream ended inside the message");
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

/** Decodes one complete item; a well-formed structure can still break DAG-CBOR's rules. */
function decode(bytes: Uint8Array): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (err) {
    throw new MalformedMessageError(`malformed CBOR: ${(err as Error).message}`);
  }
}

/** Bytes appended chunk by chunk into one buffer that doubles as needed: O(n) copying in all. */
class GrowingBuffer {
  #data = new Uint8Array(4096);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** The bytes so far (a view, valid until the next append). */
  get bytes(): Uint8Array {
    return this.#data.subarray(0, this.#length);
  }

  append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#data.length) {
      const grown = new Uint8Array(Math.max(needed, this.#data.length * 2));
      grown.set(this.bytes);
      this.#data = grown;
    }
    this.#data.set(chunk, this.#length);
    this.#length = needed;
  }
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
