import { equal, ok } from "node:assert/strict";
import { guardUnhandledRejections } from "../src/cli/rejection_guard.ts";

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
