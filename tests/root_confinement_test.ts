import { equal, rejects } from "node:assert/strict";
import { join } from "node:path";
import {
  assertPathsInsideRoot,
  PathOutsideRootError,
  resolveThroughLinks,
  SymlinkLoopError,
} from "../src/repo/root_confinement.ts";
import { withTempDir } from "./_temp.ts";

/** `base/root` and `base/outside`, both real folders, resolved (the temp folder may be a link). */
async function rootAndOutside(base: string): Promise<{ root: string; outside: string }> {
  const real = await Deno.realPath(base);
  const root = join(real, "root");
  const outside = join(real, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  return { root, outside };
}

Deno.test("`resolveThroughLinks()` follows links in the existing part and dangling ones, keeps the rest", async () => {
  await withTempDir("filnode-confine-", async (base) => {
    const { root, outside } = await rootAndOutside(base);
    await Deno.symlink(outside, join(root, "kv"));
    await Deno.symlink(join(outside, "not-yet"), join(root, "dangling"));
    equal(
      await resolveThroughLinks(join(root, "kv", "store.sqlite")),
      join(outside, "store.sqlite"),
    );
    // A create through a dangling link makes its target: where it leads is what counts.
    equal(await resolveThroughLinks(join(root, "dangling", "a")), join(outside, "not-yet", "a"));
    equal(await resolveThroughLinks(join(root, "new", "a")), join(root, "new", "a"));
  });
});

Deno.test("`resolveThroughLinks()` gives up on a symlink loop with SymlinkLoopError", async () => {
  await withTempDir("filnode-confine-", async (base) => {
    const { root } = await rootAndOutside(base);
    await Deno.symlink(join(root, "b"), join(root, "a"));
    await Deno.symlink(join(root, "a"), join(root, "b"));
    await rejects(resolveThroughLinks(join(root, "a", "x")), SymlinkLoopError);
  });
});

Deno.test("`assertPathsInsideRoot()` refuses a path in the root that a link leads outside, naming both", async () => {
  await withTempDir("filnode-confine-", async (base) => {
    const { root, outside } = await rootAndOutside(base);
    await Deno.symlink(outside, join(root, "kv"));
    const path = join(root, "kv", "store.sqlite");
    await rejects(assertPathsInsideRoot(root, [join(root, "files"), path]), (err) => {
      equal(err instanceof PathOutsideRootError, true);
      const e = err as PathOutsideRootError;
      equal(e.path, path);
      equal(e.resolved, join(outside, "store.sqlite"));
      equal(e.message.startsWith(`"${path}" resolves to "${join(outside, "store.sqlite")}"`), true);
      return true;
    });
  });
});

Deno.test("`assertPathsInsideRoot()` accepts a root that is itself a link, links within it, and paths written outside it", async () => {
  await withTempDir("filnode-confine-", async (base) => {
    const { root, outside } = await rootAndOutside(base);
    const linkedRoot = join(base, "linked-root");
    await Deno.symlink(root, linkedRoot);
    await Deno.mkdir(join(root, "data"));
    await Deno.symlink(join(root, "data"), join(root, "kv"));
    await assertPathsInsideRoot(linkedRoot, [
      join(linkedRoot, "kv", "store.sqlite"),
      join(linkedRoot, "config.toml"),
      // Written outside the root: the grants decide, not this check.
      join(outside, "store.sqlite"),
    ]);
  });
});
