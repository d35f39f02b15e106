import { deepEqual, equal, ok } from "node:assert/strict";
import { guardProcessFaults, guardUnhandledRejections } from "../src/cli/rejection_guard.ts";
import { runInPeerScope } from "../src/net/peer_fault_guard.ts";

Deno.test("guardUnhandledRejections() logs a rejection nobody handled and keeps the process up", async () => {
  const lines: string[] = [];
  const unguard = guardUnhandledRejections((line) => lines.push(line));
  try {
    // A fire-and-forget task that fails, as a peer-triggered one would.
    void Promise.reject(new TypeError("peer closed the stream"));
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    unguard();
  }
  equal(lines.length, 1);
  ok(lines[0].includes("TypeError: peer closed the stream"), lines[0]);
  // This line runs: without the guard Deno would have ended the test process.
});

Deno.test("guardUnhandledRejections() stops guarding once removed", async () => {
  const lines: string[] = [];
  guardUnhandledRejections((line) => lines.push(line))();
  // A handler of our own stands in for Deno's default (ending the process) to observe that the
  // removed guard no longer sees the rejection.
  let seen = 0;
  const observe = (e: PromiseRejectionEvent) => {
    seen++;
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", observe);
  try {
    void Promise.reject(new Error("after removal"));
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    globalThis.removeEventListener("unhandledrejection", observe);
  }
  equal(seen, 1);
  equal(lines.length, 0);
});

Deno.test("guardProcessFaults() survives an exception thrown from a timer, and counts it", async () => {
  const lines: string[] = [];
  const guard = guardProcessFaults((line) => lines.push(line));
  try {
    setTimeout(() => {
      throw new RangeError("bad length from a peer");
    }, 0);
    await waitFor(() => lines.length === 1);
  } finally {
    guard.stop();
  }
  equal(guard.count, 1);
  ok(
    lines[0].startsWith("uncaught exception (#1, kept running): RangeError: bad length"),
    lines[0],
  );
});

Deno.test("guardProcessFaults() names and reports the peer whose stream the failed work served", async () => {
  const lines: string[] = [];
  const reported: string[] = [];
  const guard = guardProcessFaults((line) => lines.push(line), {
    onPeerFault: (peer) => reported.push(peer.peerId),
  });
  try {
    runInPeerScope({ peerId: "12D3KooWpeer", protocol: "/fil/hello/1.0.0" }, () => {
      // A task the handler started and never awaited.
      void (async () => {
        await Promise.resolve();
        throw new TypeError("cannot read a field the peer left out");
      })();
    });
    void Promise.reject(new Error("no peer in scope"));
    await waitFor(() => lines.length === 2);
  } finally {
    guard.stop();
  }
  equal(guard.count, 2);
  deepEqual(reported, ["12D3KooWpeer"]);
  const peerLine = lines.find((l) => l.includes("TypeError"))!;
  ok(
    peerLine.startsWith("unhandled rejection serving peer 12D3KooWpeer (/fil/hello/1.0.0) (#"),
    peerLine,
  );
  ok(
    lines.some((l) => /^unhandled rejection \(#\d, kept running\): Error: no peer/.test(l)),
    lines.join("\n"),
  );
});

/** Polls `condition` every 5 ms for up to 10 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met within 10 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}
