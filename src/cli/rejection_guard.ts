/**
 * Keeps a long-running daemon alive through promise rejections nobody handled.
 *
 * Deno ends the process on an unhandled rejection. In a daemon most async work is started by
 * peers (a stream closed mid-write, a dial that fails after its caller gave up, a library's
 * fire-and-forget task), so one rejection we missed would let any peer stop the node. The guard
 * logs each one, so the bug stays visible, and keeps running: the rejected task is over, and the
 * node's state lives in KV commits that a half-finished task cannot leave inconsistent.
 *
 * @module
 */

/** Installs the guard; returns the function that removes it. */
export function guardUnhandledRejections(log: (line: string) => void): () => void {
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    const reason = event.reason;
    const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    log(`unhandled rejection (kept running): ${text}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => globalThis.removeEventListener("unhandledrejection", onRejection);
}
