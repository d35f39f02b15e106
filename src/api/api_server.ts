/**
 * The control API's HTTP listener: JSON-RPC 2.0 over `POST /rpc/v1` on loopback only, behind a
 * bearer token. The JSON-RPC itself (parsing, methods, errors) is `src/api/rpc.ts`; this file
 * owns the socket and the HTTP rules:
 *
 * | check, in order                                   | refusal                  |
 * | ------------------------------------------------- | ------------------------ |
 * | the peer's address is loopback                    | 403                      |
 * | the path is `/rpc/v1`                             | 404                      |
 * | the method is POST                                | 405 (`Allow: POST`)      |
 * | `Authorization: Bearer <token>` matches           | 401 (`WWW-Authenticate`) |
 * | `Content-Type: application/json`                  | 415                      |
 * | the body is at most `maxBodyBytes` (1 MiB)        | 413                      |
 * | fewer than `maxConcurrent` calls are in progress  | 503                      |
 *
 * Every answer is JSON: a refusal carries a JSON-RPC error (code -32000, id null) saying why, so
 * a client shows a message whatever went wrong. A request of notifications only gets 204.
 *
 * For the daemon, {@link startControlApi} does the whole job: token file, listener, `api` file,
 * and their removal on stop.
 *
 * @example
 * ```ts ignore
 * const api = await startControlApi({ root, hostname: "127.0.0.1", port: 1234, dispatch });
 * // ... the node runs; `filnode net peers` reads <root>/api and <root>/token ...
 * await api.stop(); // removes <root>/api, then closes the listener
 * ```
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { parseIp } from "./net_api.ts";
import type { RpcDispatch } from "./rpc.ts";
import { UserError } from "../errors.ts";
import {
  apiMultiaddr,
  loadOrCreateApiToken,
  removeApiFile,
  tokensEqual,
  writeApiFile,
} from "./api_token.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** The one path served, as Lotus serves its v1 API. */
export const RPC_PATH = "/rpc/v1";

/** Control calls are a few hundred bytes; 1 MiB leaves room for big batches and stops floods. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** One operator's CLI and scripts: 32 calls at once is plenty, and it bounds memory. */
export const DEFAULT_MAX_CONCURRENT = 32;

/** JSON-RPC code of an HTTP-level refusal: the implementation-defined server error range. */
export const HTTP_REFUSAL_CODE = -32000;

// ---------------------------------------------------------------------------------------------
// Errors

/** The API could not start listening (address in use, not loopback). */
export class ApiListenError extends UserError {}

// ---------------------------------------------------------------------------------------------
// Types

/** Options for {@link startApiServer} and {@link createApiHandler}. */
export interface ApiServerOptions {
  /** Loopback host to bind: `127.0.0.1` (default), another 127.x address, `::1` or `localhost`. */
  hostname?: string;
  /** TCP port; 0 (default) picks a free one, which {@link ApiServer.port} then tells. */
  port?: number;
  /** The bearer token every request must carry. */
  token: string;
  /** Turns a request body into a response body (`createDispatcher` from `src/api/rpc.ts`). */
  dispatch: RpcDispatch;
  /** Aborting it shuts the server down, as {@link ApiServer.shutdown}. */
  signal?: AbortSignal;
  /** Largest request body; default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Most requests handled at once; default {@link DEFAULT_MAX_CONCURRENT}. */
  maxConcurrent?: number;
  /** Called with anything unexpected that escaped a request (the request got a 500). */
  onError?: (error: unknown) => void;
}

/** A running API listener. */
export interface ApiServer {
  readonly hostname: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>/rpc/v1` */
  readonly url: string;
  /** `/ip4/127.0.0.1/tcp/<port>/http`, what the `api` file holds. */
  readonly multiaddr: string;
  /** Aborts calls in progress, closes the listener and waits until it is closed. Idempotent. */
  shutdown(): Promise<void>;
  /** Resolves when the listener has closed. */
  readonly finished: Promise<void>;
}

/** Where a request came from, as `Deno.serve` tells the handler. */
export interface RequestOrigin {
  remoteAddr: { hostname: string };
}

/** The request handler with its stop switch, for {@link startApiServer} and for tests. */
export interface ApiHandler {
  (request: Request, origin: RequestOrigin): Promise<Response>;
  /** Aborts every call in progress (their JSON-RPC answers become errors). */
  abortAll(reason?: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// Loopback

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses. */
export function isLoopbackAddress(address: string): boolean {
  const ip = parseIp(address.replace(/^\[|\]$/g, ""));
  if (ip === undefined) return false;
  return ip.startsWith("127.") || ip === "::1" || /^::ffff:7f[0-9a-f]{2}:/.test(ip);
}

/** A host the API may bind: a loopback address, or `localhost`. */
function isLoopbackHost(hostname: string): boolean {
  return hostname.toLowerCase() === "localhost" || isLoopbackAddress(hostname);
}

/**
 * Splits the `API.ListenAddress` config value (`127.0.0.1:1234`, `[::1]:1234`) for
 * {@link startApiServer}.
 *
 * @throws ApiListenError when it is not host:port on a loopback host.
 */
export function parseApiListenAddress(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const hostname = m ? (m[1] ?? m[2]) : "";
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ApiListenError(`API listen address ${JSON.stringify(text)} is not host:port`);
  }
  if (!isLoopbackHost(hostname)) {
    throw new ApiListenError(
      `API listen address ${JSON.stringify(text)} is not loopback: the control API is for ` +
        "this machine only (use 127.0.0.1 or [::1])",
    );
  }
  return { hostname, port };
}

// ---------------------------------------------------------------------------------------------
// The handler

/** Builds the request handler: every HTTP rule of the module doc, then `dispatch`. */
export function createApiHandler(options: ApiServerOptions): ApiHandler {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const stop = new AbortController();
  let inFlight = 0;

  async function handle(request: Request, origin: RequestOrigin): Promise<Response> {
    if (!isLoopbackAddress(origin.remoteAddr.hostname)) {
      return refuse(403, "the control API accepts connections from this machine only");
    }
    const path = new URL(request.url).pathname;
    if (path !== RPC_PATH) return refuse(404, `not found: the API is at POST ${RPC_PATH}`);
    if (request.method !== "POST") {
      return refuse(405, `method ${request.method} not allowed: use POST ${RPC_PATH}`, {
        Allow: "POST",
      });
    }
    const presented = bearerToken(request.headers.get("authorization"));
    if (presented === undefined) {
      return refuse(401, "missing bearer token: send Authorization: Bearer <the root's token>", {
        "WWW-Authenticate": "Bearer",
      });
    }
    if (!tokensEqual(presented, options.token)) {
      return refuse(401, "invalid token", { "WWW-Authenticate": 'Bearer error="invalid_token"' });
    }
    const mime = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (mime !== "application/json") {
      return refuse(415, "Content-Type must be application/json");
    }
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > maxBody) return refuse(413, tooLarge(maxBody));
    if (inFlight >= maxConcurrent) {
      return refuse(503, `busy: ${maxConcurrent} calls already in progress`, {
        "Retry-After": "1",
      });
    }
    inFlight++;
    try {
      const body = await readCapped(request, maxBody);
      if (body === undefined) return refuse(413, tooLarge(maxBody));
      // Only the server's stop aborts a call: `request.signal` also fires after every
      // successful response in Deno (and warns), so it says nothing useful here.
      const out = await options.dispatch(body, { signal: stop.signal });
      if (out === undefined) return new Response(null, { status: 204, headers: baseHeaders() });
      return new Response(out, { status: 200, headers: baseHeaders() });
    } finally {
      inFlight--;
    }
  }

  const handler = async (request: Request, origin: RequestOrigin) => {
    try {
      return await handle(request, origin);
    } catch (err) {
      // A bug or a broken connection mid-body: answer, never crash the listener.
      options.onError?.(err);
      return refuse(500, "internal error");
    }
  };
  return Object.assign(handler, { abortAll: (reason?: unknown) => stop.abort(reason) });
}

function tooLarge(max: number): string {
  return `request body larger than ${max} bytes`;
}

/** The token of `Bearer <token>`, or undefined without one. */
function bearerToken(header: string | null): string | undefined {
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return m ? m[1] : undefined;
}

function baseHeaders(extra: Record<string, string> = {}): Headers {
  return new Headers({
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...extra,
  });
}

/** A JSON-RPC error with id null, so any JSON-RPC client can show the message. */
function refuse(status: number, message: string, headers: Record<string, string> = {}): Response {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: null,
    error: { code: HTTP_REFUSAL_CODE, message },
  });
  return new Response(body, { status, headers: baseHeaders(headers) });
}

/** The whole body, or undefined once it passes `max` bytes (reading stops there). */
async function readCapped(request: Request, max: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// The listener

/**
 * Starts listening. Returns once the socket is bound; {@link ApiServer.port} tells the port
 * when 0 was asked for.
 *
 * @throws ApiListenError for a host that is not loopback, or a port already in use.
 */
export function startApiServer(options: ApiServerOptions): ApiServer {
  const hostname = options.hostname ?? "127.0.0.1";
  if (!isLoopbackHost(hostname)) {
    throw new ApiListenError(
      `refusing to serve the control API on ${hostname}: it must be a loopback address ` +
        "(127.0.0.1 or ::1), since the API controls the node",
    );
  }
  options.signal?.throwIfAborted();
  const handler = createApiHandler(options);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: options.port ?? 0,
      onListen: () => {}, // Deno prints "Listening on ..." otherwise.
      onError: (err) => {
        options.onError?.(err);
        return refuse(500, "internal error");
      },
    }, handler);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new ApiListenError(
        `the control API cannot listen on ${hostname}:${options.port}: the port is in use ` +
          "(is another daemon running? set API.ListenAddress to another port)",
        { cause: err },
      );
    }
    throw err;
  }
  const port = server.addr.port;
  const urlHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  let stopping: Promise<void> | undefined;
  const onAbort = () => void shutdown();
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      handler.abortAll(new DOMException("the API server is stopping", "AbortError"));
      await server.shutdown();
      await server.finished;
    })();
    return stopping;
  }
  options.signal?.addEventListener("abort", onAbort, { once: true });
  return {
    hostname,
    port,
    url: `http://${urlHost}:${port}${RPC_PATH}`,
    multiaddr: apiMultiaddr({ hostname, port }),
    shutdown,
    finished: server.finished,
  };
}

// ---------------------------------------------------------------------------------------------
// For the daemon: token, listener and api file together

/** Options for {@link startControlApi}. */
export interface ControlApiOptions
  extends Omit<ApiServerOptions, "token" | "signal">, AbortOptions {
  /** The node root, where `token` and `api` go. */
  root: string;
  /** Issue a new token instead of keeping the one in `<root>/token`. */
  rotateToken?: boolean;
}

/** The running control API, as the daemon holds it. */
export interface ControlApi {
  readonly server: ApiServer;
  readonly token: string;
  /** Removes `<root>/api`, then shuts the listener down. Idempotent. */
  stop(): Promise<void>;
}

/**
 * What the daemon calls once the systems the API serves are up: makes sure `<root>/token`
 * holds a token (0600), starts the listener, then writes `<root>/api` so clients find it. The
 * order means a client that sees the `api` file can already connect and authenticate.
 * `stop()` undoes it in reverse, so the `api` file never names a closed port after a clean stop.
 */
export async function startControlApi(options: ControlApiOptions): Promise<ControlApi> {
  const { root, rotateToken, signal, ...serverOptions } = options;
  const token = await loadOrCreateApiToken(root, { rotate: rotateToken, signal });
  const server = startApiServer({ ...serverOptions, token });
  try {
    await writeApiFile(root, { hostname: server.hostname, port: server.port }, { signal });
  } catch (err) {
    await server.shutdown();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    server,
    token,
    stop() {
      stopping ??= (async () => {
        try {
          await removeApiFile(root);
        } finally {
          await server.shutdown();
        }
      })();
      return stopping;
    },
  };
}
