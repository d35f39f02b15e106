/**
 * Chain helpers for multi-process tests and benches: grow a valid devnet chain in a stopped
 * node's root (`fixtures/make_chain.ts`), copy a chain store to another root, read a daemon's
 * head over JSON-RPC and wait for it to reach a given one.
 *
 * @module
 */
import { equal } from "node:assert/strict";
import { join } from "node:path";
import { LineProcess, startTaskFlags } from "./harness.ts";
import { type DevnetNode, poll } from "./network_harness.ts";

const MAKE_CHAIN = new URL("./fixtures/make_chain.ts", import.meta.url).pathname;

/** `Filecoin.ChainHead` as far as these helpers read it. */
export interface Head {
  Cids: { "/": string }[];
  Height: number;
}

/**
 * Grows `count` tipsets in `node`'s root (its daemon must be stopped); `extra` are
 * make_chain's flags (`--blocks K`, `--messages M`, `--salt S`, `--corrupt-first`). Returns
 * make_chain's `head <height> <weight> <cids>` line.
 */
export async function grow(node: DevnetNode, count: number, extra: string[] = []): Promise<string> {
  const proc = LineProcess.spawn(MAKE_CHAIN, [node.root, String(count), ...extra], {
    flags: await startTaskFlags(node.root),
  });
  const status = await proc.finished();
  equal(status.code, 0, `make_chain failed: ${proc.text("stderr").join("\n")}`);
  return proc.text("stdout").find((l) => l.startsWith("head "))!;
}

/** Copies `from`'s chain store into `to`'s root (both stopped): the same chain, another peer. */
export async function copyStore(from: DevnetNode, to: DevnetNode): Promise<void> {
  for (const name of ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"]) {
    try {
      await Deno.copyFile(join(from.root, "kv", name), join(to.root, "kv", name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** The daemon's head. */
export async function head(node: DevnetNode): Promise<Head> {
  return await node.call<Head>("Filecoin.ChainHead");
}

/** A head's identity: its block CIDs joined. */
export const key = (h: Head): string => h.Cids.map((c) => c["/"]).join(",");

/** Waits until `node`'s head equals `want` (compared by CIDs), polling every `intervalMs`. */
export async function waitForHead(
  node: DevnetNode,
  want: Head,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  let last: Head | undefined;
  await poll(async () => {
    last = await head(node).catch(() => undefined);
    return last && key(last) === key(want) ? true : undefined;
  }, {
    timeoutMs,
    intervalMs,
    describe: () =>
      `${node.name} stuck at height ${last?.Height}, want ${want.Height}; its log ends:\n` +
      node.process.text("stderr").slice(-12).join("\n"),
  });
}
