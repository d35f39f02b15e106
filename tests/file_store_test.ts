/**
 * The FileStore contract, run against both backends: what holds for `MemoryFileStore` in a unit
 * test must hold for `DiskFileStore` on a real folder. Disk-only behaviour (symlinks, fsync, temp
 * files, permissions) lives in disk_file_store_test.ts.
 */
import { DiskFileStore } from "../src/filestore/disk_file_store.ts";
import { MemoryFileStore } from "../src/filestore/memory_file_store.ts";
import {
  FileNotFoundError,
  type FileStore,
  InvalidFileNameError,
  InvalidRangeError,
} from "../src/filestore/file_store.ts";
import { NotFoundError, UserError } from "../src/errors.ts";
import { assert, assertEquals, assertRejects } from "./_file_store.ts";

interface Backend {
  name: string;
  open(): Promise<{ store: FileStore; dir?: string; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "MemoryFileStore",
    open: () => Promise.resolve({ store: new MemoryFileStore(), close: () => Promise.resolve() }),
  },
  {
    name: "DiskFileStore",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "filestore_test_" });
      const store = await DiskFileStore.open(`${dir}/files`);
      return { store, dir, close: () => Deno.remove(dir, { recursive: true }) };
    },
  },
];

/** Deterministic, position-dependent bytes: a misplaced or repeated chunk changes the content. */
function pattern(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** `bytes` as a stream of chunks of the given sizes, cycling through them. */
function streamOf(bytes: Uint8Array, chunkSizes = [64 * 1024]): ReadableStream<Uint8Array> {
  let offset = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const size = chunkSizes[i++ % chunkSizes.length];
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/** Emits `bytes` then errors with `error`, as a network source that drops midway. */
function failingStream(bytes: Uint8Array, error: Error): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes);
      } else {
        controller.error(error);
      }
    },
  });
}

/** Emits `bytes`, then stalls until cancelled; `drained` resolves once the stall begins. */
function stallingStream(bytes: Uint8Array): {
  stream: ReadableStream<Uint8Array>;
  drained: Promise<void>;
} {
  const drained = Promise.withResolvers<void>();
  const stall = Promise.withResolvers<void>();
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes);
        return;
      }
      drained.resolve();
      return stall.promise;
    },
    cancel() {
      stall.resolve();
    },
  }, { highWaterMark: 0 });
  return { stream, drained: drained.promise };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Compare large byte arrays without assertEquals' slow diff. */
function assertBytes(actual: Uint8Array, expected: Uint8Array, message = ""): void {
  assertEquals(actual.byteLength, expected.byteLength, `length ${message}`);
  for (let i = 0; i < actual.byteLength; i++) {
    if (actual[i] !== expected[i]) throw new Error(`byte ${i} differs ${message}`);
  }
}

const BAD_NAMES = [
  "",
  "../x",
  "/etc/passwd",
  "a/../../b",
  "a/./b",
  ".",
  "..",
  "a\\b",
  "..\\x",
  ".tmp/x",
  ".tmp",
  ".tmpx",
  "a\0b",
  "a\nb",
  "a\x7fb",
  "a//b",
  "a/",
  "x".repeat(256),
  "d/" + "é".repeat(128), // 256 bytes in one segment
];

for (const backend of backends) {
  const name = backend.name;

  Deno.test(`${name}.put() then get() returns the same bytes across odd chunk sizes`, async () => {
    const { store, close } = await backend.open();
    try {
      const bytes = pattern(3 * 1024 * 1024 + 17);
      // Chunks smaller than, straddling, equal to and larger than a 1 MiB write buffer.
      const patterns = [
        [100_003, 1, 2 * 1024 * 1024, 1024 * 1024],
        [700_000],
        [1, 1024 * 1024 - 1, 1024 * 1024 + 1],
        [4096],
      ];
      for (const chunkSizes of patterns) {
        const info = await store.put("pieces/a.car", streamOf(bytes, chunkSizes));
        assertEquals(info.name, "pieces/a.car");
        assertEquals(info.size, bytes.byteLength);
        assert(info.modified instanceof Date);
        const label = `chunks ${chunkSizes}`;
        assertBytes(await readAll(await store.get("pieces/a.car")), bytes, label);
        await store.delete("pieces/a.car");
      }
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() stores an empty stream as an empty file`, async () => {
    const { store, close } = await backend.open();
    try {
      const info = await store.put("empty", streamOf(new Uint8Array(0)));
      assertEquals(info.size, 0);
      assertEquals((await readAll(await store.get("empty"))).byteLength, 0);
      assertEquals(
        (await readAll(await store.get("empty", { range: { start: 0 } }))).byteLength,
        0,
      );
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() over an existing name replaces it, longer by shorter`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("f", streamOf(pattern(200_000, 1)));
      const second = pattern(1000, 2);
      const info = await store.put("f", streamOf(second));
      assertEquals(info.size, 1000);
      assertEquals((await store.stat("f")).size, 1000);
      assertBytes(await readAll(await store.get("f")), second);
      assertEquals((await store.list()).map((f) => f.name), ["f"]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.stat() reports size and time; absent names throw FileNotFoundError`, async () => {
    const { store, close } = await backend.open();
    try {
      const before = Date.now() - 2000;
      await store.put("dir/f.bin", streamOf(pattern(4321)));
      const info = await store.stat("dir/f.bin");
      assertEquals(info.name, "dir/f.bin");
      assertEquals(info.size, 4321);
      assert(info.modified.getTime() >= before);
      const err = await assertRejects(() => store.stat("dir/nope"), FileNotFoundError);
      assert(err instanceof NotFoundError && err instanceof UserError);
      assertEquals(err.fileName, "dir/nope");
      await assertRejects(() => store.stat("nodir/f.bin"), FileNotFoundError);
      // A folder is not a file.
      await assertRejects(() => store.stat("dir"), FileNotFoundError);
      // A file is not a folder.
      await assertRejects(() => store.stat("dir/f.bin/x"), FileNotFoundError);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() of an absent file throws FileNotFoundError`, async () => {
    const { store, close } = await backend.open();
    try {
      await assertRejects(() => store.get("missing"), FileNotFoundError);
      await assertRejects(() => store.get("a/b/missing"), FileNotFoundError);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.list() returns every file sorted, subfolders as a/b names`, async () => {
    const { store, close } = await backend.open();
    try {
      assertEquals(await store.list(), []);
      for (const n of ["b", "a/z", "a/b/c", "Z", "a0"]) {
        await store.put(n, streamOf(new TextEncoder().encode(n)));
      }
      const listed = await store.list();
      assertEquals(listed.map((f) => f.name), ["Z", "a/b/c", "a/z", "a0", "b"]);
      assertEquals(listed.map((f) => f.size), [1, 5, 3, 2, 1]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.delete() removes a file; an absent one is a no-op`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("a/b", streamOf(pattern(10)));
      await store.put("keep", streamOf(pattern(10)));
      await store.delete("a/b");
      await assertRejects(() => store.get("a/b"), FileNotFoundError);
      await store.delete("a/b");
      await store.delete("never/was");
      await store.delete("a"); // a folder, not a file: nothing happens
      assertEquals((await store.list()).map((f) => f.name), ["keep"]);
      // The emptied folder does not block a file of its name.
      await store.put("a", streamOf(pattern(3)));
      assertEquals((await store.stat("a")).size, 3);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() refuses a file inside a file and a file over a folder`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("f", streamOf(pattern(5)));
      await assertRejects(() => store.put("f/x", streamOf(pattern(5))), InvalidFileNameError);
      await store.put("d/x", streamOf(pattern(5)));
      await assertRejects(() => store.put("d", streamOf(pattern(5))), InvalidFileNameError);
      assertEquals((await store.list()).map((f) => f.name), ["d/x", "f"]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() accepts unicode names and 255-byte segments`, async () => {
    const { store, close } = await backend.open();
    try {
      const long = "x".repeat(255);
      const names = ["pieces/ünïcödé ✓.car", `d/${long}`, "a.b/.hidden", "..dots"];
      for (const n of names) await store.put(n, streamOf(pattern(7)));
      assertEquals((await store.list()).map((f) => f.name), [...names].sort());
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() with a range streams exactly that slice`, async () => {
    const { store, close } = await backend.open();
    try {
      const size = 2 * 1024 * 1024 + 333; // spans read chunks
      const bytes = pattern(size);
      await store.put("r", streamOf(bytes));
      const cases: [number, number | undefined][] = [
        [0, undefined],
        [0, size],
        [10, 20],
        [1, 2],
        [1024 * 1024 - 1, 1024 * 1024 + 1],
        [size - 1, undefined],
        [size - 5, size],
        [7, 7],
        [size, undefined],
        [size, size],
        [0, 0],
      ];
      for (const [start, end] of cases) {
        const got = await readAll(await store.get("r", { range: { start, end } }));
        assertBytes(got, bytes.subarray(start, end ?? size), `range ${start}..${end}`);
      }
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() serves a BYOB reader through its one reused buffer`, async () => {
    const { store, close } = await backend.open();
    try {
      const bytes = pattern(1024 * 1024 + 12345);
      await store.put("f", streamOf(bytes));
      const start = 777;
      const reader = (await store.get("f", { range: { start } })).getReader({ mode: "byob" });
      let buffer = new ArrayBuffer(100_000);
      const got = new Uint8Array(bytes.byteLength - start);
      let offset = 0;
      while (true) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done) break;
        assert(value.byteLength > 0 && value.byteLength <= 100_000);
        got.set(value, offset);
        offset += value.byteLength;
        buffer = value.buffer as ArrayBuffer; // handed back: no allocation per read
      }
      assertEquals(offset, got.byteLength);
      assertBytes(got, bytes.subarray(start));
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() throws InvalidRangeError for a range outside the file`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("r", streamOf(pattern(100)));
      const bad = [
        { start: 101 },
        { start: 0, end: 101 },
        { start: 50, end: 49 },
        { start: -1 },
        { start: 0, end: -1 },
        { start: 1.5 },
        { start: Number.NaN },
        { start: 0, end: Infinity },
      ];
      for (const range of bad) {
        const err = await assertRejects(
          () => store.get("r", { range }),
          InvalidRangeError,
          undefined,
          JSON.stringify(range),
        );
        assert(err instanceof UserError);
        assert(err.message.includes('"r"'), err.message);
      }
      // An absent file is reported as absent, not as a bad range.
      await assertRejects(() => store.get("nope", { range: { start: 5 } }), FileNotFoundError);
    } finally {
      await close();
    }
  });

  Deno.test(`${name} refuses traversal and malformed names with InvalidFileNameError`, async () => {
    const { store, dir, close } = await backend.open();
    try {
      const before = dir ? await treeOf(dir) : [];
      for (const bad of BAD_NAMES) {
        const label = JSON.stringify(bad);
        await assertRejects(
          () => store.put(bad, streamOf(pattern(10))),
          InvalidFileNameError,
          undefined,
          label,
        );
        await assertRejects(() => store.get(bad), InvalidFileNameError, undefined, label);
        await assertRejects(() => store.stat(bad), InvalidFileNameError, undefined, label);
        await assertRejects(() => store.delete(bad), InvalidFileNameError, undefined, label);
      }
      assertEquals(await store.list(), []);
      // Nothing was written anywhere around the store either.
      if (dir) assertEquals(await treeOf(dir), before);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() of a source that errors midway keeps the old file`, async () => {
    const { store, close } = await backend.open();
    try {
      const old = pattern(5000, 3);
      await store.put("f", streamOf(old));
      const boom = new Error("peer went away");
      const err = await assertRejects(() =>
        store.put("f", failingStream(pattern(3 * 1024 * 1024, 4), boom))
      );
      assert(err === boom, "the source's own error");
      assertBytes(await readAll(await store.get("f")), old);
      await assertRejects(
        () => store.put("g", failingStream(pattern(100), boom)),
        Error,
        "peer went away",
      );
      assertEquals((await store.list()).map((f) => f.name), ["f"]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.put() aborted mid-stream rejects with the reason and keeps the old file`, async () => {
    const { store, close } = await backend.open();
    try {
      const old = pattern(5000, 5);
      await store.put("f", streamOf(old));
      const { stream, drained } = stallingStream(pattern(1536 * 1024, 6));
      const controller = new AbortController();
      const put = store.put("f", stream, { signal: controller.signal });
      await drained;
      const reason = new Error("operator cancelled");
      controller.abort(reason);
      assert((await assertRejects(() => put)) === reason, "the abort reason");
      assertBytes(await readAll(await store.get("f")), old);
      assertEquals((await store.list()).map((f) => f.name), ["f"]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name} calls with an already aborted signal reject before doing anything`, async () => {
    const { store, close } = await backend.open();
    try {
      const signal = AbortSignal.abort(new Error("stop"));
      const stream = streamOf(pattern(10));
      await assertRejects(() => store.put("f", stream, { signal }), Error, "stop");
      assert(!stream.locked, "the source was not touched");
      await stream.cancel();
      await assertRejects(() => store.get("f", { signal }), Error, "stop");
      await assertRejects(() => store.list({ signal }), Error, "stop");
      assertEquals(await store.list(), []);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() stream cancelled after one chunk releases the file`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("big", streamOf(pattern(3 * 1024 * 1024)));
      const stream = await store.get("big");
      const reader = stream.getReader();
      const first = await reader.read();
      assert(!first.done && first.value.byteLength > 0);
      await reader.cancel();
      // The sanitizer fails this test if a file handle is still open; deleting must also work.
      await store.delete("big");
    } finally {
      await close();
    }
  });

  Deno.test(`${name}.get() stream errors with the reason when its signal aborts`, async () => {
    const { store, close } = await backend.open();
    try {
      await store.put("big", streamOf(pattern(3 * 1024 * 1024)));
      const controller = new AbortController();
      const reader = (await store.get("big", { signal: controller.signal })).getReader();
      await reader.read();
      controller.abort(new Error("shutting down"));
      await assertRejects(() => reader.read(), Error, "shutting down");
    } finally {
      await close();
    }
  });

  Deno.test(`${name} keeps files apart: same bytes under two names, delete one`, async () => {
    const { store, close } = await backend.open();
    try {
      const bytes = pattern(1000);
      await store.put("x/one", streamOf(bytes));
      await store.put("x/two", streamOf(bytes));
      await store.delete("x/one");
      assertBytes(await readAll(await store.get("x/two")), bytes);
      assertEquals((await store.list()).map((f) => f.name), ["x/two"]);
    } finally {
      await close();
    }
  });
}

/** Every path under `dir` with its size, to prove a refused call wrote nothing. */
async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string, prefix: string) => {
    for await (const entry of Deno.readDir(path)) {
      const rel = prefix + entry.name;
      if (entry.isDirectory) {
        out.push(rel + "/");
        await walk(`${path}/${entry.name}`, rel + "/");
      } else {
        out.push(`${rel} ${(await Deno.lstat(`${path}/${entry.name}`)).size}`);
      }
    }
  };
  await walk(dir, "");
  return out.sort();
}
