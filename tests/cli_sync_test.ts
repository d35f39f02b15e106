/**
 * `filnode sync status | wait` (`src/cli/sync.ts`) against a real control API on loopback whose
 * `Filnode.SyncStatus` reads a status the test sets: a failed sync is shown as failed, with its
 * error, and `wait` exits 1 instead of reporting the node in sync.
 *
 * Needs --allow-net=127.0.0.1 and --allow-read/--allow-write on temp dirs.
 */
import { equal, match, ok } from "node:assert/strict";
import { startControlApi } from "../src/api/api_server.ts";
import { createDispatcher } from "../src/api/rpc.ts";
import { syncApiMethods, SyncMethod, type SyncStatusJson } from "../src/api/sync_api.ts";
import type { TipSet } from "../src/chain/types/mod.ts";
import { runCli } from "../src/cli/run.ts";
import { syncCommands } from "../src/cli/sync.ts";
import type { SyncStatus } from "../src/sync/syncer.ts";
import { withTempDir } from "./_temp.ts";

/** A root with a running control API whose sync status is `status()`. */
async function withDaemon(
  status: () => SyncStatus,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  await withTempDir("filnode-cli-sync-", async (root) => {
    const chain = {
      heaviest: { height: 120 } as TipSet,
      getTipSet: () => Promise.resolve(undefined),
    };
    const api = await startControlApi({
      root,
      dispatch: createDispatcher(syncApiMethods({ chain, status })),
    });
    try {
      await fn(root);
    } finally {
      await api.stop();
    }
  });
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, [syncCommands], {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const FAILED: SyncStatus = {
  stage: "failed",
  phase: "error",
  height: 120,
  target: { peerId: "p", cids: [], height: 20_000, weight: 10n },
  message: "disk full: cannot write the chain store at /data/chain.kv",
  error: "disk full: cannot write the chain store at /data/chain.kv",
  retryAt: Date.UTC(2030, 0, 1),
};

Deno.test("`sync wait` exits 1 with the error when the sync failed, not 'in sync'", async () => {
  await withDaemon(() => FAILED, async (root) => {
    const wait = await cli(["--root", root, "sync", "wait"]);
    equal(wait.code, 1, wait.out + wait.err);
    match(wait.err, /sync failed at head 120 of 20000: disk full: .*\/data\/chain\.kv/);
    match(wait.err, /retries at 2030-01-01T00:00:00\.000Z/);
    ok(!wait.out.includes("in sync"), wait.out);
  });
});

Deno.test("`sync status` shows the failed stage, its error and the retry time", async () => {
  await withDaemon(() => FAILED, async (root) => {
    const text = await cli(["--root", root, "sync", "status"]);
    equal(text.code, 0, text.err);
    match(text.out, /^failed: head 120 of 20000 \(error at 120\): disk full: .*retrying at 2030/);
    const json = await cli(["--root", root, "--json", "sync", "status"]);
    const s: SyncStatusJson = JSON.parse(json.out);
    equal(s.Stage, "failed");
    equal(s.Error, FAILED.error);
    equal(s.RetryAt, "2030-01-01T00:00:00.000Z");
  });
});

Deno.test("`sync wait` still exits 0 once the node is in sync, with no error fields", async () => {
  const status: SyncStatus = { stage: "in-sync", phase: "complete", height: 120 };
  await withDaemon(() => status, async (root) => {
    const wait = await cli(["--root", root, "sync", "wait"]);
    equal(wait.code, 0, wait.err);
    match(wait.out, /in sync at height 120/);
    const json = await cli(["--root", root, "--json", "sync", "status"]);
    const s: SyncStatusJson = JSON.parse(json.out);
    equal(s.Error, null);
    equal(s.RetryAt, null);
    equal(SyncMethod.Status, "Filnode.SyncStatus");
  });
});
