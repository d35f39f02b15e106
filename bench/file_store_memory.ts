/**
 * Constant-memory check: stream a large file into and out of a DiskFileStore and report how far
 * the process RSS grows above where it started.
 *
 * Run: `deno run --allow-read --allow-write bench/file_store_memory.ts [sizeMiB=1024]`
 *
 * Gated (exit 1 if either grows by 64 MiB or more): `put()`, and `get()` read by a BYOB reader
 * that lends one buffer, the way a consumer that cares about memory reads. Reported only: `get()`
 * through a default reader, which must hand out a fresh chunk per read; that garbage lingers until
 * V8's external-memory GC trigger (~64 MB of new buffers) fires, exactly as for Deno's own
 * `file.readable`, printed beside it for comparison. Its level does not grow with the file size.
 */
import { DiskFileStore } from "../src/filestore/disk_file_store.ts";

const MIB = 1024 * 1024;

/** The goal: whatever the file size, the store keeps only a few 1 MiB buffers alive. */
const MAX_GROWTH_BYTES = 64 * MIB;

/** Often enough to catch a peak between collections without slowing the transfer. */
const SAMPLE_EVERY_MS = 10;

const sizeMiB = Number(Deno.args[0] ?? 1024);
if (!Number.isSafeInteger(sizeMiB) || sizeMiB <= 0) {
  console.error("usage: file_store_memory.ts [sizeMiB=1024]");
  Deno.exit(2);
}
const size = sizeMiB * MIB;
const chunk = new Uint8Array(MIB).map((_, i) => (i * 7) & 0xff);

let peak = 0;
function sample(): void {
  const rss = Deno.memoryUsage().rss;
  if (rss > peak) peak = rss;
}

function generated(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.byteLength;
      sample();
    },
  });
}

async function drainDefault(stream: ReadableStream<Uint8Array>): Promise<number> {
  let read = 0;
  for await (const piece of stream) {
    read += piece.byteLength;
    sample();
  }
  return read;
}

async function drainByob(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(MIB);
  let read = 0;
  while (true) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    read += value.byteLength;
    buffer = value.buffer as ArrayBuffer;
    sample();
  }
  return read;
}

interface Phase {
  label: string;
  gated: boolean;
  run(): Promise<number>;
}

const dir = await Deno.makeTempDir({ prefix: "file_store_memory_" });
let failed = false;
try {
  const store = await DiskFileStore.open(dir);
  // Warm up code paths and allocator pools first so the baseline is the steady state.
  await store.put("warmup", generated(8 * MIB));
  await drainDefault(await store.get("warmup"));
  await drainByob(await store.get("warmup"));
  await store.delete("warmup");

  const phases: Phase[] = [
    {
      label: "DiskFileStore.put()",
      gated: true,
      run: async () => (await store.put("big.bin", generated(size))).size,
    },
    {
      label: "DiskFileStore.get(), BYOB reader",
      gated: true,
      run: async () => drainByob(await store.get("big.bin")),
    },
    {
      label: "DiskFileStore.get(), default reader",
      gated: false,
      run: async () => drainDefault(await store.get("big.bin")),
    },
    {
      label: "plain Deno file.readable (reference)",
      gated: false,
      run: async () => drainDefault((await Deno.open(`${dir}/big.bin`)).readable),
    },
  ];

  const base = Deno.memoryUsage().rss;
  const mib = (n: number) => (n / MIB).toFixed(1);
  console.log(`file size ${sizeMiB} MiB, rss at start ${mib(base)} MiB, goal: growth < 64 MiB`);
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  try {
    for (const phase of phases) {
      peak = Deno.memoryUsage().rss;
      const started = performance.now();
      const moved = await phase.run();
      const seconds = (performance.now() - started) / 1000;
      if (moved !== size) throw new Error(`${phase.label} moved ${moved} bytes, expected ${size}`);
      const growth = peak - base;
      const verdict = phase.gated ? (growth < MAX_GROWTH_BYTES ? "ok" : "FAIL") : "info";
      if (verdict === "FAIL") failed = true;
      console.log(
        `${phase.label.padEnd(38)} ${(sizeMiB / seconds).toFixed(0).padStart(6)} MiB/s` +
          `  peak rss growth ${mib(growth).padStart(6)} MiB  ${verdict}`,
      );
    }
  } finally {
    clearInterval(timer);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
if (failed) {
  console.error("FAIL: memory grew past the goal");
  Deno.exit(1);
}
