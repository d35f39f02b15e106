import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import {
  EmptyStreamError,
  MalformedMessageError,
  MessageTooLargeError,
  readCborItem,
  type RpcStream,
  StreamTimeoutError,
  writeCborItem,
} from "../src/protocols/cbor_rpc.ts";

/** A stream whose source yields `chunks` (waiting `gapMs` between them, then maybe hanging). */
function fakeStream(chunks: Uint8Array[], options: { gapMs?: number; hang?: boolean } = {}) {
  const state = { aborted: undefined as Error | undefined, written: [] as Uint8Array[] };
  let release: () => void = () => {};
  const stream: RpcStream = {
    source: (async function* () {
      for (const c of chunks) {
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        yield c;
      }
      if (options.hang) await new Promise<void>((r) => release = r);
    })(),
    async sink(source) {
      for await (const c of source) state.written.push(c);
    },
    abort(err) {
      state.aborted = err;
      release();
    },
  };
  return { stream, state };
}

const LIMITS = { maxBytes: 1024, timeoutMs: 2000 };

Deno.test("readCborItem() reads one item split across chunks", async () => {
  const bytes = dagCbor.encode([[1, 2], "x", new Uint8Array([1])]);
  const parts = [bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)];
  const { stream, state } = fakeStream(parts);
  deepStrictEqual(await readCborItem(stream, LIMITS), [[1, 2], "x", new Uint8Array([1])]);
  equal(state.aborted, undefined);
});

Deno.test("readCborItem() returns without waiting for EOF when the item is complete", async () => {
  const { stream } = fakeStream([dagCbor.encode({ a: 1 })], { hang: true });
  deepStrictEqual(await readCborItem(stream, LIMITS), { a: 1 });
});

Deno.test("readCborItem() rejects truncated CBOR, trailing bytes and empty streams, and resets", async () => {
  const bytes = dagCbor.encode([1, 2, 3, "abc"]);
  const trailing = new Uint8Array([...bytes, 0]);
  for (const chunks of [[bytes.subarray(0, 4)], [trailing], [], [new Uint8Array([0xff])]]) {
    const { stream, state } = fakeStream(chunks);
    const err = await readCborItem(stream, LIMITS).then(() => undefined, (e) => e);
    ok(err instanceof MalformedMessageError, String(err));
    // Only a stream that ended before its first byte is an EmptyStreamError: callers weigh it
    // apart (a closing connection ends streams that way).
    equal(err instanceof EmptyStreamError, chunks.length === 0, String(err));
    if (chunks.length) ok(state.aborted instanceof MalformedMessageError);
  }
});

Deno.test("readCborItem() stops at maxBytes with MessageTooLargeError before buffering more", async () => {
  // A byte string that claims 1,000,000 bytes, then arrives in pieces.
  const header = new Uint8Array([0x5a, 0x00, 0x0f, 0x42, 0x40, ...new Uint8Array(595)]);
  const { stream, state } = fakeStream([header, new Uint8Array(600), new Uint8Array(1e6)]);
  await rejects(readCborItem(stream, LIMITS), MessageTooLargeError);
  ok(state.aborted instanceof MessageTooLargeError);
});

Deno.test("readCborItem() gives a slow-loris peer StreamTimeoutError and resets the stream", async () => {
  const bytes = dagCbor.encode("a long string that arrives one byte at a time");
  const { stream, state } = fakeStream([bytes.subarray(0, 1)], { hang: true });
  await rejects(readCborItem(stream, { maxBytes: 1024, timeoutMs: 50 }), StreamTimeoutError);
  ok(state.aborted instanceof StreamTimeoutError);
});

Deno.test("writeCborItem() writes exactly one DAG-CBOR item", async () => {
  const { stream, state } = fakeStream([]);
  await writeCborItem(stream, [1n << 60n, "x"]);
  equal(state.written.length, 1);
  deepStrictEqual(dagCbor.decode(state.written[0]), [1n << 60n, "x"]);
});
