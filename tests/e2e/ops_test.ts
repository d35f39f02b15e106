/**
 * Operator-facing behaviour of the CLI in real processes with the start task's scoped flags: what
 * a refused path names, what `repo fsck` says it checked, and roots reaching outside themselves
 * through symlinks.
 */
import { equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { encodeCbor, encodeRaw } from "../../src/ipld/block.ts";
import { KvIpldStore } from "../../src/repo/kv_ipld_store.ts";
import { repoLayout } from "../../src/repo/layout.ts";
import { filnode } from "./harness.ts";
import { withTempDir } from "../_temp.ts";

function oneLine(stderr: string): void {
  ok(!/^\s+at /m.test(stderr), `expected no stack trace:\n${stderr}`);
  equal(stderr.trim().split("\n").length, 1, `expected one line:\n${stderr}`);
}

Deno.test("`chain export` to a folder outside the grants names the file asked for, not its temp file", async () => {
  await withTempDir("filnode-ops-", async (base) => {
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    const init = await filnode(root, ["init", "--devnet"]);
    equal(init.code, 0, init.stderr);
    const target = join(outside, "chain.car");
    const run = await filnode(root, ["chain", "export", target]);
    equal(run.code, 1, run.stderr);
    oneLine(run.stderr);
    match(run.stderr, /not permitted/);
    ok(run.stderr.includes(`"${target}"`), `expected the path asked for:\n${run.stderr}`);
    ok(!run.stderr.includes(".tmp"), `expected no temp file name:\n${run.stderr}`);
    ok(run.stderr.includes(`--allow-write=${outside}`), run.stderr);
  });
});

Deno.test("plain `repo fsck` on a store with blocks says what it checked; `--deep` counts every block", async () => {
  await withTempDir("filnode-ops-", async (base) => {
    const root = join(base, "root");
    const init = await filnode(root, ["init", "--devnet"]);
    equal(init.code, 0, init.stderr);
    // Ten small blocks stored inline, one large one chunked.
    const small = Array.from({ length: 10 }, (_, n) => encodeCbor({ n }));
    const large = encodeRaw(new Uint8Array(200_000).fill(7));
    const kv = await Deno.openKv(repoLayout(root).kv);
    try {
      await new KvIpldStore(kv).putMany([...small, large]);
    } finally {
      kv.close();
    }

    const deep = await filnode(root, ["repo", "fsck", "--deep"]);
    equal(deep.code, 0, deep.stderr);
    const counted = deep.stdout.match(/^blocks checked: (\d+), each read and rehashed/m);
    ok(counted, deep.stdout);
    equal(Number(counted[1]), 11, deep.stdout);

    // The plain check reads no inline block: a bare "blocks checked: 0" read as an empty store.
    const plain = await filnode(root, ["repo", "fsck"]);
    equal(plain.code, 0, plain.stderr);
    match(plain.stdout, /^blocks checked: 1 chunked \(records whole, not rehashed\); .*--deep/m);
    const json = await filnode(root, ["--json", "repo", "fsck"]);
    equal(json.code, 0, json.stderr);
    equal(JSON.parse(json.stdout).blocksChecked, "chunked");
  });
});
