/**
 * Malformed bytes on the Kademlia and bitswap streams: the library handler resets the stream, and
 * the sender is named to the reputation hook; an honest stream that just ends is not blamed.
 */
import { equal, ok } from "node:assert/strict";
import type { Connection } from "@libp2p/interface";
import { BITSWAP_PROTOCOL, kadProtocol } from "../src/net/libp2p_host.ts";
import {
  capFrameLength,
  classifyStreamError,
  FrameTooLargeError,
  type StreamFault,
} from "../src/net/stream_faults.ts";
import { TEST_NETWORK, WAIT_MS, withHosts } from "./_net.ts";

/** An unsigned LEB128 varint, as length prefixes use. */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A length-prefixed frame whose body is not protobuf: field 1 with wire type 7 (no such type). */
const BAD_WIRE_TYPE = concat(varint(4), Uint8Array.from([0x0f, 0xff, 0xff, 0xff]));
/** A length prefix of 1 GiB: over every cap, so nothing is buffered for it. */
const HUGE_LENGTH = varint(1 << 30);
/** A frame whose field claims 100 bytes when 2 follow. */
const TRUNCATED_FIELD = concat(varint(3), Uint8Array.from([0x0a, 100, 1]));

/**
 * Opens a stream, writes `bytes` and keeps the write side open (a handler must fail on the bytes,
 * not on an end of stream). Returns the stream and a function that ends it.
 */
async function sendAndHold(conn: Connection, protocol: string, bytes: Uint8Array) {
  const stream = await conn.newStream(protocol);
  const done = new AbortController();
  const hold = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, WAIT_MS);
    done.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  // The sink of a reset stream may never settle: not awaited.
  stream.sink((async function* () {
    yield bytes;
    await hold;
  })()).catch(() => {});
  const reading = (async () => {
    try {
      for await (const _ of stream.source) { /* drain */ }
    } catch { /* reset */ }
  })();
  return {
    stream,
    async end() {
      done.abort();
      stream.abort(new Error("test done"));
      await reading;
    },
  };
}

async function waitFor<T>(get: () => T | undefined, what: string): Promise<T> {
  const until = Date.now() + WAIT_MS;
  while (Date.now() < until) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("classifyStreamError() blames parse and length errors, not an early end or a timeout", () => {
  const named = (name: string, message = "x") => Object.assign(new Error(message), { name });
  equal(classifyStreamError(new RangeError("index out of range: 3 + 100 > 5")), "malformed");
  equal(classifyStreamError(named("InvalidDataLengthError")), "malformed");
  equal(classifyStreamError(named("InvalidDataLengthLengthError")), "malformed");
  equal(classifyStreamError(new Error("invalid wire type 7 at offset 1")), "malformed");
  equal(classifyStreamError(new Error("Invalid enum value")), "malformed");
  equal(classifyStreamError(named("FrameTooLargeError")), "malformed");
  // Honest peers end streams and leave them idle: neither is blamed.
  equal(classifyStreamError(named("TimeoutError")), undefined);
  equal(classifyStreamError(named("UnexpectedEOFError")), undefined);
  equal(classifyStreamError(named("AbortError")), undefined);
  equal(classifyStreamError("not an error"), undefined);
});

for (
  const [protocol, label] of [
    [kadProtocol(TEST_NETWORK), "kad"],
    [BITSWAP_PROTOCOL, "bitswap"],
  ] as const
) {
  Deno.test(`malformed ${label} frames are reset and blamed on the sender`, async () => {
    const faults: StreamFault[] = [];
    await withHosts([{ onStreamFault: (f) => faults.push(f) }, {}], async ([server, client]) => {
      const conn = await client.libp2p.dial(server.addr);
      const sender = client.peerId.toString();
      const cases = [
        ["a frame that is not protobuf", BAD_WIRE_TYPE],
        ["a 1 GiB length prefix", HUGE_LENGTH],
        ["a field longer than its frame", TRUNCATED_FIELD],
      ] as const;
      for (const [what, bytes] of cases) {
        const before = faults.length;
        const sent = await sendAndHold(conn, protocol, bytes);
        const fault = await waitFor(() => faults[before], `a fault for ${what}`);
        // On the server, the stream is no longer open: it was aborted, not left reading.
        const serverSide = () =>
          server.libp2p.getConnections(client.peerId).flatMap((c) => c.streams)
            .find((s) => s.id === sent.stream.id);
        await waitFor(
          () => serverSide()?.status !== "open" || undefined,
          `${what}: the server to abort its stream`,
        );
        await sent.end();
        equal(fault.peerId, sender, what);
        equal(fault.protocol, protocol, what);
        equal(fault.kind, "malformed", `${what}: ${fault.error.name} ${fault.error.message}`);
      }
      // The connection survives (blame is the reputation system's call), and an honest stream
      // that ends without a message costs nothing.
      equal(conn.status, "open");
      const before = faults.length;
      const quiet = await conn.newStream(protocol);
      await quiet.close();
      await new Promise((r) => setTimeout(r, 200));
      equal(faults.length, before, "an empty stream closed by the peer is not a fault");
    });
  });
}

Deno.test("capFrameLength() passes frames up to the cap, split anywhere, and stops at a longer one", async () => {
  const frame = (n: number) => concat(varint(n), new Uint8Array(n));
  const stream = concat(frame(300), frame(0), frame(1000), frame(1001), frame(5));
  // Split into 7-byte chunks, so prefixes and payloads straddle chunk boundaries.
  const chunks = async function* () {
    for (let i = 0; i < stream.length; i += 7) yield stream.subarray(i, i + 7);
  };
  let passed = 0;
  let error: unknown;
  try {
    for await (const c of capFrameLength(chunks(), 1000)) passed += c.length;
  } catch (err) {
    error = err;
  }
  ok(error instanceof FrameTooLargeError, String(error));
  const firstThree = frame(300).length + frame(0).length + frame(1000).length;
  // Everything before the chunk holding the 1001-byte prefix passed; that chunk did not.
  ok(passed <= firstThree && passed > firstThree - 7, `passed ${passed} of ${firstThree}`);
});
