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
import { filnode, LineProcess, MAIN, startTaskFlags } from "./harness.ts";
import { STARTING_LINE, STOPPING_LINE } from "../../src/cli/daemon.ts";
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

Deno.test("SIGTERM at any moment of daemon start-up is a normal stop: exit 0, the stopping line, no internal error", async () => {
  // Each signal lands at a different step of start-up: at the progress line (store opening),
  // then spread over the rest (genesis, keystore, network, control API), up to after ready.
  // Whichever step it interrupts, the outcome must be that of a stop after start-up.
  const delaysMs = [0, 20, 60, 120, 250, 500, 1000];
  for (const [i, delay] of delaysMs.entries()) {
    await withTempDir("filnode-ops-", async (base) => {
      const root = join(base, "root");
      // The first signal lands right after init, before the store opens.
      const daemon = LineProcess.spawn(MAIN, ["--root", root, "daemon", "--devnet"], {
        flags: await startTaskFlags(root),
      });
      const at = i === 0 ? "initialised filnode root" : STARTING_LINE;
      await daemon.waitForLine("stderr", (l) => l.startsWith(at));
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const status = await daemon.stop("SIGTERM");
      const stderr = daemon.text("stderr").join("\n");
      equal(status.code, 0, `SIGTERM ${delay} ms after "${at}":\n${stderr}`);
      ok(daemon.text("stderr").includes(STOPPING_LINE), stderr);
      ok(!stderr.includes("internal error"), stderr);
    });
  }
});

/**
 * Runs a daemon on `root` expecting it to refuse to start, and returns its stderr bar the start-up
 * progress line; a daemon that gets to ready instead is stopped and fails the test (rather than
 * running until the test's timeout).
 */
async function daemonRefuses(root: string): Promise<string> {
  const daemon = LineProcess.spawn(MAIN, ["--root", root, "daemon"], {
    flags: await startTaskFlags(root),
  });
  // The ready line, or (when the process ends without one) its exit status.
  const status = await daemon.waitForLine("stdout", (l) => l.startsWith("filnode daemon ready"))
    .then(() => "ready" as const, () => daemon.finished());
  if (status === "ready") {
    await daemon.stop();
    throw new Error(`the daemon started:\n${daemon.text("stderr").join("\n")}`);
  }
  equal(status.code, 1, daemon.text("stderr").join("\n"));
  return daemon.text("stderr").filter((l) => !l.startsWith(STARTING_LINE)).join("\n");
}

Deno.test("a root whose store folder is a symlink leading outside is refused by daemon and fsck, naming both ends", async () => {
  await withTempDir("filnode-ops-", async (tmp) => {
    const base = await Deno.realPath(tmp);
    const root = join(base, "root");
    const outside = join(base, "outside");
    equal((await filnode(root, ["init", "--devnet"])).code, 0);
    // The operator "moved the store to another disk" with a link: writes would follow it.
    await Deno.rename(join(root, "kv"), outside);
    await Deno.symlink(outside, join(root, "kv"));
    const before = await Array.fromAsync(Deno.readDir(outside), (e) => e.name);

    const stderr = await daemonRefuses(root);
    oneLine(stderr);
    match(stderr, /not permitted/);
    ok(stderr.includes(`"${join(root, "kv")}" resolves to "${outside}", outside the root`), stderr);

    const fsck = await filnode(root, ["repo", "fsck"]);
    equal(fsck.code, 1, fsck.stderr);
    oneLine(fsck.stderr);
    ok(fsck.stderr.includes(`"${join(root, "kv")}" resolves to "${outside}"`), fsck.stderr);
    equal(
      (await Array.fromAsync(Deno.readDir(outside), (e) => e.name)).sort().join(),
      before.sort().join(),
    );
  });
});

Deno.test("`Store.Path` through a symlink in the root that leads outside is refused, and nothing is written there", async () => {
  await withTempDir("filnode-ops-", async (tmp) => {
    const base = await Deno.realPath(tmp);
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    equal((await filnode(root, ["init", "--devnet"])).code, 0);
    await Deno.symlink(outside, join(root, "elsewhere"));
    const set = await filnode(root, ["config", "set", "Store.Path", "elsewhere/store.sqlite"]);
    equal(set.code, 0, set.stderr);

    const stderr = await daemonRefuses(root);
    oneLine(stderr);
    ok(
      stderr.includes(
        `"${join(root, "elsewhere", "store.sqlite")}" resolves to "${
          join(outside, "store.sqlite")
        }"`,
      ),
      stderr,
    );
    equal((await Array.fromAsync(Deno.readDir(outside))).length, 0);
  });
});
