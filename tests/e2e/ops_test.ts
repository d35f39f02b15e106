/**
 * Operator-facing behaviour of the CLI in real processes with the start task's scoped flags: what
 * a refused path names, what `repo fsck` says it checked, and roots reaching outside themselves
 * through symlinks.
 */
import { equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
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
