/**
 * Keeps a long-running daemon alive through errors nobody handled: promise rejections and
 * exceptions thrown from callbacks and timers (`globalThis` "error" events).
 *
 * Deno ends the process on either. In a daemon most async work is started by peers (a stream
 * closed mid-write, a dial that fails after its caller gave up, a library's fire-and-forget task),
 * so one error we missed would let any peer stop the node. This is the last line, behind the
 * stream handler guard (`net/peer_fault_guard.ts`): it logs each error, so the bug stays visible,
 * counts it, names the peer whose stream the failed work was serving when that is known, hands
 * that peer to `onPeerFault` (the daemon lowers its reputation), and keeps running: the failed
 * task is over, and the node's state lives in KV commits that a half-finished task cannot leave
 * inconsistent.
 *
 * @module
 */
import { currentPeerScope, type PeerScope } from "../net/peer_fault_guard.ts";

export interface FaultGuardOptions {
  /** Told the peer a caught error was serving, when known. */
  onPeerFault?: (peer: PeerScope, error: unknown) => void;
}

/** The installed guard: its count, and how to remove it. */
export interface FaultGuard {
  /** Errors caught so far (rejections and exceptions). */
  readonly count: number;
  /** Set or replace the peer reporter (the daemon sets it once its network runs). */
  onPeerFault?: (peer: PeerScope, error: unknown) => void;
  /** Removes the guard: Deno's default (ending the process) applies again. */
  stop(): void;
}

/** Installs the guard for unhandled rejections and uncaught exceptions. */
export function guardProcessFaults(
  log: (line: string) => void,
  options: FaultGuardOptions = {},
): FaultGuard {
  let count = 0;
  const guard: FaultGuard = {
    get count() {
      return count;
    },
    onPeerFault: options.onPeerFault,
    stop() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      globalThis.removeEventListener("error", onError);
    },
  };
  const caught = (what: string, error: unknown) => {
    count++;
    // Read in the listener: Deno runs it in the failed work's async context when it has one.
    const peer = currentPeerScope();
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const from = peer ? ` serving peer ${peer.peerId} (${peer.protocol})` : "";
    log(`${what}${from} (#${count}, kept running): ${text}`);
    if (peer && guard.onPeerFault) {
      try {
        guard.onPeerFault(peer, error);
      } catch {
        // Reporting must not raise a fault of its own.
      }
    }
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    caught("unhandled rejection", event.reason);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    caught("uncaught exception", event.error ?? event.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return guard;
}

/** Installs the guard; returns the function that removes it. */
export function guardUnhandledRejections(log: (line: string) => void): () => void {
  const guard = guardProcessFaults(log);
  return () => guard.stop();
}
