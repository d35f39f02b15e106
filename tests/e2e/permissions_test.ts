/**
 * The node runs with read/write limited to its root: these tests start the real program with the
 * exact flags of `deno task start` and show what is allowed and what is refused.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { filnode, LineProcess, MAIN, PROJECT_DIR, startTaskFlags } from "./harness.ts";
import { exists } from "../../src/repo/fs_atomic.ts";
import { withTempDir } from "../_temp.ts";

Deno.test("the start task's flags refuse reads and writes outside the root", async () => {
  await withTempDir("filnode-perm-", async (base) => {
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(root);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...await startTaskFlags(root),
        join(PROJECT_DIR, "tests/e2e/fixtures/probe_outside.ts"),
        root,
        outside,
      ],
      cwd: PROJECT_DIR,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    deepStrictEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      writeInside: "ok",
      readInside: "ok",
      readOutside: "NotCapable",
      writeOutside: "NotCapable",
      listOutside: "NotCapable",
      kvOutside: "NotCapable",
      envHome: "NotCapable",
      netOutside: "NotCapable",
    });
    equal(await exists(join(outside, "written.txt")), false);
    equal(await exists(join(outside, "kv.sqlite")), false);
  });
});

Deno.test("a daemon whose config points its store outside the root is refused and writes nothing there", async () => {
  await withTempDir("filnode-perm-", async (base) => {
    const root = join(base, "root");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    const init = await filnode(root, ["init", "--devnet"]);
    equal(init.code, 0, init.stderr);
    const set = await filnode(root, ["config", "set", "Store.Path", join(outside, "store.sqlite")]);
    equal(set.code, 0, set.stderr);
    const run = await filnode(root, ["daemon"]);
    equal(run.code, 1, run.stderr);
    match(run.stderr, /not permitted/);
    ok(!run.stderr.includes("    at "), `no stack trace expected:\n${run.stderr}`);
    deepStrictEqual(await Array.fromAsync(Deno.readDir(outside)), []);
  });
});

Deno.test("`deno task start` flags run a devnet daemon that stops cleanly on SIGTERM", async () => {
  await withTempDir("filnode-perm-", async (base) => {
    const root = join(base, "root");
    const daemon = LineProcess.spawn(MAIN, ["--root", root, "daemon", "--devnet"], {
      flags: await startTaskFlags(root),
    });
    await daemon.waitForLine("stdout", (l) => l.startsWith("filnode daemon ready"));
    daemon.kill("SIGTERM");
    const { code } = await daemon.finished();
    equal(code, 0, daemon.text("stderr").join("\n"));
    ok(await exists(join(root, "config.toml")));
    ok(await exists(join(root, "kv", "store.sqlite")));
  });
});

Deno.test("a second daemon on a root refuses; after the first is killed a new one recovers the lock", async () => {
  await withTempDir("filnode-lock-", async (base) => {
    const root = join(base, "root");
    const flags = await startTaskFlags(root);
    const first = LineProcess.spawn(MAIN, ["--root", root, "daemon", "--devnet"], { flags });
    await first.waitForLine("stdout", (l) => l.startsWith("filnode daemon ready"));

    const second = await filnode(root, ["daemon"]);
    equal(second.code, 1);
    match(second.stderr, new RegExp(`in use by another filnode daemon \\(pid ${first.pid}\\)`));

    first.kill("SIGKILL");
    equal((await first.finished()).signal, "SIGKILL");

    const third = LineProcess.spawn(MAIN, ["--root", root, "daemon"], { flags });
    await third.waitForLine("stdout", (l) => l.startsWith("filnode daemon ready"));
    third.kill("SIGINT");
    equal((await third.finished()).code, 0);
  });
});
