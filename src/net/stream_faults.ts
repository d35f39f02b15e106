/**
 * Reputation hits and size caps for protocols whose handlers live inside libraries (Kademlia,
 * bitswap). Those handlers reset a stream whose bytes do not parse, but they only log: the peer
 * that sent the bytes pays nothing and may try again on a fresh stream. Wrapping the registered
 * handler lets us see each `stream.abort(err)` it makes and name the peer that caused it.
 *
 * Only errors that can come from the peer's bytes count: protobuf parse errors and length prefixes
 * over the cap. Not counted: an end of stream mid-message (`UnexpectedEOFError`, which kad-dht also
 * raises when an honest peer closes between messages) and idle timeouts (honest kad and bitswap
 * peers leave streams idle; the library's reset already bounds what an idle stream costs us).
 *
 * kad-dht 15 reads its length-prefixed frames with no size cap, so a peer announcing a 1 GiB
 * frame had us buffer whatever it sent toward it (measured: the handler waited for the data).
 * `maxFrameBytes` puts a cap in front of the handler, checked on the prefix before any payload.
 *
 * @module
 */
import type { Stream } from "@libp2p/interface";
import type { Libp2pNode } from "./libp2p_host.ts";

/**
 * What a peer's bytes did wrong on a stream: bytes that do not parse, or (from
 * peer_fault_guard.ts, when the host has no `onHandlerFault`) a protocol handler that threw
 * serving them.
 */
export type StreamFaultKind = "malformed" | "handler-error";

/** One stream a library handler reset because of what the peer sent. */
export interface StreamFault {
  readonly peerId: string;
  readonly protocol: string;
  readonly kind: StreamFaultKind;
  /** The handler's error, for logs. */
  readonly error: Error;
}

/** A protocol to watch, and optionally the largest length-prefixed frame a peer may send on it. */
export interface WatchedProtocol {
  readonly protocol: string;
  /** Varint length-prefixed frames longer than this reset the stream before they are read. */
  readonly maxFrameBytes?: number;
}

/** A length prefix over the protocol's cap: raised before any of the frame is buffered. */
export class FrameTooLargeError extends Error {
  override name = "FrameTooLargeError";
}

/** A length prefix that is not a valid varint (more than 9 bytes). */
export class InvalidFramePrefixError extends Error {
  override name = "InvalidFramePrefixError";
}

/**
 * Error names the peer's bytes cause: protons' parse errors and `RangeError` (a field past the end
 * of its frame), it-length-prefixed's length errors, and our own frame cap's.
 */
const MALFORMED_ERRORS = new Set([
  "RangeError",
  "ParseError",
  "MaxLengthError",
  "MaxSizeError",
  "InvalidMessageLengthError",
  "InvalidDataLengthError",
  "InvalidDataLengthLengthError",
  "FrameTooLargeError",
  "InvalidFramePrefixError",
]);

/** protons' reader and enum codec throw plain Errors with these messages. */
const MALFORMED_MESSAGES = ["invalid wire type", "Invalid enum value", "invalid varint encoding"];

/** Classifies a handler's abort error; undefined when it is not (provably) the peer's fault. */
export function classifyStreamError(err: unknown): StreamFaultKind | undefined {
  if (!(err instanceof Error)) return undefined;
  if (MALFORMED_ERRORS.has(err.name)) return "malformed";
  if (MALFORMED_MESSAGES.some((m) => err.message.startsWith(m))) return "malformed";
  return undefined;
}

/**
 * Re-registers the handlers of `protocols` (already registered by their services) so that each
 * stream they reset for a peer-caused error is reported to `onFault`, and frames over a protocol's
 * cap reset the stream. Protocols with no handler are skipped. Reaches libp2p's registrar through
 * its components, which libp2p 2.10 does not export; tests/stream_faults_test.ts notices if an
 * upgrade moves it.
 */
export async function reportStreamFaults(
  libp2p: Libp2pNode,
  protocols: readonly WatchedProtocol[],
  onFault: (fault: StreamFault) => void,
): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const registrar = (libp2p as any).components?.registrar;
  if (!registrar) throw new Error("libp2p registrar not found: cannot watch stream faults");
  for (const { protocol, maxFrameBytes } of protocols) {
    let registered: { handler: Handler; options: Record<string, unknown> };
    try {
      registered = registrar.getHandler(protocol);
    } catch {
      continue;
    }
    const inner = registered.handler;
    const wrapped: Handler = (data) => {
      const { stream, connection } = data;
      const abort = stream.abort.bind(stream);
      stream.abort = (err: Error) => {
        const kind = classifyStreamError(err);
        if (kind) {
          onFault({ peerId: connection.remotePeer.toString(), protocol, kind, error: err });
        }
        abort(err);
      };
      if (maxFrameBytes !== undefined) {
        stream.source = capFrameLength(stream.source, maxFrameBytes);
      }
      return inner(data);
    };
    await registrar.handle(protocol, wrapped, { ...registered.options, force: true });
  }
}

/** Longest varint a length prefix may use (2^63 fits in 9 bytes). */
const MAX_PREFIX_BYTES = 9;

type Chunk = Uint8Array | { byteLength: number; get(index: number): number };

/**
 * Passes a stream's chunks through unchanged while following its varint length prefixes, and
 * throws {@link FrameTooLargeError} on a prefix over `maxFrameBytes`: the reader downstream never
 * starts buffering such a frame.
 */
export async function* capFrameLength<T extends Chunk>(
  source: AsyncIterable<T>,
  maxFrameBytes: number,
): AsyncGenerator<T, void, undefined> {
  let remaining = 0; // payload bytes of the current frame still to pass
  let prefix = 0;
  let prefixBytes = 0;
  for await (const chunk of source) {
    const at = (i: number) => chunk instanceof Uint8Array ? chunk[i] : chunk.get(i);
    let i = 0;
    while (i < chunk.byteLength) {
      if (remaining > 0) {
        const skip = Math.min(remaining, chunk.byteLength - i);
        remaining -= skip;
        i += skip;
        continue;
      }
      const byte = at(i++);
      prefix += (byte & 0x7f) * 2 ** (7 * prefixBytes);
      prefixBytes++;
      if (byte & 0x80) {
        if (prefixBytes >= MAX_PREFIX_BYTES) {
          throw new InvalidFramePrefixError("frame length prefix is not a valid varint");
        }
        continue;
      }
      if (prefix > maxFrameBytes) {
        throw new FrameTooLargeError(`frame of ${prefix} bytes exceeds ${maxFrameBytes}`);
      }
      remaining = prefix;
      prefix = 0;
      prefixBytes = 0;
    }
    yield chunk;
  }
}

type Handler = (data: {
  stream: Stream;
  connection: { remotePeer: { toString(): string } };
}) => void | Promise<void>;
