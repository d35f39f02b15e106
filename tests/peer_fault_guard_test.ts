import { deepEqual, equal } from "node:assert/strict";
import type { HandlerFault } from "../src/net/peer_fault_guard.ts";
import { currentPeerScope, isHandlerFault } from "../src/net/peer_fault_guard.ts";
import { readAll, waitUntil, withHosts } from "./_net.ts";

const PROTOCOL = "/filnode-test/guarded/1.0.0";

Deno.test("a handler that rejects is reported with the remote peer and protocol, counted, and its stream reset", async () => {
  const faults: HandlerFault[] = [];
  await withHosts([{ onHandlerFault: (f) => faults.push(f) }, {}], async ([server, client]) => {
    let scoped: string | undefined;
    await server.libp2p.handle(PROTOCOL, async ({ stream }) => {
      await readAll(stream);
      scoped = currentPeerScope()?.peerId;
      throw new TypeError("a field the peer left out");
    });
    const stream = await client.libp2p.dialProtocol(server.addr, PROTOCOL);
    await stream.sink([new Uint8Array([1])]);
    await waitUntil(() => faults.length === 1, "the fault is reported");
    const [fault] = faults;
    equal(fault.peerId, client.peerId.toString());
    equal(fault.protocol, PROTOCOL);
    equal(fault.error.message, "a field the peer left out");
    equal(fault.count, 1);
    equal(server.handlerFaults.faults, 1);
    // The handler ran in the peer's scope: what the process-level guard reads.
    equal(scoped, client.peerId.toString());
  });
});

Deno.test("a handler that throws synchronously is reported too; one that serves normally is untouched", async () => {
  const faults: HandlerFault[] = [];
  await withHosts([{ onHandlerFault: (f) => faults.push(f) }, {}], async ([server, client]) => {
    await server.libp2p.handle(PROTOCOL, ({ stream }) => {
      void stream; // a bug before any await
      throw new Error("sync bug");
    });
    await server.libp2p.handle(`${PROTOCOL}/echo`, ({ stream }) => {
      stream.sink(stream.source).catch((err) => stream.abort(err));
    });
    await (await client.libp2p.dialProtocol(server.addr, PROTOCOL)).sink([new Uint8Array([1])])
      .catch(() => {});
    await waitUntil(() => faults.length === 1, "the fault is reported");
    const echo = await client.libp2p.dialProtocol(server.addr, `${PROTOCOL}/echo`);
    const [, reply] = await Promise.all([echo.sink([new Uint8Array([7, 8])]), readAll(echo)]);
    deepEqual([...reply], [7, 8]);
    equal(faults.length, 1);
  });
});

Deno.test("`isHandlerFault()` leaves out errors that only say a stream or connection ended", () => {
  equal(isHandlerFault(new DOMException("stopped", "AbortError")), false);
  const reset = new Error("reset");
  reset.name = "StreamResetError";
  equal(isHandlerFault(reset), false);
  equal(isHandlerFault(new RangeError("offset out of bounds")), true);
  equal(isHandlerFault("a string"), true);
});
