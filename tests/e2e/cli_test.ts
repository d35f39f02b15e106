/**
 * The CLI as an operator meets it, in real processes with the start task's scoped flags: help and
 * exit codes, and bad input (corrupt config, wrong passphrase, corrupt store records) giving one-line
 * errors while losing nothing.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { encodeCbor, encodeRaw } from "../../src/ipld/block.ts";
import { KvBlockKeys, KvIpldStore } from "../../src/repo/kv_ipld_store.ts";
import { repoLayout } from "../../src/repo/layout.ts";
import { filnode } from "./harness.ts";
import { withTempDir } from "../_temp.ts";

function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  return withTempDir("filnode-cli-", (base) => fn(join(base, "root")));
}

function noStackTrace(stderr: string): void {
  ok(!/^\s+at /m.test(stderr), `expected no stack trace:\n${stderr}`);
  equal(stderr.trim().split("\n").length, 1, `expected one line:\n${stderr}`);
}

Deno.test("filnode --help lists the commands; unknown commands and bad arguments exit 1 in one line", async () => {
  await withRoot(async (root) => {
    const help = await filnode(root, ["--help"]);
    equal(help.code, 0);
    for (const cmd of ["init", "daemon", "config", "wallet", "repo"]) {
      match(help.stdout, new RegExp(`\\n  ${cmd} `));
    }
    const groupHelp = await filnode(root, ["repo", "--help"]);
    equal(groupHelp.code, 0);
    match(groupHelp.stdout, /fsck/);
    const verbHelp = await filnode(root, ["repo", "fsck", "--help"]);
    equal(verbHelp.code, 0);
    match(verbHelp.stdout, /--deep/);

    const unknown = await filnode(root, ["frobnicate"]);
    equal(unknown.code, 1);
    noStackTrace(unknown.stderr);
    const badFlag = await filnode(root, ["repo", "fsck", "--bogus"]);
    equal(badFlag.code, 1);
    noStackTrace(badFlag.stderr);
    const notInit = await filnode(root, ["wallet", "list"]);
    equal(notInit.code, 1);
    match(notInit.stderr, /not a filnode root; run `filnode init`/);
    noStackTrace(notInit.stderr);
  });
});

Deno.test("a corrupt config names the line, and fixing it gives back every key", async () => {
  await withRoot(async (root) => {
    equal((await filnode(root, ["init", "--devnet"])).code, 0);
    const created = await filnode(root, ["--json", "wallet", "new"]);
    equal(created.code, 0, created.stderr);
    const { address } = JSON.parse(created.stdout);
    const configPath = repoLayout(root).config;
    const good = await Deno.readTextFile(configPath);

    await Deno.writeTextFile(configPath, good.replace("[Chain]", '[Chain]\nBlockDelay = "thirty"'));
    const bad = await filnode(root, ["wallet", "list"]);
    equal(bad.code, 1);
    match(bad.stderr, /Chain\.BlockDelay.*line \d+/);
    noStackTrace(bad.stderr);
    const daemon = await filnode(root, ["daemon"]);
    equal(daemon.code, 1);
    noStackTrace(daemon.stderr);

    await Deno.writeTextFile(configPath, good.replace("[Store]", "[Store\n"));
    const syntax = await filnode(root, ["config", "show"]);
    equal(syntax.code, 1);
    match(syntax.stderr, /config\.toml:\d+:\d+/);

    await Deno.writeTextFile(configPath, good);
    const listed = await filnode(root, ["--json", "wallet", "list"]);
    equal(listed.code, 0, listed.stderr);
    ok(JSON.stringify(JSON.parse(listed.stdout)).includes(address));
  });
});

Deno.test("a wrong or missing passphrase is a one-line error and the keys stay usable", async () => {
  await withRoot(async (root) => {
    const env = { FILNODE_PASSPHRASE: "correct horse battery staple" };
    equal((await filnode(root, ["init"], { env })).code, 0);
    const created = await filnode(root, ["--json", "wallet", "new"], { env });
    equal(created.code, 0, created.stderr);

    const wrong = await filnode(root, ["wallet", "list"], { env: { FILNODE_PASSPHRASE: "wrong" } });
    equal(wrong.code, 1);
    match(wrong.stderr, /wrong keystore passphrase/);
    noStackTrace(wrong.stderr);
    const missing = await filnode(root, ["daemon"]);
    equal(missing.code, 1);
    match(missing.stderr, /FILNODE_PASSPHRASE/);
    noStackTrace(missing.stderr);

    const listed = await filnode(root, ["--json", "wallet", "list"], { env });
    equal(listed.code, 0, listed.stderr);
    ok(listed.stdout.includes(JSON.parse(created.stdout).address));
  });
});

Deno.test("`repo fsck` reports a corrupt store record as damage, `--repair` removes only it", async () => {
  await withRoot(async (root) => {
    equal((await filnode(root, ["init", "--devnet"])).code, 0);
    const good = [encodeCbor({ n: 1 }), encodeRaw(new Uint8Array(200_000).fill(7))];
    const victim = encodeRaw(new Uint8Array(150_000).fill(9));
    const kv = await Deno.openKv(repoLayout(root).kv);
    try {
      const store = new KvIpldStore(kv);
      await store.putMany([...good, victim]);
      // Damage one record the way a bad disk or a buggy tool would: a wrong-typed value.
      await kv.set(new KvBlockKeys(["blocks"]).block(victim.cid), "not a block");
    } finally {
      kv.close();
    }

    const check = await filnode(root, ["--json", "repo", "fsck"]);
    equal(check.code, 1);
    const report = JSON.parse(check.stdout);
    equal(report.clean, false);
    deepStrictEqual(report.store.brokenBlocks, [victim.cid.toString()]);

    const repair = await filnode(root, ["--json", "repo", "fsck", "--repair"]);
    equal(repair.code, 0, repair.stderr);
    const after = await filnode(root, ["--json", "repo", "fsck", "--deep"]);
    equal(after.code, 0, after.stderr);
    equal(JSON.parse(after.stdout).clean, true);

    const kv2 = await Deno.openKv(repoLayout(root).kv);
    try {
      const store = new KvIpldStore(kv2);
      for (const b of good) deepStrictEqual(await store.get(b.cid), b.bytes);
      equal(await store.has(victim.cid), false);
    } finally {
      kv2.close();
    }
  });
});
