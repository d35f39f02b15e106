/**
 * DiskFileStore behaviour the contract tests cannot see: folder modes, temp files and their
 * cleanup, symlink escapes, write failures. Needs only --allow-read and --allow-write.
 */
import { join } from "node:path";
import { DiskFileStore, PARTIAL_SUFFIX } from "../src/filestore/disk_file_store.ts";
import {
  FileNotFoundError,
  FileStoreWriteError,
  InvalidFileNameError,
} from "../src/filestore/file_store.ts";
import { UserError } from "../src/errors.ts";
import { exists } from "../src/repo/fs_atomic.ts";
import { withTempDir } from "./_temp.ts";
import { assert, assertEquals, assertRejects } from "./_file_store.ts";

/**
 * Whether this process is held to mode bits. Root (and CAP_DAC_OVERRIDE) is not; asking Deno.uid()
 * would need --allow-sys, so try writing into a read-only folder instead.
 */
async function modeBitsEnforced(): Promise<boolean> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o500);
    await Deno.writeTextFile(join(dir, "probe"), "");
    return false;
  } catch {
    return true;
  } finally {
    await Deno.chmod(dir, 0o700);
    await Deno.remove(dir, { recursive: true });
  }
}

const readOnlyWorks = await modeBitsEnforced();

function bytesOf(size: number, fill = 7): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

function streamOf(bytes: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/**
 * Emits `bytes`, then pauses: `drained` resolves once the consumer asks for more, and the stream
 * ends only when `finish()` is called, so a test can look at a put() in mid-write.
 */
function pausedStream(bytes: Uint8Array): {
  stream: ReadableStream<Uint8Array>;
  drained: Promise<void>;
  finish: () => void;
} {
  const drained = Promise.withResolvers<void>();
  const finish = Promise.withResolvers<void>();
  let step = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (step++ === 0) return controller.enqueue(bytes);
      drained.resolve();
      await finish.promise;
      controller.close();
    },
  }, { highWaterMark: 0 });
  return { stream, drained: drained.promise, finish: () => finish.resolve() };
}

async function readText(store: DiskFileStore, name: string): Promise<string> {
  return await new Response(await store.get(name)).text();
}

/** A temp folder holding a store at `files/` and room beside it for "outside" targets. */
async function withStore(
  fn: (store: DiskFileStore, dirs: { root: string; files: string; tmp: string }) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "disk_file_store_test_" });
  try {
    const files = join(root, "files");
    const store = await DiskFileStore.open(files);
    await fn(store, { root, files, tmp: join(files, ".tmp") });
  } finally {
    // Undo any chmod a test made so that cleanup can remove everything.
    await Deno.chmod(join(root, "files"), 0o700).catch(() => {});
    await Deno.chmod(join(root, "files", ".tmp"), 0o700).catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("`DiskFileStore.open()` creates the folder and .tmp owner-only, and reopens", async () => {
  await withTempDir("disk_file_store_test_", async (root) => {
    const dir = join(root, "deep", "files");
    await DiskFileStore.open(dir);
    assertEquals((await Deno.stat(dir)).mode! & 0o077, 0);
    assertEquals((await Deno.stat(join(dir, ".tmp"))).mode! & 0o077, 0);
    const again = await DiskFileStore.open(dir);
    assertEquals(again.dir, dir);
  });
});

Deno.test("`DiskFileStore.put()` leaves owner-only files and folders and an empty .tmp", async () => {
  await withStore(async (store, { files, tmp }) => {
    await store.put("sub/dir/f", streamOf(bytesOf(3 * 1024 * 1024 + 1)));
    assertEquals((await Deno.stat(join(files, "sub/dir/f"))).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(join(files, "sub"))).mode! & 0o077, 0);
    assertEquals((await Deno.stat(join(files, "sub/dir/f"))).size, 3 * 1024 * 1024 + 1);
    assertEquals(await entries(tmp), []);
  });
});

Deno.test("`DiskFileStore.put()` streams into .tmp and shows nothing under the name until done", async () => {
  await withStore(async (store, { files, tmp }) => {
    const { stream, drained, finish } = pausedStream(bytesOf(2 * 1024 * 1024));
    const put = store.put("f", stream);
    await drained;
    // Mid-write: a partial in .tmp, nothing under the final name, nothing listed.
    const partials = await entries(tmp);
    assertEquals(partials.length, 1);
    assert(partials[0].endsWith(PARTIAL_SUFFIX));
    assert(!(await exists(join(files, "f"))));
    assertEquals(await store.list(), []);
    await assertRejects(() => store.stat("f"), FileNotFoundError);
    // cleanTemp() spares a write in progress in the same store.
    assertEquals(await store.countTemp(), 0);
    assertEquals(await store.cleanTemp(), 0);
    finish();
    assertEquals((await put).size, 2 * 1024 * 1024);
    assertEquals(await entries(tmp), []);
  });
});

Deno.test("`DiskFileStore.put()` failing or aborted leaves no debris in .tmp", async () => {
  await withStore(async (store, { files, tmp }) => {
    await store.put("f", streamOf(new TextEncoder().encode("old")));
    let sent = false;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("source broke"));
        sent = true;
        controller.enqueue(bytesOf(3 * 1024 * 1024));
      },
    });
    await assertRejects(() => store.put("f", failing), Error, "source broke");
    assertEquals(await entries(tmp), []);

    const controller = new AbortController();
    const aborting = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(bytesOf(1024 * 1024));
        controller.abort(new Error("aborted by test"));
      },
    });
    await assertRejects(
      () => store.put("f", aborting, { signal: controller.signal }),
      Error,
      "aborted by test",
    );
    assertEquals(await entries(tmp), []);
    assertEquals(await readText(store, "f"), "old");
    assertEquals(await entries(files), [".tmp", "f"]);
  });
});

Deno.test("`DiskFileStore.put()` throws FileStoreWriteError when .tmp is not writable", async () => {
  await withStore(async (store, { files, tmp }) => {
    // Root ignores permission bits, so break .tmp by making it a file instead.
    await Deno.remove(tmp);
    await Deno.writeTextFile(tmp, "not a folder");
    const source = streamOf(bytesOf(1000));
    const err = await assertRejects(() => store.put("f", source), FileStoreWriteError);
    assert(err instanceof UserError);
    assert(err.message.includes('"f"'), err.message);
    assertEquals(await entries(files), [".tmp"]);
    assertEquals(await Deno.readTextFile(tmp), "not a folder");
    assert(!source.locked, "the source was released");
  });
});

Deno.test({
  name: "`DiskFileStore.put()` into a read-only store throws FileStoreWriteError, no debris",
  ignore: !readOnlyWorks, // root bypasses mode bits; the test above covers the same path
  fn: async () => {
    await withStore(async (store, { files, tmp }) => {
      await Deno.chmod(tmp, 0o500);
      await Deno.chmod(files, 0o500);
      const err = await assertRejects(
        () => store.put("f", streamOf(bytesOf(1000))),
        FileStoreWriteError,
        "permission denied",
      );
      assert(err.cause instanceof Deno.errors.PermissionDenied);
      await assertRejects(() => store.put("sub/f", streamOf(bytesOf(10))), FileStoreWriteError);
      assertEquals(await entries(tmp), []);
      assertEquals(await entries(files), [".tmp"]);
    });
  },
});

Deno.test("`DiskFileStore.put()` of a rename that cannot happen removes its temp file", async () => {
  await withStore(async (store, { files, tmp }) => {
    // A folder appearing under the name while the write runs: rename(2) refuses to replace it.
    const { stream, drained, finish } = pausedStream(bytesOf(10));
    const put = store.put("f", stream);
    await drained;
    await Deno.mkdir(join(files, "f"));
    await Deno.writeTextFile(join(files, "f", "inner"), "x");
    finish();
    await assertRejects(() => put, UserError);
    assertEquals(await entries(tmp), []);
    assertEquals(await entries(join(files, "f")), ["inner"]);
  });
});

Deno.test("`DiskFileStore` refuses a symlinked folder leading outside the store", async () => {
  await withStore(async (store, { root, files }) => {
    const outside = join(root, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret"), "do not touch");
    await Deno.symlink(outside, join(files, "evil"));

    await assertRejects(
      () => store.put("evil/x", streamOf(bytesOf(10))),
      InvalidFileNameError,
      "outside the store",
    );
    await assertRejects(() => store.put("evil/sub/x", streamOf(bytesOf(10))), InvalidFileNameError);
    await assertRejects(
      () => store.put("evil/secret", streamOf(bytesOf(10))),
      InvalidFileNameError,
    );
    await assertRejects(() => store.get("evil/secret"), InvalidFileNameError);
    await assertRejects(() => store.stat("evil/secret"), InvalidFileNameError);
    await assertRejects(() => store.delete("evil/secret"), InvalidFileNameError);
    // Nothing was created, changed or removed outside.
    assertEquals(await entries(outside), ["secret"]);
    assertEquals(await Deno.readTextFile(join(outside, "secret")), "do not touch");
    // The symlink is not a stored file and the store did not follow it.
    assertEquals(await store.list(), []);
  });
});

Deno.test("`DiskFileStore` refuses symlinks to outside files, dangling links and links into .tmp", async () => {
  await withStore(async (store, { root, files, tmp }) => {
    const secret = join(root, "secret");
    await Deno.writeTextFile(secret, "do not read");
    await Deno.symlink(secret, join(files, "link"));
    await assertRejects(() => store.get("link"), InvalidFileNameError);
    await assertRejects(() => store.stat("link"), InvalidFileNameError);

    await Deno.symlink(join(root, "nowhere"), join(files, "dangling"));
    await assertRejects(() => store.put("dangling/x", streamOf(bytesOf(1))), InvalidFileNameError);
    assert(!(await exists(join(root, "nowhere"))));

    await Deno.symlink(tmp, join(files, "t"));
    await assertRejects(() => store.put("t/x.partial", streamOf(bytesOf(1))), InvalidFileNameError);
    assertEquals(await entries(tmp), []);

    // Replacing a symlink by put() replaces the link itself, never the file it points to.
    await store.put("link", streamOf(new TextEncoder().encode("mine")));
    assertEquals(await Deno.readTextFile(secret), "do not read");
    assertEquals(await readText(store, "link"), "mine");
  });
});

Deno.test("`DiskFileStore` follows a symlink that stays inside the store", async () => {
  await withStore(async (store, { files }) => {
    await store.put("real/f", streamOf(new TextEncoder().encode("hello")));
    await Deno.symlink(join(files, "real"), join(files, "alias"));
    assertEquals(await readText(store, "alias/f"), "hello");
    await store.put("alias/g", streamOf(new TextEncoder().encode("via alias")));
    assertEquals(await readText(store, "real/g"), "via alias");
  });
});

Deno.test("`DiskFileStore.cleanTemp()` removes crash leftovers and returns how many", async () => {
  await withStore(async (store, { files, tmp }) => {
    await store.put("kept", streamOf(bytesOf(5)));
    await Deno.writeFile(join(tmp, `a${PARTIAL_SUFFIX}`), bytesOf(100));
    await Deno.writeFile(join(tmp, `b${PARTIAL_SUFFIX}`), bytesOf(100));
    await Deno.writeTextFile(join(tmp, "notes.txt"), "not ours");
    // A crash leftover is never listed as a file.
    assertEquals((await store.list()).map((f) => f.name), ["kept"]);
    // countTemp() (fsck without repair) counts and touches nothing.
    assertEquals(await store.countTemp(), 2);
    assertEquals((await entries(tmp)).length, 3);
    assertEquals(await store.cleanTemp(), 2);
    assertEquals(await entries(tmp), ["notes.txt"]);
    assertEquals(await store.cleanTemp(), 0);
    assertEquals(await store.countTemp(), 0);
    assertEquals(await entries(files), [".tmp", "kept"]);
  });
});

Deno.test("`DiskFileStore.cleanTemp()` on a store without .tmp returns 0", async () => {
  await withTempDir("disk_file_store_test_", async (dir) => {
    const store = new DiskFileStore(dir);
    assertEquals(await store.cleanTemp(), 0);
    assertEquals(await store.countTemp(), 0);
    // put() creates .tmp on demand for a store built with the constructor.
    await store.put("f", streamOf(bytesOf(3)));
    assertEquals(await entries(dir), [".tmp", "f"]);
  });
});

Deno.test("`DiskFileStore.list()` skips symlinks, foreign names and .tmp", async () => {
  await withStore(async (store, { files }) => {
    await store.put("a/b", streamOf(bytesOf(2)));
    await Deno.symlink(join(files, "a", "b"), join(files, "ln"));
    await Deno.writeTextFile(join(files, "back\\slash"), "foreign");
    await Deno.writeTextFile(join(files, ".tmpfoo"), "reserved");
    assertEquals((await store.list()).map((f) => f.name), ["a/b"]);
  });
});

Deno.test("`DiskFileStore.get()` closes its file once the last byte is read", async () => {
  await withStore(async (store) => {
    const size = 2 * 1024 * 1024 + 5;
    await store.put("f", streamOf(bytesOf(size)));
    const reader = (await store.get("f", { range: { start: 3 } })).getReader();
    let got = 0;
    while (got < size - 3) {
      const { done, value } = await reader.read();
      assert(!done);
      got += value.byteLength;
    }
    assertEquals(got, size - 3);
    // No read of `done`, no cancel: the resource sanitizer checks the handle is already closed.
    reader.releaseLock();
  });
});

Deno.test("`DiskFileStore.delete()` prunes emptied folders but keeps non-empty ones", async () => {
  await withStore(async (store, { files }) => {
    await store.put("a/b/c", streamOf(bytesOf(1)));
    await store.put("a/d", streamOf(bytesOf(1)));
    await store.delete("a/b/c");
    assertEquals(await entries(files), [".tmp", "a"]);
    assertEquals(await entries(join(files, "a")), ["d"]);
    await store.delete("a/d");
    assertEquals(await entries(files), [".tmp"]);
  });
});

Deno.test("`DiskFileStore` concurrent puts and deletes in one folder all land", async () => {
  await withStore(async (store, { tmp }) => {
    const names = Array.from({ length: 20 }, (_, i) => `pieces/p${i}`);
    await Promise.all(names.map((n, i) =>
      (async () => {
        await store.put(n, streamOf(bytesOf(1000 + i)));
        if (i % 2 === 0) await store.delete(n);
      })()
    ));
    assertEquals(
      (await store.list()).map((f) => f.name).sort(),
      names.filter((_, i) => i % 2 === 1).sort(),
    );
    assertEquals(await entries(tmp), []);
  });
});
