/**
 * JSON-RPC 2.0 dispatch (`src/api/rpc.ts`) and the network method table with its Lotus shapes
 * (`src/api/net_api.ts`), against the in-memory FakeNetApi. Pure: needs no permissions.
 */
import { deepStrictEqual, equal, match, ok, throws } from "node:assert/strict";
import {
  createDispatcher,
  defineMethod,
  type MethodTable,
  RpcError,
  RpcErrorCode,
  stringParam,
} from "../src/api/rpc.ts";
import {
  LOTUS_API_VERSION,
  netApiMethods,
  NetMethod,
  parseBanTarget,
  parseIp,
  parsePeerId,
  parsePeerMultiaddr,
} from "../src/api/net_api.ts";
import { FakeNetApi, fakePeerId } from "./fake_net_api.ts";
import { UserError } from "../src/errors.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const DEMO: MethodTable = {
  "Demo.Echo": defineMethod([stringParam("text")], ([text]) => Promise.resolve(text)),
  "Demo.Nothing": defineMethod([], () => Promise.resolve(undefined)),
  "Demo.Refuse": defineMethod([], () => Promise.reject(new UserError("not today"))),
  "Demo.Bug": defineMethod([], () => Promise.reject(new TypeError("x is undefined"))),
  "Demo.Teapot": defineMethod([], () => Promise.reject(new RpcError(-32042, "teapot"))),
  "Demo.Big": defineMethod([], () => Promise.resolve({ n: 10n ** 30n, b: new Uint8Array([1, 2]) })),
  "Demo.Cyclic": defineMethod([], () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return Promise.resolve(o);
  }),
  "Demo.Optional": defineMethod(
    [stringParam("a"), { name: "b", decode: (v) => Number(v), optional: true }],
    ([a, b]) => Promise.resolve({ a, b: b ?? "absent" }),
  ),
};

// deno-lint-ignore no-explicit-any
type Json = any;

async function rpc(dispatch: ReturnType<typeof createDispatcher>, body: unknown): Promise<Json> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const out = await dispatch(text);
  return out === undefined ? undefined : JSON.parse(out);
}

function req(method: string, params?: unknown, id: unknown = 1): Record<string, unknown> {
  const r: Record<string, unknown> = { jsonrpc: "2.0", id, method };
  if (params !== undefined) r.params = params;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

Deno.test("createDispatcher() answers a valid call with its result and the same id", async () => {
  const d = createDispatcher(DEMO);
  deepStrictEqual(await rpc(d, req("Demo.Echo", ["hi"], "abc")), {
    jsonrpc: "2.0",
    id: "abc",
    result: "hi",
  });
  deepStrictEqual(await rpc(d, req("Demo.Echo", ["hi"], 7)), {
    jsonrpc: "2.0",
    id: 7,
    result: "hi",
  });
});

Deno.test("createDispatcher() sends null for a method that returns nothing, as Lotus does", async () => {
  const d = createDispatcher(DEMO);
  const res = await rpc(d, req("Demo.Nothing"));
  ok(Object.hasOwn(res, "result"));
  equal(res.result, null);
  // params absent, null and [] all mean no arguments.
  equal((await rpc(d, req("Demo.Nothing", null))).result, null);
  equal((await rpc(d, req("Demo.Nothing", []))).result, null);
});

Deno.test("createDispatcher() answers -32700 with id null for malformed JSON and bad UTF-8", async () => {
  const d = createDispatcher(DEMO);
  for (const body of ['{"jsonrpc":"2.0",', "", "nul", "{'a':1}", "[1,2"]) {
    const res = await rpc(d, body);
    equal(res.error.code, RpcErrorCode.PARSE_ERROR, body);
    equal(res.id, null);
  }
  const bad = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]); // "{", invalid UTF-8, "}"
  equal(JSON.parse((await d(bad))!).error.code, RpcErrorCode.PARSE_ERROR);
});

Deno.test("createDispatcher() survives very deep nesting in a body without crashing", async () => {
  const d = createDispatcher(DEMO);
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  const res = await rpc(d, deep);
  // A one-element batch whose element is an array, not a request object.
  ok(Array.isArray(res));
  equal(res.length, 1);
  equal(res[0].error.code, RpcErrorCode.INVALID_REQUEST);
});

Deno.test("createDispatcher() answers -32600 for a wrong version, a bad id or a missing method", async () => {
  const d = createDispatcher(DEMO);
  const wrongVersion = await rpc(d, { jsonrpc: "1.0", id: 3, method: "Demo.Nothing" });
  equal(wrongVersion.error.code, RpcErrorCode.INVALID_REQUEST);
  equal(wrongVersion.id, 3, "a readable id is echoed");
  const noVersion = await rpc(d, { id: 4, method: "Demo.Nothing" });
  equal(noVersion.error.code, RpcErrorCode.INVALID_REQUEST);
  const objectId = await rpc(d, { jsonrpc: "2.0", id: { x: 1 }, method: "Demo.Nothing" });
  equal(objectId.error.code, RpcErrorCode.INVALID_REQUEST);
  equal(objectId.id, null);
  const noMethod = await rpc(d, { jsonrpc: "2.0", id: 5 });
  equal(noMethod.error.code, RpcErrorCode.INVALID_REQUEST);
  const numberMethod = await rpc(d, { jsonrpc: "2.0", id: 6, method: 12 });
  equal(numberMethod.error.code, RpcErrorCode.INVALID_REQUEST);
  for (const scalar of ["1", '"hello"', "null", "true"]) {
    const res = await rpc(d, scalar);
    equal(res.error.code, RpcErrorCode.INVALID_REQUEST, scalar);
  }
});

Deno.test("createDispatcher() answers -32601 for unknown and inherited method names", async () => {
  const d = createDispatcher(DEMO);
  for (const name of ["Demo.Nope", "toString", "__proto__", "constructor", "hasOwnProperty"]) {
    const res = await rpc(d, req(name));
    equal(res.error.code, RpcErrorCode.METHOD_NOT_FOUND, name);
    match(res.error.message, /method not found/);
  }
});

Deno.test("createDispatcher() answers -32602 for wrong param counts, types and named params", async () => {
  const d = createDispatcher(DEMO);
  const tooFew = await rpc(d, req("Demo.Echo", []));
  equal(tooFew.error.code, RpcErrorCode.INVALID_PARAMS);
  match(tooFew.error.message, /expected 1 param \(text\), got 0/);
  equal((await rpc(d, req("Demo.Echo", ["a", "b"]))).error.code, RpcErrorCode.INVALID_PARAMS);
  const wrongType = await rpc(d, req("Demo.Echo", [42]));
  equal(wrongType.error.code, RpcErrorCode.INVALID_PARAMS);
  match(wrongType.error.message, /param 1 \(text\): expected a string, got a number/);
  const named = await rpc(d, req("Demo.Echo", { text: "hi" }));
  equal(named.error.code, RpcErrorCode.INVALID_PARAMS);
  match(named.error.message, /positional array/);
  equal((await rpc(d, req("Demo.Echo", "hi"))).error.code, RpcErrorCode.INVALID_PARAMS);
  const many = await rpc(d, req("Demo.Echo", new Array(100).fill("x")));
  equal(many.error.code, RpcErrorCode.INVALID_PARAMS);
});

Deno.test("createDispatcher() lets an optional trailing param be left off or null", async () => {
  const d = createDispatcher(DEMO);
  deepStrictEqual((await rpc(d, req("Demo.Optional", ["x"]))).result, { a: "x", b: "absent" });
  deepStrictEqual((await rpc(d, req("Demo.Optional", ["x", null]))).result, {
    a: "x",
    b: "absent",
  });
  deepStrictEqual((await rpc(d, req("Demo.Optional", ["x", 5]))).result, { a: "x", b: 5 });
});

Deno.test("createDispatcher() maps a UserError to code 1, other throws to -32603, RpcError to its code", async () => {
  const internal: string[] = [];
  const d = createDispatcher(DEMO, { onInternalError: (m) => internal.push(m) });
  const refused = await rpc(d, req("Demo.Refuse"));
  deepStrictEqual(refused.error, { code: 1, message: "not today" });
  const bug = await rpc(d, req("Demo.Bug"));
  equal(bug.error.code, RpcErrorCode.INTERNAL_ERROR);
  match(bug.error.message, /x is undefined/);
  equal((await rpc(d, req("Demo.Teapot"))).error.code, -32042);
  deepStrictEqual(internal, ["Demo.Bug"]);
});

Deno.test("createDispatcher() encodes bigints as decimal strings and bytes as base64", async () => {
  const d = createDispatcher(DEMO);
  deepStrictEqual((await rpc(d, req("Demo.Big"))).result, {
    n: "1000000000000000000000000000000",
    b: "AQI=",
  });
});

Deno.test("createDispatcher() turns a result that is not JSON into an error for that call only", async () => {
  const d = createDispatcher(DEMO);
  const res = await rpc(d, [req("Demo.Cyclic", [], 1), req("Demo.Echo", ["ok"], 2)]);
  equal(res[0].error.code, RpcErrorCode.INTERNAL_ERROR);
  equal(res[1].result, "ok");
});

Deno.test("createDispatcher() never answers a notification, even a failing one", async () => {
  const d = createDispatcher(DEMO);
  const note = (method: string, params?: unknown) => {
    const r = req(method, params);
    delete r.id;
    return r;
  };
  equal(await d(JSON.stringify(note("Demo.Echo", ["hi"]))), undefined);
  equal(await d(JSON.stringify(note("Demo.Nope"))), undefined);
  equal(await d(JSON.stringify(note("Demo.Echo", [1]))), undefined);
  equal(await d(JSON.stringify(note("Demo.Bug"))), undefined);
  // An id of null is not a notification: it is answered.
  equal((await rpc(d, req("Demo.Echo", ["x"], null))).result, "x");
});

Deno.test("createDispatcher() answers a batch in order, skipping notifications", async () => {
  const d = createDispatcher(DEMO);
  const res = await rpc(d, [
    req("Demo.Echo", ["a"], 1),
    { jsonrpc: "2.0", method: "Demo.Echo", params: ["note"] },
    req("Demo.Nope", [], 2),
    42,
    req("Demo.Echo", ["b"], 3),
  ]);
  equal(res.length, 4);
  deepStrictEqual(res[0], { jsonrpc: "2.0", id: 1, result: "a" });
  equal(res[1].error.code, RpcErrorCode.METHOD_NOT_FOUND);
  equal(res[2].error.code, RpcErrorCode.INVALID_REQUEST);
  equal(res[2].id, null);
  deepStrictEqual(res[3], { jsonrpc: "2.0", id: 3, result: "b" });
});

Deno.test("createDispatcher() sends nothing for a batch of notifications only", async () => {
  const d = createDispatcher(DEMO);
  const note = { jsonrpc: "2.0", method: "Demo.Nothing" };
  equal(await d(JSON.stringify([note, note])), undefined);
});

Deno.test("createDispatcher() refuses an empty batch and one over the limit as a whole", async () => {
  const d = createDispatcher(DEMO, { maxBatch: 3 });
  const empty = await rpc(d, []);
  equal(empty.error.code, RpcErrorCode.INVALID_REQUEST);
  const big = await rpc(d, [1, 2, 3, 4].map((i) => req("Demo.Echo", ["x"], i)));
  ok(!Array.isArray(big));
  equal(big.error.code, RpcErrorCode.INVALID_REQUEST);
  match(big.error.message, /batch of 4 calls exceeds the limit of 3/);
  equal((await rpc(d, [1, 2, 3].map((i) => req("Demo.Echo", ["x"], i)))).length, 3);
});

Deno.test("createDispatcher() passes the abort signal to the method", async () => {
  let seen: AbortSignal | undefined;
  const d = createDispatcher({
    "Demo.Signal": defineMethod([], (_, o) => {
      seen = o.signal;
      return Promise.resolve(null);
    }),
  });
  const controller = new AbortController();
  await d(JSON.stringify(req("Demo.Signal")), { signal: controller.signal });
  equal(seen, controller.signal);
});

// ---------------------------------------------------------------------------------------------
// Validation helpers

const PEER_A = fakePeerId(1);
const PEER_B = fakePeerId(2);

Deno.test("parsePeerId() accepts base58 Ed25519 and sha256 peer IDs and libp2p-key CIDs", () => {
  ok(PEER_A.startsWith("12D3KooW"), PEER_A);
  equal(parsePeerId(PEER_A), PEER_A);
  const rsa = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
  equal(parsePeerId(rsa), rsa);
  // The same key as a CIDv1 (libp2p-key, base32) comes back in base58 form.
  const cidForm = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe";
  equal(parsePeerId(cidForm), rsa);
});

Deno.test("parsePeerId() rejects text that is not a peer ID", () => {
  for (
    const bad of [
      "",
      "hello",
      "12D3KooW", // truncated
      PEER_A.slice(0, -1), // one character short: length mismatch in the multihash
      PEER_A + "1",
      "Qm0000", // 0 is not base58
      "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", // dag-pb CID, not a key
      "x".repeat(200),
    ]
  ) {
    throws(() => parsePeerId(bad), RangeError, bad);
  }
});

Deno.test("parseIp() canonicalises IPv4 and IPv6 and rejects the rest", () => {
  equal(parseIp("192.0.2.1"), "192.0.2.1");
  equal(parseIp("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  equal(parseIp("2001:db8::0:1"), "2001:db8::1");
  equal(parseIp("::1"), "::1");
  equal(parseIp("::"), "::");
  equal(parseIp("::ffff:127.0.0.1"), "127.0.0.1", "an IPv4-mapped address is the IPv4 peer");
  equal(parseIp("1:0:0:2:0:0:0:3"), "1:0:0:2::3", "the longest zero run is compressed");
  equal(parseIp("1:2:3:4:5:6:7:0"), "1:2:3:4:5:6:7:0", "a single zero group stays");
  for (
    const bad of ["256.0.0.1", "1.2.3", "01.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "g::1", "", "a"]
  ) {
    equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("parseBanTarget() tells peers, IPs and subnets apart and canonicalises them", () => {
  deepStrictEqual(parseBanTarget(PEER_A), { kind: "peer", value: PEER_A });
  deepStrictEqual(parseBanTarget(" 192.0.2.7 "), { kind: "ip", value: "192.0.2.7" });
  deepStrictEqual(parseBanTarget("2001:DB8::7"), { kind: "ip", value: "2001:db8::7" });
  deepStrictEqual(parseBanTarget("10.0.0.0/8"), { kind: "subnet", value: "10.0.0.0/8" });
  deepStrictEqual(parseBanTarget("2001:db8::/32"), { kind: "subnet", value: "2001:db8::/32" });
  throws(() => parseBanTarget("10.0.0.0/33"), /prefix must be 1 to 32/);
  throws(() => parseBanTarget("0.0.0.0/0"), /prefix must be 1 to 32/);
  throws(() => parseBanTarget("10.0.0.0/x"), /not a subnet/);
  throws(() => parseBanTarget("example.com"), /neither a peer ID, an IP address nor a subnet/);
});

Deno.test("parsePeerMultiaddr() splits /p2p/<id> off into a Lotus AddrInfo", () => {
  deepStrictEqual(parsePeerMultiaddr(`/ip4/192.0.2.1/tcp/1347/p2p/${PEER_A}`), {
    ID: PEER_A,
    Addrs: ["/ip4/192.0.2.1/tcp/1347"],
  });
  deepStrictEqual(parsePeerMultiaddr(`/ipfs/${PEER_A}`), { ID: PEER_A, Addrs: [] });
  // A relayed address keeps the relay's /p2p/ part.
  const relayed = `/ip4/192.0.2.1/tcp/1/p2p/${PEER_B}/p2p-circuit`;
  deepStrictEqual(parsePeerMultiaddr(`${relayed}/p2p/${PEER_A}`), { ID: PEER_A, Addrs: [relayed] });
  throws(() => parsePeerMultiaddr("/ip4/192.0.2.1/tcp/1347"), /must end with \/p2p\/<peer ID>/);
  throws(() => parsePeerMultiaddr(`ip4/192.0.2.1/p2p/${PEER_A}`), /not a multiaddr/);
  throws(() => parsePeerMultiaddr(`/ip4//p2p/${PEER_A}`), /not a multiaddr/);
  throws(() => parsePeerMultiaddr("/ip4/192.0.2.1/tcp/1/p2p/notapeer"), /not a peer ID/);
});

// ---------------------------------------------------------------------------------------------
// The network method table over the fake

function netDispatch(net = new FakeNetApi()) {
  const d = createDispatcher(
    netApiMethods({
      net,
      version: { version: "0.1.0+filnode", agent: "filnode/0.1.0", blockDelayMs: 30_000 },
    }),
  );
  return { net, call: (method: string, params?: unknown[]) => rpc(d, req(method, params)) };
}

Deno.test("Filecoin.Version answers Lotus's APIVersion shape", async () => {
  const { call } = netDispatch();
  deepStrictEqual((await call("Filecoin.Version")).result, {
    Version: "0.1.0+filnode",
    APIVersion: 131840,
    BlockDelay: 30,
    Agent: "filnode/0.1.0",
  });
  equal(LOTUS_API_VERSION, 0x020300);
});

Deno.test("Filecoin.ID, NetAddrsListen and NetPeers answer Lotus shapes", async () => {
  const { net, call } = netDispatch();
  net.addPeer({ ID: PEER_A, Addr: "/ip4/192.0.2.1/tcp/1347" });
  equal((await call("Filecoin.ID")).result, fakePeerId(0));
  deepStrictEqual((await call("Filecoin.NetAddrsListen")).result, {
    ID: fakePeerId(0),
    Addrs: ["/ip4/127.0.0.1/tcp/40001"],
  });
  deepStrictEqual((await call("Filecoin.NetPeers")).result, [
    { ID: PEER_A, Addrs: ["/ip4/192.0.2.1/tcp/1347"] },
  ]);
  equal((await call("Filecoin.NetConnectedness", [PEER_A])).result, 1);
  equal((await call("Filecoin.NetConnectedness", [PEER_B])).result, 0);
  equal((await call("Filecoin.NetListening")).result, true);
  equal((await call("Filecoin.NetAgentVersion", [PEER_A])).result, "lotus-1.28.0");
  const info = (await call("Filecoin.NetPeerInfo", [PEER_A])).result;
  deepStrictEqual(Object.keys(info), ["ID", "Agent", "Addrs", "Protocols", "ConnMgrMeta"]);
});

Deno.test("Filecoin.NetConnect takes an AddrInfo (any key case, as Go decodes) and answers null", async () => {
  const { net, call } = netDispatch();
  const res = await call("Filecoin.NetConnect", [{ ID: PEER_A, Addrs: ["/ip4/192.0.2.9/tcp/1"] }]);
  deepStrictEqual(res, { jsonrpc: "2.0", id: 1, result: null });
  equal((await net.peers()).length, 1);
  equal(
    (await call("Filecoin.NetConnect", [{ id: PEER_B, addrs: ["/ip4/192.0.2.8/tcp/1"] }])).result,
    null,
  );
  deepStrictEqual(net.calls.filter((c) => c.method === "connect").map((c) => c.args), [
    [{ ID: PEER_A, Addrs: ["/ip4/192.0.2.9/tcp/1"] }],
    [{ ID: PEER_B, Addrs: ["/ip4/192.0.2.8/tcp/1"] }],
  ]);
});

Deno.test("Filecoin.NetConnect and NetDisconnect reject malformed peers and addresses with -32602", async () => {
  const { net, call } = netDispatch();
  for (
    const params of [
      [{ ID: "nope", Addrs: [] }],
      [{ Addrs: ["/ip4/1.2.3.4/tcp/1"] }],
      [{ ID: PEER_A, Addrs: ["not-a-multiaddr"] }],
      [{ ID: PEER_A, Addrs: "/ip4/1.2.3.4/tcp/1" }],
      [`/ip4/1.2.3.4/tcp/1/p2p/${PEER_A}`],
      [],
    ]
  ) {
    equal((await call("Filecoin.NetConnect", params)).error.code, RpcErrorCode.INVALID_PARAMS);
  }
  equal((await call("Filecoin.NetDisconnect", ["nope"])).error.code, RpcErrorCode.INVALID_PARAMS);
  equal((await call("Filecoin.NetDisconnect", [7])).error.code, RpcErrorCode.INVALID_PARAMS);
  deepStrictEqual(net.calls, [], "nothing invalid reaches the network system");
});

Deno.test("Filecoin.NetDisconnect of a peer that is not connected is a code-1 error", async () => {
  const { call } = netDispatch();
  const res = await call("Filecoin.NetDisconnect", [PEER_A]);
  equal(res.error.code, RpcErrorCode.APPLICATION_ERROR);
  match(res.error.message, /is not connected/);
});

Deno.test("Filecoin.NetBlockAdd/List/Remove share the ban list in Lotus's NetBlockList shape", async () => {
  const { net, call } = netDispatch();
  const add = await call("Filecoin.NetBlockAdd", [
    { Peers: [PEER_A], IPAddrs: ["192.0.2.5"], IPSubnets: ["10.0.0.0/8"] },
  ]);
  equal(add.result, null);
  deepStrictEqual((await call("Filecoin.NetBlockList")).result, {
    Peers: [PEER_A],
    IPAddrs: ["192.0.2.5"],
    IPSubnets: ["10.0.0.0/8"],
  });
  const bans = await net.bans();
  ok(bans.every((b) => b.Expires === null && b.Reason === "manual"), "Lotus blocks are permanent");
  // nil slices (null) are empty lists, as Go sends them.
  await call("Filecoin.NetBlockRemove", [{ Peers: [PEER_A], IPAddrs: null, IPSubnets: null }]);
  deepStrictEqual((await call("Filecoin.NetBlockList")).result, {
    Peers: [],
    IPAddrs: ["192.0.2.5"],
    IPSubnets: ["10.0.0.0/8"],
  });
});

Deno.test("Filecoin.NetBlockAdd with one bad entry bans nothing", async () => {
  const { net, call } = netDispatch();
  const res = await call("Filecoin.NetBlockAdd", [
    { Peers: [PEER_A], IPAddrs: ["999.1.1.1"], IPSubnets: [] },
  ]);
  equal(res.error.code, RpcErrorCode.INVALID_PARAMS);
  match(res.error.message, /IPAddrs: not an IP address/);
  deepStrictEqual(await net.bans(), []);
  const notSubnet = await call("Filecoin.NetBlockAdd", [{ IPSubnets: ["192.0.2.1"] }]);
  equal(notSubnet.error.code, RpcErrorCode.INVALID_PARAMS);
});

Deno.test("Filnode.NetBan takes seconds or null and the ban ends on time", async () => {
  let now = Date.parse("2030-01-01T00:00:00Z");
  const { net, call } = netDispatch(new FakeNetApi({ now: () => now }));
  net.addPeer({ ID: PEER_A, Addr: "/ip4/192.0.2.1/tcp/1" });
  const timed = (await call("Filnode.NetBan", [PEER_A, 60])).result;
  deepStrictEqual(timed, {
    Kind: "peer",
    Target: PEER_A,
    Expires: "2030-01-01T00:01:00.000Z",
    Reason: "manual",
  });
  equal((await net.peers()).length, 0, "a ban closes the peer's connections");
  const connect = await call("Filecoin.NetConnect", [{
    ID: PEER_A,
    Addrs: ["/ip4/192.0.2.1/tcp/1"],
  }]);
  match(connect.error.message, /is banned/);
  now += 61_000;
  deepStrictEqual((await call("Filnode.NetBans")).result, []);
  const forever = (await call("Filnode.NetBan", ["192.0.2.0/24", null])).result;
  equal(forever.Expires, null);
  equal((await call("Filnode.NetBan", ["10.0.0.0/8"])).result.Expires, null, "omitted = permanent");
  equal((await call("Filnode.NetUnban", ["192.0.2.0/24"])).result, true);
  equal((await call("Filnode.NetUnban", ["192.0.2.0/24"])).result, false);
});

Deno.test("Filnode.NetBan takes ip:port with seconds; NetBlockList leaves IP+port bans out", async () => {
  const { net, call } = netDispatch();
  const untimed = await call("Filnode.NetBan", ["192.0.2.7:4001", null]);
  equal(untimed.error.code, RpcErrorCode.INVALID_PARAMS);
  match(untimed.error.message, /IP\+port ban needs a duration/);
  deepStrictEqual(net.calls, [], "refused before the network system");
  const timed = (await call("Filnode.NetBan", ["[2001:DB8::7]:4001", 60])).result;
  deepStrictEqual([timed.Kind, timed.Target], ["addr", "[2001:db8::7]:4001"]);
  await call("Filnode.NetBan", ["192.0.2.8"]);
  deepStrictEqual((await call("Filecoin.NetBlockList")).result, {
    Peers: [],
    IPAddrs: ["192.0.2.8"],
    IPSubnets: [],
  });
});

Deno.test("Filnode.NetBan rejects bad targets and durations with -32602", async () => {
  const { net, call } = netDispatch();
  for (
    const params of [
      ["bogus", 60],
      [PEER_A, 0],
      [PEER_A, -5],
      [PEER_A, "1h"],
      [PEER_A, 1e12],
      [PEER_A, 60, "extra"],
      [],
    ]
  ) {
    equal(
      (await call("Filnode.NetBan", params)).error.code,
      RpcErrorCode.INVALID_PARAMS,
      `${params}`,
    );
  }
  deepStrictEqual(net.calls, []);
});

Deno.test("Filnode.NetPeersDetailed and NetScores pass the network system's rows through", async () => {
  const { net, call } = netDispatch();
  net.addPeer({ ID: PEER_A, LatencyMs: 12.5, Reputation: 7, Direction: "outbound" });
  net.setGossipScore(PEER_A, 3.25);
  const [peer] = (await call("Filnode.NetPeersDetailed")).result;
  equal(peer.ID, PEER_A);
  equal(peer.LatencyMs, 12.5);
  equal(peer.Direction, "outbound");
  deepStrictEqual((await call("Filnode.NetScores")).result, [
    { ID: PEER_A, Reputation: 7, GossipScore: 3.25, Connected: true },
  ]);
  const pubsub = (await call("Filecoin.NetPubsubScores")).result;
  equal(pubsub[0].Score.Score, 3.25);
});

Deno.test("a NetApi failure that is not a UserError becomes -32603", async () => {
  const { net, call } = netDispatch();
  net.failNext = new Error("libp2p exploded");
  const res = await call(NetMethod.PeersDetailed);
  equal(res.error.code, RpcErrorCode.INTERNAL_ERROR);
  match(res.error.message, /libp2p exploded/);
});
