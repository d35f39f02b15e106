/**
 * JSON-RPC 2.0 dispatch for the node's control API: parse a request body, validate it, call a
 * method from a table, and encode the answer. Pure: it never touches a socket, so the HTTP
 * listener (`src/net/api_server.ts`) hands it bytes and sends back what it returns.
 *
 * Conventions follow Lotus (go-jsonrpc), so that Filecoin clients work unchanged:
 * - `params` is a positional array (Lotus has no named params); an absent or `null` `params`
 *   means no arguments, as Lotus's docs show `Inputs: null`.
 * - a method that only reports success answers `"result": null`.
 * - an error a method raises on purpose (a {@link UserError}: bad peer, unknown ban) has code 1,
 *   go-jsonrpc's code for a Go `error`; the standard codes below are for protocol faults.
 *
 * | code   | when                                                                  |
 * | ------ | --------------------------------------------------------------------- |
 * | -32700 | the body is not UTF-8 JSON                                            |
 * | -32600 | not a request object, `jsonrpc` is not "2.0", bad `id`, batch too big  |
 * | -32601 | no such method                                                        |
 * | -32602 | wrong number or shape of params                                       |
 * | -32603 | a method failed unexpectedly (a bug, not the caller's fault)          |
 * | 1      | a method refused the call ({@link UserError}): the message says why   |
 *
 * @example
 * ```ts
 * import { createDispatcher, defineMethod, stringParam } from "./rpc.ts";
 * const dispatch = createDispatcher({
 *   "Demo.Echo": defineMethod([stringParam("text")], ([text]) => Promise.resolve(text)),
 * });
 * const out = await dispatch('{"jsonrpc":"2.0","id":1,"method":"Demo.Echo","params":["hi"]}');
 * console.log(out); // {"jsonrpc":"2.0","id":1,"result":"hi"}
 * ```
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** Standard JSON-RPC 2.0 error codes, plus go-jsonrpc's code 1 for a method's own error. */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** go-jsonrpc answers a Go `error` returned by a method with code 1; Lotus clients expect it. */
  APPLICATION_ERROR: 1,
} as const;

/**
 * A batch runs its calls one after another; 100 is far beyond what the CLI sends and keeps one
 * request from occupying the node for long.
 */
export const DEFAULT_MAX_BATCH = 100;

/** Params arrays are tiny for every method here; a cap stops a huge array before decoding. */
const MAX_PARAMS = 16;

// ---------------------------------------------------------------------------------------------
// Types

/** A JSON-RPC request id: the spec allows a string, a number or null. */
export type RpcId = string | number | null;

/** The error member of a response. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** One response object, success or failure. */
export type RpcResponse =
  | { jsonrpc: "2.0"; id: RpcId; result: unknown }
  | { jsonrpc: "2.0"; id: RpcId; error: RpcErrorObject };

/** A method: positional params in, a JSON-able result out (`undefined` is sent as `null`). */
export type RpcHandler = (params: readonly unknown[], options: AbortOptions) => Promise<unknown>;

/** Method name (e.g. `Filecoin.NetPeers`) to handler. */
export type MethodTable = Readonly<Record<string, RpcHandler>>;

/**
 * Turns a request body into the response body: `undefined` when nothing is to be sent (every
 * call was a notification). Never throws; every fault becomes a JSON-RPC error response.
 */
export type RpcDispatch = (
  body: string | Uint8Array,
  options?: AbortOptions,
) => Promise<string | undefined>;

/** Options for {@link createDispatcher}. */
export interface DispatcherOptions {
  /** Most calls in one batch; a longer batch is refused whole with -32600. */
  maxBatch?: number;
  /** Called with each unexpected (non-{@link UserError}) failure, e.g. to log it. */
  onInternalError?: (method: string, error: unknown) => void;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** An error with a JSON-RPC code: thrown by a method (or a param decoder) to choose the code. */
export class RpcError extends Error {
  readonly code: number;
  readonly data?: unknown;
  constructor(code: number, message: string, options?: ErrorOptions & { data?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (options?.data !== undefined) this.data = options.data;
  }
}

/** -32602: the params do not fit the method. */
export class InvalidParamsError extends RpcError {
  constructor(message: string, options?: ErrorOptions) {
    super(RpcErrorCode.INVALID_PARAMS, message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Params

/**
 * Decodes one positional param. Throws (anything) when the value does not fit; the method turns
 * that into -32602 naming the param.
 */
export type ParamDecoder<T> = (value: unknown) => T;

/** One positional param of a method: its name (for messages) and how to decode it. */
export interface ParamSpec<T> {
  readonly name: string;
  readonly decode: ParamDecoder<T>;
  /** An optional param may be left off the end of the array, or sent as null. */
  readonly optional?: boolean;
}

type Decoded<P extends readonly ParamSpec<unknown>[]> = {
  -readonly [K in keyof P]: P[K] extends ParamSpec<infer T> & { optional: true } ? T | undefined
    : P[K] extends ParamSpec<infer T> ? T
    : never;
};

/**
 * A method from param specs and a function of the decoded params. Checks the count (too many
 * or too few is -32602) and decodes each param before `run` sees it.
 */
export function defineMethod<const P extends readonly ParamSpec<unknown>[]>(
  params: P,
  run: (args: Decoded<P>, options: AbortOptions) => Promise<unknown>,
): RpcHandler {
  const required = params.filter((p) => !p.optional).length;
  return (raw, options) => {
    if (raw.length < required || raw.length > params.length) {
      const want = required === params.length ? `${required}` : `${required} to ${params.length}`;
      const names = params.map((p) => p.optional ? `[${p.name}]` : p.name).join(", ");
      throw new InvalidParamsError(
        `expected ${want} param${params.length === 1 ? "" : "s"} (${names}), got ${raw.length}`,
      );
    }
    const args = params.map((spec, i) => {
      const value = raw[i];
      if (spec.optional && (value === undefined || value === null)) return undefined;
      try {
        return spec.decode(value);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new InvalidParamsError(`param ${i + 1} (${spec.name}): ${why}`, { cause: err });
      }
    });
    return run(args as Decoded<P>, options);
  };
}

/** A required string param. */
export function stringParam(name: string): ParamSpec<string> {
  return { name, decode: decodeString };
}

/** Decodes a string, or throws a TypeError saying what it got. */
export function decodeString(value: unknown): string {
  if (typeof value !== "string") throw new TypeError(`expected a string, got ${kindOf(value)}`);
  return value;
}

/** Decodes an array of strings; `null` (a Go nil slice) is an empty array. */
export function decodeStringArray(value: unknown, maxLength = 1024): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`expected an array, got ${kindOf(value)}`);
  if (value.length > maxLength) throw new RangeError(`more than ${maxLength} entries`);
  return value.map((v, i) => {
    if (typeof v !== "string") throw new TypeError(`entry ${i} is ${kindOf(v)}, not a string`);
    return v;
  });
}

/** Decodes a plain JSON object (not an array, not null). */
export function decodeObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`expected an object, got ${kindOf(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * A field of a decoded object, matched as Go's encoding/json matches: exactly, else ignoring
 * case. Lotus clients send `"ID"`, but a hand-written script may send `"id"` and Lotus takes it.
 */
export function field(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === lower) return object[key];
  }
  return undefined;
}

/** "a string", "null", "an array", ... for messages. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value === undefined) return "nothing";
  const t = typeof value;
  return t === "object" ? "an object" : `a ${t}`;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/** Builds the dispatcher for a method table. */
export function createDispatcher(
  methods: MethodTable,
  options: DispatcherOptions = {},
): RpcDispatch {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  // A Map, not the object itself: a method called "toString" or "__proto__" must not resolve
  // to something inherited.
  const table = new Map(Object.entries(methods));

  async function callOne(message: unknown, signal?: AbortSignal): Promise<RpcResponse | undefined> {
    const checked = checkRequest(message);
    if ("error" in checked) return checked.notification ? undefined : checked.error;
    const { id, method, params, notification } = checked;
    let response: RpcResponse;
    const handler = table.get(method);
    if (!handler) {
      response = errorResponse(id, RpcErrorCode.METHOD_NOT_FOUND, `method not found: ${method}`);
    } else {
      try {
        const result = await handler(params, { signal });
        response = { jsonrpc: "2.0", id, result: result === undefined ? null : result };
        // Encode now, so a result that cannot be JSON fails this call alone, as an error.
        encodeResponse(response);
      } catch (err) {
        response = errorFromThrown(id, method, err, options.onInternalError);
      }
    }
    return notification ? undefined : response;
  }

  return async (body, callOptions = {}) => {
    let message: unknown;
    try {
      const text = typeof body === "string" ? body : UTF8.decode(body);
      message = JSON.parse(text);
    } catch {
      return encodeResponse(errorResponse(null, RpcErrorCode.PARSE_ERROR, "parse error"));
    }
    if (!Array.isArray(message)) {
      const response = await callOne(message, callOptions.signal);
      return response && encodeResponse(response);
    }
    if (message.length === 0) {
      return encodeResponse(errorResponse(null, RpcErrorCode.INVALID_REQUEST, "empty batch"));
    }
    if (message.length > maxBatch) {
      return encodeResponse(
        errorResponse(
          null,
          RpcErrorCode.INVALID_REQUEST,
          `batch of ${message.length} calls exceeds the limit of ${maxBatch}`,
        ),
      );
    }
    const responses: string[] = [];
    // One after another: a batch like [ban, bans] must see its own effects in order.
    for (const item of message) {
      const response = await callOne(item, callOptions.signal);
      if (response) responses.push(encodeResponse(response));
    }
    return responses.length === 0 ? undefined : `[${responses.join(",")}]`;
  };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

interface CheckedRequest {
  id: RpcId;
  method: string;
  params: readonly unknown[];
  notification: boolean;
}

/**
 * Validates one request object; an invalid one yields its error response. An invalid request
 * is always answered (the spec's examples do, id null), but bad params of a well-formed
 * notification are not: a notification is never answered.
 */
function checkRequest(
  message: unknown,
): CheckedRequest | { error: RpcResponse; notification: boolean } {
  const invalid = (id: RpcId, why: string) => ({
    error: errorResponse(id, RpcErrorCode.INVALID_REQUEST, `invalid request: ${why}`),
    notification: false,
  });
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return invalid(null, `expected a request object, got ${kindOf(message)}`);
  }
  const request = message as Record<string, unknown>;
  const hasId = Object.hasOwn(request, "id");
  const rawId = request.id;
  if (hasId && !isValidId(rawId)) return invalid(null, "id must be a string, a number or null");
  const id = hasId ? rawId as RpcId : null;
  if (request.jsonrpc !== "2.0") return invalid(id, 'jsonrpc must be "2.0"');
  if (typeof request.method !== "string" || request.method === "") {
    return invalid(id, "method must be a non-empty string");
  }
  const rawParams = request.params;
  const notification = !hasId;
  const badParams = (why: string) => ({
    error: errorResponse(id, RpcErrorCode.INVALID_PARAMS, why),
    notification,
  });
  let params: readonly unknown[];
  if (rawParams === undefined || rawParams === null) params = [];
  else if (Array.isArray(rawParams)) params = rawParams;
  // Named params are legal JSON-RPC, but no Lotus method takes them: say so plainly.
  else return badParams("params must be a positional array (Lotus style), not an object");
  if (params.length > MAX_PARAMS) return badParams(`more than ${MAX_PARAMS} params`);
  return { id, method: request.method, params, notification };
}

function isValidId(id: unknown): boolean {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

function errorResponse(id: RpcId, code: number, message: string, data?: unknown): RpcResponse {
  const error: RpcErrorObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", id, error };
}

function errorFromThrown(
  id: RpcId,
  method: string,
  err: unknown,
  onInternalError?: (method: string, error: unknown) => void,
): RpcResponse {
  if (err instanceof RpcError) return errorResponse(id, err.code, err.message, err.data);
  if (err instanceof UserError) {
    return errorResponse(id, RpcErrorCode.APPLICATION_ERROR, err.message);
  }
  onInternalError?.(method, err);
  const why = err instanceof Error ? err.message : String(err);
  return errorResponse(id, RpcErrorCode.INTERNAL_ERROR, `internal error in ${method}: ${why}`);
}

/**
 * JSON with Lotus's encodings for values JSON lacks: a bigint as a decimal string (Lotus's
 * BigInt) and bytes as base64 (Go's []byte).
 */
export function encodeResponse(response: RpcResponse): string {
  return JSON.stringify(response, (_key, value) => {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Uint8Array) return bytesToBase64(value);
    return value;
  });
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
