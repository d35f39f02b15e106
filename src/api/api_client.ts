/**
 * The CLI's side of the control API: find the daemon through `<root>/api` and `<root>/token`,
 * send JSON-RPC calls, and turn every way that can fail into a one-line `UserError`.
 *
 * Requests go straight to the loopback socket named in the `api` file, never through an
 * `HTTP_PROXY` from the environment: a proxy would see the bearer token.
 *
 * @example
 * ```ts ignore
 * const client = await ApiClient.fromRoot(root);
 * try {
 *   console.log(await client.call<string>("Filecoin.ID"));
 * } finally {
 *   client.close();
 * }
 * ```
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import { type ApiEndpointAddress, readApiFile, readApiToken, tokenFilePath } from "./api_token.ts";
import { RPC_PATH } from "./api_server.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** Control calls answer in milliseconds; connecting to a peer can take a dial timeout or two. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/** An answer to a control call is small; a bigger one is not from our daemon. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors

/** No daemon answers for the root: no `api` file, or nothing listening where it points. */
export class DaemonNotRunningError extends UserError {
  constructor(root: string, options?: ErrorOptions) {
    super(`no daemon is running for root ${root} (start one with \`filnode daemon\`)`, options);
  }
}

/** The daemon refused our token (401) or our address (403). */
export class ApiAuthError extends UserError {}

/** The daemon answered the call with a JSON-RPC error; the message is the daemon's. */
export class RpcCallError extends UserError {
  readonly code: number;
  readonly data?: unknown;
  constructor(method: string, code: number, message: string, data?: unknown) {
    super(`${method}: ${message}`);
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

// ---------------------------------------------------------------------------------------------
// The client

/** Options for {@link ApiClient}. */
export interface ApiClientOptions {
  /** Where the API listens. */
  address: ApiEndpointAddress;
  token: string;
  /** Named in "no daemon is running for root X". */
  root: string;
  /** Per-call limit; default {@link DEFAULT_CALL_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** A JSON-RPC client for one daemon. `close()` it when done (it holds a connection pool). */
export class ApiClient {
  readonly url: string;
  readonly root: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #http: Deno.HttpClient;
  #nextId = 1;

  constructor(options: ApiClientOptions) {
    const { hostname, port } = options.address;
    const urlHost = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.url = `http://${urlHost}:${port}${RPC_PATH}`;
    this.root = options.root;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    // A "tcp" proxy pins every request to this socket, so HTTP_PROXY cannot divert the token.
    this.#http = Deno.createHttpClient({ proxy: { transport: "tcp", hostname, port } });
  }

  /**
   * A client for the daemon of `root`, from its `api` and `token` files.
   *
   * @throws DaemonNotRunningError when there is no `api` file.
   * @throws ApiFileError when a file is damaged; UserError when the token file is missing.
   */
  static async fromRoot(
    root: string,
    options: AbortOptions & { timeoutMs?: number } = {},
  ): Promise<ApiClient> {
    const address = await readApiFile(root, options);
    if (!address) throw new DaemonNotRunningError(root);
    const token = await readApiToken(root, options);
    if (token === undefined) {
      throw new UserError(
        `the daemon's API token is missing (${tokenFilePath(root)}); restart the daemon`,
      );
    }
    return new ApiClient({ address, token, root, timeoutMs: options.timeoutMs });
  }

  /**
   * Calls `method` with positional `params` and returns its result.
   *
   * @throws DaemonNotRunningError when nothing listens at the address (a stale `api` file).
   * @throws ApiAuthError on 401/403; RpcCallError when the method answers with an error;
   * UserError on a timeout or an answer that is not JSON-RPC.
   */
  async call<T = unknown>(
    method: string,
    params: readonly unknown[] = [],
    options: AbortOptions = {},
  ): Promise<T> {
    const id = this.#nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException("timed out", "TimeoutError")),
      this.#timeoutMs,
    );
    const signal = options.signal
      ? AbortSignal.any([options.signal, timeout.signal])
      : timeout.signal;
    try {
      let response: Response;
      try {
        response = await fetch(this.url, {
          method: "POST",
          client: this.#http,
          signal,
          headers: {
            "Authorization": `Bearer ${this.#token}`,
            "Content-Type": "application/json",
            "Accept": "application/json",
          },
          body,
        });
      } catch (err) {
        throw this.#fetchFailure(err, options.signal);
      }
      const text = await readText(response, signal).catch((err) => {
        throw this.#fetchFailure(err, options.signal);
      });
      return this.#decode<T>(method, id, response.status, text);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Releases the connection pool. */
  close(): void {
    this.#http.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #fetchFailure(err: unknown, callerSignal?: AbortSignal): unknown {
    // The caller gave up (Ctrl-C): let its reason through untouched.
    if (callerSignal?.aborted) return callerSignal.reason ?? err;
    if (err instanceof UserError || err instanceof Deno.errors.NotCapable) return err;
    if ((err as { name?: unknown } | null)?.name === "TimeoutError") {
      const seconds = Math.round(this.#timeoutMs / 1000);
      return new UserError(`the daemon at ${this.url} did not answer within ${seconds}s`);
    }
    // fetch rejects with a TypeError when it cannot connect: nothing listens there any more,
    // so the api file is left from a daemon that died without cleaning up.
    return new DaemonNotRunningError(this.root, { cause: err });
  }

  #decode<T>(method: string, id: number, status: number, text: string): T {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      throw new UserError(
        `the daemon at ${this.url} answered HTTP ${status} with something other than JSON`,
      );
    }
    const error = rpcError(message);
    if (status === 401) {
      throw new ApiAuthError(
        `the daemon refused the API token in ${tokenFilePath(this.root)}` +
          (error ? ` (${error.message})` : "") + "; is the api file from another root?",
      );
    }
    if (status === 403) {
      throw new ApiAuthError(`the daemon refused the call: ${error?.message ?? "forbidden"}`);
    }
    if (status !== 200) {
      throw new UserError(
        `the daemon answered HTTP ${status}${error ? `: ${error.message}` : ""}`,
      );
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      throw new UserError(`the daemon's answer to ${method} is not a JSON-RPC response`);
    }
    const response = message as Record<string, unknown>;
    if (response.id !== id && !(error && response.id === null)) {
      throw new UserError(`the daemon's answer to ${method} has the wrong id`);
    }
    if (error) throw new RpcCallError(method, error.code, error.message, error.data);
    if (!Object.hasOwn(response, "result")) {
      throw new UserError(`the daemon's answer to ${method} has neither result nor error`);
    }
    return response.result as T;
  }
}

function rpcError(message: unknown): { code: number; message: string; data?: unknown } | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const error = (message as Record<string, unknown>).error;
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Record<string, unknown>;
  const code = typeof e.code === "number" ? e.code : 0;
  const text = typeof e.message === "string" ? e.message : "unknown error";
  return { code, message: text, data: e.data };
}

/** The response body as text, refusing more than MAX_RESPONSE_BYTES. */
async function readText(response: Response, signal: AbortSignal): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > MAX_RESPONSE_BYTES) {
        await reader.cancel().catch(() => {});
        throw new UserError(`the daemon's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
