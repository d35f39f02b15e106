import { equal, ok, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { encodeCbor } from "../src/ipld/block.ts";
import { FilecoinNode } from "../src/node.ts";
import { repoLayout } from "../src/repo/layout.ts";
import {
  initRepo,
  RepoExistsError,
  RepoNotInitializedError,
  RepoVersionError,
} from "../src/repo/repo.ts";
import { RepoLockedError } from "../src/repo/repo_lock.ts";
import { WrongPassphraseError } from "../src/repo/keystore.ts";
import { ConfigError } from "../src/repo/config.ts";
import { fsckRepo } from "../src/cli/repo_fsck.ts";
import { withTempDir } from "./_temp.ts";

function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  return withTempDir("filnode-node-", (base) => fn(join(base, "root")));
}

Deno.test("`FilecoinNode` starts its systems, persists a block across restarts, and stops idempotently", async () => {
  await withRoot(async (root) => {
    await initRepo(root, { insecureKeystore: true });
    const block = encodeCbor({ hello: "filecoin" });
    const node = new FilecoinNode({ root, exclusive: true, timeSource: new FakeTimeSource(0) });
    await node.start();
    ok(node.running);
    await node.ipld.put(block.cid, block.bytes);
    equal((await node.keystore.list()).length, 1); // the libp2p identity made by init
    equal(node.clock.currentEpoch(), 0);
    equal(node.config.Store.MaxBlockSize, 2 * 1024 * 1024);
    await node.stop();
    await node.stop();
    equal(node.running, false);
    throws(() => node.ipld, /stopped/);

    const again = new FilecoinNode({ root, exclusive: true });
    await again.start();
    try {
      equal((await again.ipld.get(block.cid)).length, block.bytes.length);
    } finally {
      await again.stop();
    }
  });
});

Deno.test("`FilecoinNode.start()` refuses a root another exclusive node holds, and unwinds", async () => {
  await withRoot(async (root) => {
    await initRepo(root, { insecureKeystore: true });
    const first = new FilecoinNode({ root, exclusive: true });
    await first.start();
    try {
      const second = new FilecoinNode({ root, exclusive: true });
      await rejects(second.start(), RepoLockedError);
      equal(second.running, false);
      // A failed start released everything: stopping it is a no-op.
      await second.stop();
    } finally {
      await first.stop();
    }
    // The lock is free again.
    const third = new FilecoinNode({ root, exclusive: true });
    await third.start();
    await third.stop();
  });
});

Deno.test("`FilecoinNode.start()` on a bad root fails with a user error and leaves nothing open", async () => {
  await withRoot(async (root) => {
    await rejects(new FilecoinNode({ root }).start(), RepoNotInitializedError);
    await initRepo(root, { passphrase: "pass phrase one" });
    await rejects(new FilecoinNode({ root, passphrase: "wrong" }).start(), WrongPassphraseError);
    await Deno.writeTextFile(repoLayout(root).config, "[Store\nPath = 1\n");
    await rejects(new FilecoinNode({ root, passphrase: "pass phrase one" }).start(), ConfigError);
    await Deno.writeTextFile(repoLayout(root).version, "99\n");
    await rejects(new FilecoinNode({ root }).start(), RepoVersionError);
  });
});

Deno.test("`initRepo()` refuses an initialised root and keeps its identity key", async () => {
  await withRoot(async (root) => {
    await initRepo(root, { insecureKeystore: true });
    const before = await Deno.readTextFile(repoLayout(root).config);
    await rejects(initRepo(root, { insecureKeystore: true }), RepoExistsError);
    equal(await Deno.readTextFile(repoLayout(root).config), before);
    const mode = (await Deno.stat(root)).mode! & 0o777;
    equal(mode, 0o700);
  });
});

Deno.test("`FilecoinNode.stop()` called during start waits for it, then stops everything", async () => {
  await withRoot(async (root) => {
    await initRepo(root, { insecureKeystore: true });
    const node = new FilecoinNode({ root, exclusive: true });
    const starting = node.start();
    await node.stop();
    await starting;
    equal(node.running, false);
    // The lock was released: another node can take the root.
    const next = new FilecoinNode({ root, exclusive: true });
    await next.start();
    await next.stop();
  });
});

Deno.test("devnet genesis is derived from the network name, and fsck repairs a dangling genesis pointer", async () => {
  await withRoot(async (root) => {
    const genesisOf = async (r: string, network: string) => {
      await initRepo(r, { insecureKeystore: true, config: { "Chain.Network": network } });
      const node = new FilecoinNode({ root: r, exclusive: true });
      await node.start();
      try {
        return node.chain.genesis.toString();
      } finally {
        await node.stop();
      }
    };
    const a = await genesisOf(`${root}-a`, "alpha");
    const a2 = await genesisOf(`${root}-a2`, "alpha");
    const b = await genesisOf(`${root}-b`, "beta");
    equal(a, a2);
    ok(a !== b);

    // Point genesis at a block that is not stored: fsck reports damage and repair removes it.
    const kv = await Deno.openKv(repoLayout(`${root}-a`).kv);
    try {
      await kv.set(["chain", "genesis"], encodeCbor({ missing: true }).cid.bytes);
    } finally {
      kv.close();
    }
    const report = await fsckRepo(`${root}-a`);
    equal(report.clean, false);
    equal(report.pointerProblems.length, 1);
    equal((await fsckRepo(`${root}-a`, { repair: true })).pointerProblems.length, 1);
    equal((await fsckRepo(`${root}-a`)).clean, true);
    // The next start recreates the same genesis from config.
    const again = new FilecoinNode({ root: `${root}-a`, exclusive: true });
    await again.start();
    try {
      equal(again.chain.genesis.toString(), a);
    } finally {
      await again.stop();
    }
    for (const r of ["a", "a2", "b"]) await Deno.remove(`${root}-${r}`, { recursive: true });
  });
});
