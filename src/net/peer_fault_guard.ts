/**
 * Errors raised while serving a peer's stream, attributed to that peer.
 *
 * libp2p 2.10 awaits a protocol handler and, when it throws or rejects, resets the stream and
 * logs at debug level only: a handler bug that a peer's bytes trigger stays invisible and costs
 * the peer nothing, so it can be triggered again and again. Work a handler starts without
 * awaiting it (`void task()`, a timer) escapes even that and reaches the process-level guard
 * (`cli/rejection_guard.ts`), which without help knows no peer.
 *
 * {@link guardStreamHandlers} wraps each handler registered from then on (Filecoin protocols,
 * registered after the host starts; the libraries' own handlers are left to libp2p and to
 * `stream_faults.ts`) so that:
 * - an error it throws or rejects with is reported with the connection's remote peer, counted,
 *   and the stream reset;
 * - it runs inside a peer scope (`AsyncLocalStorage`), which async work it starts inherits, so
 *   the process-level guard can name the peer of a rejection nobody handled
 *   ({@link currentPeerScope}). Timer callbacks that throw lose the scope in Deno (measured), so
 *   such faults are logged without a peer.
 *
 * Errors that say only that a stream or connection ended (a peer hanging up, a stop) are not
 * faults: the stream is reset as libp2p would, nothing is reported.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Stream } from "@libp2p/interface";

/** Who a piece of async work is serving. */
export interface PeerScope {
  readonly peerId: string;
  readonly protocol: string;
}

/** A protocol handler threw or rejected while serving `peerId`. */
export interface HandlerFault extends PeerScope {
  readonly error: Error;
  /** Faults counted by this guard so far, this one included. */
  readonly count: number;
}

/** What the guard keeps count of. */
export interface HandlerFaultStats {
  /** Handler errors reported since the guard was installed. */
  readonly faults: number;
}

const scope = new AsyncLocalStorage<PeerScope>();

/** The peer whose stream the current async work serves, when there is one. */
export function currentPeerScope(): PeerScope | undefined {
  return scope.getStore();
}

/** Runs `fn` as work on behalf of `peer` (what a guarded handler does; tests use it too). */
export function runInPeerScope<T>(peer: PeerScope, fn: () => T): T {
  return scope.run(peer, fn);
}

/**
 * Error names that only say the stream or connection ended or was cancelled: not the handler's
 * bug nor provably the peer's.
 */
const ENDED_ERRORS = new Set([
  "AbortError",
  "TimeoutError",
  "StreamResetError",
  "StreamStateError",
  "StreamClosedError",
  "ConnectionClosedError",
  "ConnectionClosingError",
  "UnexpectedEOFError",
]);

/** True when `err` is a fault to report, not a stream that merely ended. */
export function isHandlerFault(err: unknown): boolean {
  return !(err instanceof Error && ENDED_ERRORS.has(err.name));
}

type Handler = (data: {
  stream: Stream;
  connection: { remotePeer: { toString(): string } };
}) => void | Promise<void>;

interface HandleTarget {
  handle(protocol: string, handler: Handler, options?: unknown): Promise<void>;
}

/**
 * Wraps every stream handler registered on `libp2p`'s registrar from now on (see the module
 * comment). Reaches the registrar through libp2p's components, which 2.10 does not export, as
 * `stream_faults.ts` does; tests/peer_fault_guard_test.ts notices if an upgrade moves it.
 */
export function guardStreamHandlers(
  libp2p: object,
  onFault: (fault: HandlerFault) => void,
): HandlerFaultStats {
  // deno-lint-ignore no-explicit-any
  const registrar: HandleTarget | undefined = (libp2p as any).components?.registrar;
  if (typeof registrar?.handle !== "function") {
    throw new Error("libp2p registrar not found: cannot guard stream handlers");
  }
  const stats = { faults: 0 };
  const report = (peer: PeerScope, err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    stats.faults++;
    try {
      onFault({ ...peer, error, count: stats.faults });
    } catch {
      // A reporter that fails must not turn one fault into another.
    }
  };
  const handle = registrar.handle.bind(registrar);
  registrar.handle = (protocol, handler, options) => {
    const guarded: Handler = (data) => {
      const peer = { peerId: data.connection.remotePeer.toString(), protocol };
      const fail = (err: unknown) => {
        if (isHandlerFault(err)) report(peer, err);
        data.stream.abort(err instanceof Error ? err : new Error(String(err)));
      };
      return scope.run(peer, () => {
        try {
          const result = handler(data);
          if (result instanceof Promise) return result.catch(fail);
        } catch (err) {
          fail(err);
        }
      });
    };
    return handle(protocol, guarded, options);
  };
  return stats;
}
