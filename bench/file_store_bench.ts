/**
 * DiskFileStore streaming speed against a plain file copy of the same bytes.
 *
 * Run: `deno bench --allow-read --allow-write bench/file_store_bench.ts`
 *
 * Goal: put() and get() stream at least 80% as fast as a plain copy (`baseline`). put() promises
 * durability (fsync before rename), so the write baseline is a plain copy that fsyncs too; the
 * page-cache-only copy is shown for information: it times only memcpy into the page cache (its
 * flush runs untimed, so that the next case does not pay for its writeback).
 */
import { join } from "node:path";
import { DiskFileStore } from "../src/filestore/disk_file_store.ts";

/** Large enough that per-call overhead vanishes and the page cache, not the JIT, dominates. */
const FILE_BYTES = 256 * 1024 * 1024;

/** One buffer reused for every chunk, so both sides pay the same (near zero) generation cost. */
const CHUNK = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);

/** Each iteration moves 256 MiB; 16 runs keep one writeback stall from deciding the mean. */
const RUNS = { n: 16, warmup: 2 };

const dir = await Deno.makeTempDir({ prefix: "file_store_bench_" });
const store = await DiskFileStore.open(join(dir, "store"));
const plainPath = join(dir, "plain.bin");
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function generated(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= FILE_BYTES) return controller.close();
      controller.enqueue(CHUNK);
      sent += CHUNK.byteLength;
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  let size = 0;
  for await (const chunk of stream) size += chunk.byteLength;
  if (size !== FILE_BYTES) throw new Error(`read ${size} bytes, expected ${FILE_BYTES}`);
}

// The read cases read the file the write cases leave; write it once up front in case of `--filter`.
await store.put("read.bin", generated());

Deno.bench({
  name: "plain copy, page cache only (info: not durable)",
  group: "write 256 MiB",
  ...RUNS,
  async fn(b) {
    const file = await Deno.open(plainPath, { write: true, create: true, truncate: true });
    try {
      b.start();
      const writer = file.writable.getWriter();
      for await (const chunk of generated()) await writer.write(chunk);
      writer.releaseLock();
      b.end();
      // Untimed: flush what the copy left dirty, or the next case pays for its writeback.
      await file.sync();
    } finally {
      file.close();
    }
  },
});

Deno.bench({
  name: "plain copy + fsync",
  group: "write 256 MiB",
  baseline: true,
  ...RUNS,
  async fn() {
    const file = await Deno.open(plainPath, { write: true, create: true, truncate: true });
    try {
      const writer = file.writable.getWriter();
      for await (const chunk of generated()) await writer.write(chunk);
      writer.releaseLock();
      await file.sync();
    } finally {
      file.close();
    }
  },
});

Deno.bench({
  name: "DiskFileStore.put()",
  group: "write 256 MiB",
  ...RUNS,
  async fn() {
    await store.put("write.bin", generated());
  },
});

Deno.bench({
  name: "plain read: Deno.open + file.readable",
  group: "read 256 MiB",
  baseline: true,
  ...RUNS,
  async fn() {
    const file = await Deno.open(join(dir, "store", "read.bin"), { read: true });
    await drain(file.readable);
  },
});

Deno.bench({
  name: "DiskFileStore.get()",
  group: "read 256 MiB",
  ...RUNS,
  async fn() {
    await drain(await store.get("read.bin"));
  },
});
