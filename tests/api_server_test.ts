/**
 * The control API over real loopback HTTP (`src/net/api_server.ts`), its token and api files
 * (`src/net/api_token.ts`) and the CLI's client (`src/net/api_client.ts`), with the FakeNetApi
 * behind the method table.
 *
 * Needs --allow-net=127.0.0.1 plus --allow-read/--allow-write on temp dirs and --allow-env
 * (one test sets HTTP_PROXY to prove the client ignores it).
 */
import { deepStrictEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { createDispatcher, type RpcDispatch } from "../src/api/rpc.ts";
import { netApiMethods } from "../src/api/net_api.ts";
import { FakeNetApi, fakePeerId } from "./fake_net_api.ts";
import {
  ApiListenError,
  createApiHandler,
  isLoopbackAddress,
  parseApiListenAddress,
  RPC_PATH,
  startApiServer,
  startControlApi,
} from "../src/api/api_server.ts";
import {
  ApiFileError,
  apiFilePath,
  generateApiToken,
  loadOrCreateApiToken,
  parseApiMultiaddr,
  readApiFile,
  readApiToken,
  tokenFilePath,
  tokensEqual,
  writeApiFile,
} from "../src/api/api_token.ts";
import {
  ApiAuthError,
  ApiClient,
  DaemonNotRunningError,
  RpcCallError,
} from "../src/api/api_client.ts";
import { UserError } from "../src/errors.ts";
import { withTempDir } from "./_temp.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const TOKEN = "a".repeat(64);
const VERSION = { version: "0.1.0", agent: "filnode/0.1.0", blockDelayMs: 30_000 };

function netDispatch(net = new FakeNetApi()): RpcDispatch {
  return createDispatcher(netApiMethods({ net, version: VERSION }));
}

interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** One HTTP request; the body is always read, so no resource outlives the call. */
async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text === "" ? undefined : JSON.parse(text),
  };
}

function authed(body: unknown, token = TOKEN): RequestInit {
  return {
    method: "POST",
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

function call(method: string, params: unknown[] = [], id = 1) {
  return { jsonrpc: "2.0", id, method, params };
}

async function withServer(
  fn: (url: string, net: FakeNetApi) => Promise<void>,
  options: { dispatch?: RpcDispatch; maxBodyBytes?: number; maxConcurrent?: number } = {},
): Promise<void> {
  const net = new FakeNetApi();
  const server = startApiServer({
    token: TOKEN,
    dispatch: options.dispatch ?? netDispatch(net),
    maxBodyBytes: options.maxBodyBytes,
    maxConcurrent: options.maxConcurrent,
  });
  try {
    await fn(server.url, net);
  } finally {
    await server.shutdown();
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = startApiServer({ token: TOKEN, dispatch: netDispatch() });
  const port = server.port;
  await server.shutdown();
  return port;
}

// ---------------------------------------------------------------------------------------------
// Listening

Deno.test("startApiServer() refuses to bind a host that is not loopback", () => {
  for (const hostname of ["0.0.0.0", "::", "192.0.2.1", "example.com", "10.0.0.1"]) {
    throws(
      () => startApiServer({ hostname, token: TOKEN, dispatch: netDispatch() }),
      (err: unknown) => err instanceof ApiListenError && /loopback/.test(err.message),
      hostname,
    );
  }
});

Deno.test("startApiServer() picks a free port for 0 and names it in url and multiaddr", async () => {
  const server = startApiServer({ token: TOKEN, dispatch: netDispatch() });
  try {
    ok(server.port > 0);
    equal(server.url, `http://127.0.0.1:${server.port}/rpc/v1`);
    equal(server.multiaddr, `/ip4/127.0.0.1/tcp/${server.port}/http`);
  } finally {
    await server.shutdown();
    await server.shutdown(); // idempotent
  }
});

Deno.test("startApiServer() reports a port in use as an ApiListenError", async () => {
  const first = startApiServer({ token: TOKEN, dispatch: netDispatch() });
  try {
    throws(
      () => startApiServer({ port: first.port, token: TOKEN, dispatch: netDispatch() }),
      (err: unknown) => err instanceof ApiListenError && /in use/.test(err.message),
    );
  } finally {
    await first.shutdown();
  }
});

Deno.test("startApiServer() shuts down when its signal aborts", async () => {
  const controller = new AbortController();
  const server = startApiServer({
    token: TOKEN,
    dispatch: netDispatch(),
    signal: controller.signal,
  });
  controller.abort();
  await server.finished;
  await rejects(fetch(server.url, authed(call("Filecoin.ID"))), TypeError);
});

Deno.test("parseApiListenAddress() splits loopback host:port and refuses other hosts", () => {
  deepStrictEqual(parseApiListenAddress("127.0.0.1:1234"), { hostname: "127.0.0.1", port: 1234 });
  deepStrictEqual(parseApiListenAddress("[::1]:1234"), { hostname: "::1", port: 1234 });
  deepStrictEqual(parseApiListenAddress("localhost:0"), { hostname: "localhost", port: 0 });
  throws(() => parseApiListenAddress("0.0.0.0:1234"), /not loopback/);
  throws(() => parseApiListenAddress("127.0.0.1"), /not host:port/);
  throws(() => parseApiListenAddress("127.0.0.1:70000"), /not host:port/);
});

Deno.test("isLoopbackAddress() accepts 127/8, ::1 and mapped 127.x only", () => {
  for (
    const a of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]
  ) {
    ok(isLoopbackAddress(a), a);
  }
  for (const a of ["128.0.0.1", "10.0.0.1", "::", "::ffff:10.0.0.1", "localhost", "", "1.2.3"]) {
    ok(!isLoopbackAddress(a), a);
  }
});

// ---------------------------------------------------------------------------------------------
// HTTP rules

Deno.test("the API answers an authorised call with the method's result as JSON", async () => {
  await withServer(async (url, net) => {
    const reply = await send(url, authed(call("Filecoin.ID")));
    equal(reply.status, 200);
    equal(reply.headers.get("content-type"), "application/json");
    deepStrictEqual(reply.json, { jsonrpc: "2.0", id: 1, result: fakePeerId(0) });
    net.addPeer({ ID: fakePeerId(5) });
    const peers = await send(url, authed(call("Filecoin.NetPeers")));
    deepStrictEqual(peers.json.result, [{ ID: fakePeerId(5), Addrs: ["/ip4/192.0.2.1/tcp/1347"] }]);
  });
});

Deno.test("the API refuses a request without a token, or with a wrong one, with 401", async () => {
  await withServer(async (url, net) => {
    const none = await send(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(call("Filecoin.ID")),
    });
    equal(none.status, 401);
    equal(none.headers.get("www-authenticate"), "Bearer");
    equal(none.headers.get("content-type"), "application/json");
    match(none.json.error.message, /missing bearer token/);
    const wrong = await send(url, authed(call("Filecoin.ID"), "b".repeat(64)));
    equal(wrong.status, 401);
    match(wrong.json.error.message, /invalid token/);
    const prefix = await send(url, authed(call("Filecoin.ID"), TOKEN.slice(0, 10)));
    equal(prefix.status, 401);
    const basic = await send(url, {
      ...authed(call("Filecoin.ID")),
      headers: {
        "Authorization": `Basic ${btoa(`x:${TOKEN}`)}`,
        "Content-Type": "application/json",
      },
    });
    equal(basic.status, 401);
    deepStrictEqual(net.calls, [], "no refused request reached the network system");
  });
});

Deno.test("the API takes the Bearer scheme in any case, as RFC 7235 says", async () => {
  await withServer(async (url) => {
    const reply = await send(url, {
      ...authed(call("Filecoin.ID")),
      headers: { "Authorization": `bearer ${TOKEN}`, "Content-Type": "application/json" },
    });
    equal(reply.status, 200);
  });
});

Deno.test("the API answers 405 to GET, 404 to other paths and 415 to non-JSON bodies", async () => {
  await withServer(async (url) => {
    const get = await send(url, { headers: { "Authorization": `Bearer ${TOKEN}` } });
    equal(get.status, 405);
    equal(get.headers.get("allow"), "POST");
    equal(get.headers.get("content-type"), "application/json");
    const other = await send(url.replace(RPC_PATH, "/rpc/v0"), authed(call("Filecoin.ID")));
    equal(other.status, 404);
    const text = await send(url, {
      method: "POST",
      headers: { "Authorization": `Bearer ${TOKEN}`, "Content-Type": "text/plain" },
      body: JSON.stringify(call("Filecoin.ID")),
    });
    equal(text.status, 415);
    const charset = await send(url, {
      ...authed(call("Filecoin.ID")),
      headers: {
        "Authorization": `Bearer ${TOKEN}`,
        "Content-Type": "application/json; charset=utf-8",
      },
    });
    equal(charset.status, 200);
  });
});

Deno.test("the API answers 413 to a body over the cap, declared or streamed", async () => {
  await withServer(async (url, net) => {
    const big = JSON.stringify(call("Filecoin.ID", ["x".repeat(2048)]));
    const declared = await send(url, authed(big));
    equal(declared.status, 413);
    match(declared.json.error.message, /larger than 1024 bytes/);
    // No Content-Length: the cap applies while reading.
    const chunks = [
      new TextEncoder().encode(big.slice(0, 1000)),
      new TextEncoder().encode(big.slice(1000)),
    ];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const streamed = await send(url, { ...authed(""), body: stream });
    equal(streamed.status, 413);
    deepStrictEqual(net.calls, []);
    // Just under the cap is fine.
    const small = await send(url, authed(call("Filecoin.ID")));
    equal(small.status, 200);
  }, { maxBodyBytes: 1024 });
});

Deno.test("the API refuses a 2 MiB body under the default 1 MiB cap with 413", async () => {
  await withServer(async (url, net) => {
    const body = JSON.stringify(call("Filecoin.ID", ["x".repeat(2 * 1024 * 1024)]));
    const reply = await send(url, authed(body));
    equal(reply.status, 413);
    match(reply.json.error.message, /larger than 1048576 bytes/);
    deepStrictEqual(net.calls, []);
  });
});

Deno.test("the API answers malformed JSON with a -32700 response, and keeps serving", async () => {
  await withServer(async (url) => {
    const bad = await send(url, authed('{"jsonrpc": "2.0", "method": '));
    equal(bad.status, 200);
    equal(bad.json.error.code, -32700);
    const binary = await send(url, {
      ...authed(""),
      body: new Uint8Array([0xff, 0x00, 0xfe, 0x7b]),
    });
    equal(binary.json.error.code, -32700);
    equal((await send(url, authed(call("Filecoin.ID")))).status, 200);
  });
});

Deno.test("the API answers 204 with no body to notifications only, and batches as arrays", async () => {
  await withServer(async (url) => {
    const note = await send(url, authed({ jsonrpc: "2.0", method: "Filecoin.ID" }));
    equal(note.status, 204);
    equal(note.json, undefined);
    const batch = await send(
      url,
      authed([call("Filecoin.ID", [], 1), call("Filnode.NetBans", [], 2)]),
    );
    equal(batch.status, 200);
    deepStrictEqual(batch.json.map((r: { id: number }) => r.id), [1, 2]);
  });
});

Deno.test("the API answers 503 when maxConcurrent calls are already running", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let entered!: () => void;
  const inside = new Promise<void>((r) => entered = r);
  const dispatch: RpcDispatch = async () => {
    entered();
    await gate;
    return JSON.stringify({ jsonrpc: "2.0", id: 1, result: "slow" });
  };
  await withServer(async (url) => {
    const first = send(url, authed(call("Filecoin.ID")));
    await inside;
    const second = await send(url, authed(call("Filecoin.ID")));
    equal(second.status, 503);
    release();
    equal((await first).json.result, "slow");
  }, { dispatch, maxConcurrent: 1 });
});

Deno.test("shutdown() aborts calls in progress instead of waiting for them", async () => {
  let entered!: () => void;
  const inside = new Promise<void>((r) => entered = r);
  const dispatch: RpcDispatch = (_body, options) =>
    new Promise((resolve) => {
      entered();
      options?.signal?.addEventListener("abort", () => {
        resolve(
          JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "stopping" } }),
        );
      });
    });
  const server = startApiServer({ token: TOKEN, dispatch });
  const pending = send(server.url, authed(call("Filecoin.ID")));
  await inside;
  await server.shutdown();
  equal((await pending).json.error.message, "stopping");
});

Deno.test("createApiHandler() refuses a request from a non-loopback address with 403", async () => {
  const net = new FakeNetApi();
  const handler = createApiHandler({ token: TOKEN, dispatch: netDispatch(net) });
  const request = () =>
    new Request(`http://127.0.0.1:1234${RPC_PATH}`, authed(call("Filecoin.ID")));
  const off = await handler(request(), { remoteAddr: { hostname: "192.0.2.50" } });
  equal(off.status, 403);
  equal(off.headers.get("content-type"), "application/json");
  match((await off.json()).error.message, /this machine only/);
  deepStrictEqual(net.calls, []);
  const on = await handler(request(), { remoteAddr: { hostname: "::1" } });
  equal(on.status, 200);
  await on.body?.cancel();
});

// ---------------------------------------------------------------------------------------------
// Token and api files

Deno.test("tokensEqual() compares whole tokens only", () => {
  const t = generateApiToken();
  match(t, /^[0-9a-f]{64}$/);
  ok(tokensEqual(t, t));
  ok(!tokensEqual(t.slice(0, 63), t));
  ok(!tokensEqual(`${t}0`, t));
  ok(!tokensEqual("", t));
  ok(generateApiToken() !== t);
});

Deno.test("parseApiMultiaddr() reads Lotus's api file forms and rejects others", () => {
  deepStrictEqual(parseApiMultiaddr("/ip4/127.0.0.1/tcp/1234/http"), {
    hostname: "127.0.0.1",
    port: 1234,
  });
  deepStrictEqual(parseApiMultiaddr("/ip4/127.0.0.1/tcp/1234\n"), {
    hostname: "127.0.0.1",
    port: 1234,
  });
  deepStrictEqual(parseApiMultiaddr("/ip6/::1/tcp/99/http"), { hostname: "::1", port: 99 });
  for (
    const bad of ["", "127.0.0.1:1234", "/ip4/127.0.0.1/udp/1/http", "/ip4/127.0.0.1/tcp/0/http"]
  ) {
    throws(() => parseApiMultiaddr(bad), RangeError, bad);
  }
});

Deno.test("loadOrCreateApiToken() writes a 0600 token, keeps it across restarts, rotates on request", async () => {
  await withTempDir("filnode-api-", async (root) => {
    const first = await loadOrCreateApiToken(root);
    match(first, /^[0-9a-f]{64}$/);
    equal((await Deno.stat(tokenFilePath(root))).mode! & 0o777, 0o600);
    equal(await loadOrCreateApiToken(root), first);
    equal(await readApiToken(root), first);
    const rotated = await loadOrCreateApiToken(root, { rotate: true });
    ok(rotated !== first);
    equal(await readApiToken(root), rotated);
  });
});

Deno.test("loadOrCreateApiToken() replaces a token others could read, or a damaged one", async () => {
  await withTempDir("filnode-api-", async (root) => {
    const path = tokenFilePath(root);
    await Deno.writeTextFile(path, TOKEN, { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const replaced = await loadOrCreateApiToken(root);
    ok(replaced !== TOKEN, "a world-readable token is not trusted");
    equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(path, "not a token");
    ok((await loadOrCreateApiToken(root)).length === 64);
  });
});

Deno.test("readApiFile() and readApiToken() say absent, and reject damaged files", async () => {
  await withTempDir("filnode-api-", async (root) => {
    equal(await readApiFile(root), undefined);
    equal(await readApiToken(root), undefined);
    await Deno.writeTextFile(apiFilePath(root), "garbage");
    await rejects(readApiFile(root), ApiFileError);
    await Deno.writeFile(apiFilePath(root), new Uint8Array(10_000));
    await rejects(readApiFile(root), /larger than 4096 bytes/);
    await Deno.writeTextFile(tokenFilePath(root), "short");
    await rejects(readApiToken(root), ApiFileError);
  });
});

Deno.test("startControlApi() writes token and api files, and stop() removes the api file", async () => {
  await withTempDir("filnode-api-", async (root) => {
    const api = await startControlApi({ root, port: 0, dispatch: netDispatch() });
    try {
      equal(
        await Deno.readTextFile(apiFilePath(root)),
        `/ip4/127.0.0.1/tcp/${api.server.port}/http`,
      );
      equal(await readApiToken(root), api.token);
      equal((await Deno.stat(apiFilePath(root))).mode! & 0o777, 0o600);
    } finally {
      await api.stop();
      await api.stop(); // idempotent
    }
    equal(await readApiFile(root), undefined);
    equal(await readApiToken(root), api.token, "the token stays for the next start");
  });
});

// ---------------------------------------------------------------------------------------------
// The client

Deno.test("ApiClient.fromRoot() says no daemon is running when there is no api file", async () => {
  await withTempDir("filnode-api-", async (root) => {
    await rejects(
      ApiClient.fromRoot(root),
      (err: unknown) =>
        err instanceof DaemonNotRunningError &&
        err.message === `no daemon is running for root ${root} (start one with \`filnode daemon\`)`,
    );
  });
});

Deno.test("ApiClient.call() says no daemon is running when the api file names a closed port", async () => {
  await withTempDir("filnode-api-", async (root) => {
    await writeApiFile(root, { hostname: "127.0.0.1", port: await closedPort() });
    await loadOrCreateApiToken(root);
    const client = await ApiClient.fromRoot(root);
    try {
      await rejects(client.call("Filecoin.ID"), DaemonNotRunningError);
    } finally {
      client.close();
    }
  });
});

Deno.test("ApiClient.fromRoot() explains a missing token file", async () => {
  await withTempDir("filnode-api-", async (root) => {
    await writeApiFile(root, { hostname: "127.0.0.1", port: 1234 });
    await rejects(ApiClient.fromRoot(root), /API token is missing/);
  });
});

Deno.test("ApiClient.call() returns results and raises the daemon's errors as UserErrors", async () => {
  await withTempDir("filnode-api-", async (root) => {
    const net = new FakeNetApi();
    const api = await startControlApi({ root, dispatch: netDispatch(net) });
    const client = await ApiClient.fromRoot(root);
    try {
      equal(await client.call("Filecoin.ID"), fakePeerId(0));
      deepStrictEqual(await client.call("Filnode.NetBans"), []);
      await rejects(
        client.call("Filecoin.NetDisconnect", [fakePeerId(9)]),
        (err: unknown) =>
          err instanceof RpcCallError && err instanceof UserError && err.code === 1 &&
          /is not connected/.test(err.message),
      );
      await rejects(
        client.call("Filecoin.Nope"),
        (err: unknown) => err instanceof RpcCallError && err.code === -32601,
      );
    } finally {
      client.close();
      await api.stop();
    }
  });
});

Deno.test("ApiClient.call() reports a token the daemon refuses as an ApiAuthError", async () => {
  await withTempDir("filnode-api-", async (root) => {
    const api = await startControlApi({ root, dispatch: netDispatch() });
    const client = new ApiClient({
      address: { hostname: "127.0.0.1", port: api.server.port },
      token: "0".repeat(64),
      root,
    });
    try {
      await rejects(
        client.call("Filecoin.ID"),
        (err: unknown) => err instanceof ApiAuthError && /refused the API token/.test(err.message),
      );
    } finally {
      client.close();
      await api.stop();
    }
  });
});

Deno.test("ApiClient.call() times out on a daemon that does not answer", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const server = startApiServer({
    token: TOKEN,
    dispatch: async () => {
      await gate;
      return undefined;
    },
  });
  const client = new ApiClient({
    address: { hostname: "127.0.0.1", port: server.port },
    token: TOKEN,
    root: "/nowhere",
    timeoutMs: 100,
  });
  try {
    await rejects(client.call("Filecoin.ID"), /did not answer within/);
  } finally {
    release();
    client.close();
    await server.shutdown();
  }
});

Deno.test("ApiClient.call() goes straight to loopback even when HTTP_PROXY is set", async () => {
  const saved = { upper: Deno.env.get("HTTP_PROXY"), lower: Deno.env.get("http_proxy") };
  const port = await closedPort();
  Deno.env.set("HTTP_PROXY", `http://127.0.0.1:${port}`);
  Deno.env.set("http_proxy", `http://127.0.0.1:${port}`);
  try {
    await withServer(async (url) => {
      const client = new ApiClient({
        address: { hostname: "127.0.0.1", port: Number(new URL(url).port) },
        token: TOKEN,
        root: "/nowhere",
      });
      try {
        equal(await client.call("Filecoin.ID"), fakePeerId(0));
      } finally {
        client.close();
      }
    });
  } finally {
    for (
      const [name, value] of [["HTTP_PROXY", saved.upper], ["http_proxy", saved.lower]] as const
    ) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});
