/**
 * Chain exchange wire messages (`/fil/chain/xchg/0.0.1`), byte-compatible with Lotus
 * `chain/exchange/` (protocol.go, cbor_gen.go, protocol_encoding.go) and Forest
 * `src/libp2p/chain_exchange/`:
 *
 * - Request `[Head []CID, Length uint, Options uint]`
 * - Response `[Status uint, ErrorMessage string, Chain []BSTipSet]`
 * - BSTipSet `[Blocks []BlockHeader, Messages CompactedMessages|null]`
 * - CompactedMessages `[Bls []Message, BlsIncludes [][]uint, Secpk []SignedMessage,
 *   SecpkIncludes [][]uint]`
 *
 * Decoders take already-decoded dag-cbor values (what `readCborItem` returns), are strict (every
 * list bounded by the limit Lotus's generated decoder enforces) and throw only
 * InvalidExchangeMessageError naming the field. `validateResponse` (`chain_exchange_answer.ts`) then checks that a decoded
 * response really answers its request, as Lotus's client `processResponse` does.
 *
 * @example
 * ```ts
 * import * as dagCbor from "@ipld/dag-cbor";
 * import { CID } from "multiformats/cid";
 * import { decodeRequest, encodeRequest, ExchangeOptions } from "./chain_exchange_message.ts";
 * const head = [CID.parse("bafy2bzacecmda75ovposbdateg7eyhwij65zklgyijgcjwynlklmqazpwlhba")];
 * const bytes = dagCbor.encode(encodeRequest({ head, length: 10, options: ExchangeOptions.Headers }));
 * const request = decodeRequest(dagCbor.decode(bytes));
 * if (request.length !== 10 || !request.head[0].equals(head[0])) throw new Error("round trip");
 * ```
 *
 * @module
 */
// BLOCK_MESSAGE_LIMIT (Lotus `build.BlockMessageLimit`) caps each includes list.
import { BLOCK_MESSAGE_LIMIT } from "../chain/block_messages.ts";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import {
  type BlockHeader,
  decodeBlockHeader,
  decodeMessage,
  decodeSignedMessage,
  encodeBlockHeader,
  encodeMessage,
  encodeSignedMessage,
  InvalidChainDataError,
  MAX_LIST_LENGTH,
  type Message,
  type SignedMessage,
} from "../chain/types/mod.ts";
import type { Network } from "../crypto/address.ts";

/** Protocol ID (Lotus `ChainExchangeProtocolID`). */
export const CHAIN_EXCHANGE_PROTOCOL = "/fil/chain/xchg/0.0.1";

/**
 * Most tipsets one request may ask for: Lotus `MaxRequestLength = policy.ChainFinality` (900),
 * https://github.com/filecoin-project/lotus/blob/master/chain/exchange/protocol.go. Lotus servers
 * answer BadRequest above it, so asking for more only wastes a round trip.
 */
export const MAX_REQUEST_LENGTH = 900;

/**
 * Largest response accepted: Lotus client `maxExchangeMessageSize = (15 * 8) << 20` (120 MiB; ~8
 * MiB of messages per block times 15 blocks), chain/exchange/client.go.
 */
export const MAX_RESPONSE_BYTES = 120 << 20;

/**
 * Largest request a server reads. A request is a few CIDs and two integers (a 15-block head is
 * about 600 bytes); 64 KiB leaves room for any real head while a peer cannot make us buffer more.
 */
export const MAX_REQUEST_BYTES = 64 << 10;

/**
 * Most messages in one tipset's compacted lists: Lotus `CompactedMessagesCBOR`
 * `maxlen=150000` (BlockMessageLimit times 15 blocks), chain/exchange/protocol_encoding.go.
 */
export const MAX_COMPACTED_MESSAGES = 150_000;

/** Longest ErrorMessage: cbor-gen `ReadString` refuses strings over `MaxLength` (8192). */
export const MAX_ERROR_MESSAGE_LENGTH = MAX_LIST_LENGTH;

/** Request option bits (Lotus `Headers = 1 << iota; Messages`). */
export const ExchangeOptions = {
  Headers: 1,
  Messages: 2,
} as const;

/** Response status codes (Lotus `status`). */
export const ExchangeStatus = {
  Ok: 0,
  /** Fewer tipsets than asked, but at least the head: not an error. */
  Partial: 101,
  NotFound: 201,
  GoAway: 202,
  InternalError: 203,
  BadRequest: 204,
} as const;
export type ExchangeStatus = typeof ExchangeStatus[keyof typeof ExchangeStatus];

const STATUS_NAMES = new Map<number, string>(
  Object.entries(ExchangeStatus).map(([name, code]) => [code, name]),
);

/** The name of a status code, or `status <n>` for an unknown one. */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `status ${status}`;
}

/** A chain exchange request. */
export interface ExchangeRequest {
  /** Key of the tipset to walk back from (inclusive). */
  readonly head: readonly CID[];
  /** Tipsets wanted, `[1, MAX_REQUEST_LENGTH]` to be served. */
  readonly length: number;
  /** Bit set of ExchangeOptions. */
  readonly options: number;
}

/** All messages of one tipset, each stored once; the includes map blocks to them. */
export interface CompactedMessages {
  readonly bls: readonly Message[];
  /** `blsIncludes[block][i]` is an index into `bls`. */
  readonly blsIncludes: readonly (readonly number[])[];
  readonly secpk: readonly SignedMessage[];
  /** `secpkIncludes[block][i]` is an index into `secpk`. */
  readonly secpkIncludes: readonly (readonly number[])[];
}

/** One tipset of a response: its blocks and/or its messages, as requested. */
export interface BSTipSet {
  readonly blocks: readonly BlockHeader[];
  readonly messages: CompactedMessages | null;
}

/** A chain exchange response. */
export interface ExchangeResponse {
  readonly status: number;
  readonly errorMessage: string;
  /** From the requested head backwards. */
  readonly chain: readonly BSTipSet[];
}

/** The messages of one block, in block order. */
export interface BlockMessages {
  readonly bls: readonly Message[];
  readonly secpk: readonly SignedMessage[];
}

/**
 * A value that is not a well-formed chain exchange message; the message names the field
 * (`response.Chain[3].Messages.BlsIncludes[0][2]: ...`). A subclass of InvalidChainDataError, so
 * catching that one class still drops any peer data that does not decode.
 */
export class InvalidExchangeMessageError extends InvalidChainDataError {}

/**
 * A well-formed response that does not answer its request: a head other than the one asked for,
 * tipsets that do not chain, more tipsets than asked, include indices out of range.
 */
export class InvalidExchangeResponseError extends InvalidExchangeMessageError {}

/** A response whose status is an error (NotFound, GoAway, InternalError, BadRequest, unknown). */
export class ExchangeStatusError extends Error {
  override name = "ExchangeStatusError";
  readonly status: number;
  constructor(status: number, errorMessage: string) {
    super(`${statusName(status)}${errorMessage ? `: ${errorMessage}` : ""}`);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Tuple form of a request; throws InvalidExchangeMessageError for what Lotus could not read. */
export function encodeRequest(request: ExchangeRequest): [CID[], number, number] {
  if (request.head.length > MAX_LIST_LENGTH) fail("request.Head", "too many CIDs");
  return [
    [...request.head],
    uint(request.length, "request.Length"),
    uint(request.options, "request.Options"),
  ];
}

/** Tuple form of a response. */
export function encodeResponse(response: ExchangeResponse): unknown[] {
  if (response.errorMessage.length > MAX_ERROR_MESSAGE_LENGTH) {
    fail("response.ErrorMessage", "too long");
  }
  if (response.chain.length > MAX_LIST_LENGTH) fail("response.Chain", "too many tipsets");
  return [
    uint(response.status, "response.Status"),
    response.errorMessage,
    response.chain.map(encodeBSTipSet),
  ];
}

/** Tuple form of one BSTipSet. */
export function encodeBSTipSet(tipset: BSTipSet): unknown[] {
  return [
    tipset.blocks.map(encodeBlockHeader),
    tipset.messages && encodeCompactedMessages(tipset.messages),
  ];
}

/** Tuple form of one tipset's compacted messages. */
export function encodeCompactedMessages(messages: CompactedMessages): unknown[] {
  return [
    messages.bls.map(encodeMessage),
    messages.blsIncludes.map((list) => [...list]),
    messages.secpk.map(encodeSignedMessage),
    messages.secpkIncludes.map((list) => [...list]),
  ];
}

/**
 * The bytes of a response whose tipsets are already encoded (each `dagCbor.encode` of
 * `encodeBSTipSet`), as a list of chunks: a server can measure a response while building it
 * and send it without encoding anything twice. Equal to `dagCbor.encode(encodeResponse(...))`.
 */
export function responseChunks(
  status: number,
  errorMessage: string,
  encodedTipsets: readonly Uint8Array[],
): Uint8Array[] {
  const head = dagCbor.encode([uint(status, "response.Status"), errorMessage, []]);
  // `head` ends with the empty array (0x80): replace it with the real array header.
  return [
    head.subarray(0, head.length - 1),
    cborArrayHeader(encodedTipsets.length),
    ...encodedTipsets,
  ];
}

/** A CBOR major type 4 (array) header for `length` items, in its shortest form. */
function cborArrayHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x80 | length);
  if (length < 0x100) return Uint8Array.of(0x98, length);
  if (length < 0x10000) return Uint8Array.of(0x99, length >> 8, length & 0xff);
  return Uint8Array.of(
    0x9a,
    length >>> 24,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  );
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Options of the response decoder. */
export interface ExchangeDecodeOptions {
  /** Network prefix given to decoded addresses (presentation only). */
  readonly network?: Network;
}

/** Read a decoded CBOR value as a request; throws InvalidExchangeMessageError. */
export function decodeRequest(value: unknown): ExchangeRequest {
  const f = tuple(value, "request", 3);
  return {
    head: list(f[0], "request.Head", MAX_LIST_LENGTH).map((v, i) => cid(v, `request.Head[${i}]`)),
    length: readUint(f[1], "request.Length"),
    options: readUint(f[2], "request.Options"),
  };
}

/** Read a decoded CBOR value as a response; throws InvalidExchangeMessageError. */
export function decodeResponse(
  value: unknown,
  options: ExchangeDecodeOptions = {},
): ExchangeResponse {
  const f = tuple(value, "response", 3);
  const status = readUint(f[0], "response.Status");
  if (typeof f[1] !== "string") {
    fail("response.ErrorMessage", `expected a string, got ${kind(f[1])}`);
  }
  if (f[1].length > MAX_ERROR_MESSAGE_LENGTH) fail("response.ErrorMessage", "too long");
  const chain = list(f[2], "response.Chain", MAX_LIST_LENGTH).map((v, i) =>
    decodeBSTipSet(v, `response.Chain[${i}]`, options)
  );
  return { status, errorMessage: f[1], chain };
}

/** Read a decoded CBOR value as a BSTipSet; throws InvalidExchangeMessageError. */
export function decodeBSTipSet(
  value: unknown,
  what = "tipset",
  options: ExchangeDecodeOptions = {},
): BSTipSet {
  const f = tuple(value, what, 2);
  const blocks = list(f[0], `${what}.Blocks`, MAX_LIST_LENGTH).map((v, i) =>
    chainData(`${what}.Blocks[${i}]`, () => decodeBlockHeader(v, options))
  );
  const messages = f[1] === null
    ? null
    : decodeCompactedMessages(f[1], `${what}.Messages`, options);
  return { blocks, messages };
}

/** Read a decoded CBOR value as CompactedMessages; throws InvalidExchangeMessageError. */
export function decodeCompactedMessages(
  value: unknown,
  what = "messages",
  options: ExchangeDecodeOptions = {},
): CompactedMessages {
  const f = tuple(value, what, 4);
  return {
    bls: list(f[0], `${what}.Bls`, MAX_COMPACTED_MESSAGES).map((v, i) =>
      chainData(`${what}.Bls[${i}]`, () => decodeMessage(v, options))
    ),
    blsIncludes: includes(f[1], `${what}.BlsIncludes`),
    secpk: list(f[2], `${what}.Secpk`, MAX_COMPACTED_MESSAGES).map((v, i) =>
      chainData(`${what}.Secpk[${i}]`, () => decodeSignedMessage(v, options))
    ),
    secpkIncludes: includes(f[3], `${what}.SecpkIncludes`),
  };
}

function includes(value: unknown, what: string): number[][] {
  return list(value, what, MAX_LIST_LENGTH).map((block, b) =>
    list(block, `${what}[${b}]`, BLOCK_MESSAGE_LIMIT).map((v, i) =>
      readUint(v, `${what}[${b}][${i}]`)
    )
  );
}

/** Decode request bytes (strict dag-cbor, size-capped); throws InvalidExchangeMessageError. */
export function deserializeRequest(bytes: Uint8Array): ExchangeRequest {
  return decodeRequest(cborDecode(bytes, "request", MAX_REQUEST_BYTES));
}

/** Decode response bytes (strict dag-cbor, size-capped); throws InvalidExchangeMessageError. */
export function deserializeResponse(
  bytes: Uint8Array,
  options: ExchangeDecodeOptions & { maxBytes?: number } = {},
): ExchangeResponse {
  return decodeResponse(
    cborDecode(bytes, "response", options.maxBytes ?? MAX_RESPONSE_BYTES),
    options,
  );
}

// ---------------------------------------------------------------------------------------------
// Helpers

function fail(what: string, message: string, cause?: unknown): never {
  throw new InvalidExchangeMessageError(
    `${what}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Runs a chain-type decoder, re-raising its error as ours with the field path in front. */
function chainData<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidChainDataError) fail(what, err.message, err);
    throw err;
  }
}

function tuple(value: unknown, what: string, length: number): unknown[] {
  if (!Array.isArray(value)) fail(what, `expected a ${length}-field array, got ${kind(value)}`);
  if (value.length !== length) fail(what, `expected ${length} fields, got ${value.length}`);
  return value;
}

function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(what, `expected an array, got ${kind(value)}`);
  if (value.length > max) fail(what, `too many items (${value.length}, max ${max})`);
  return value;
}

function cid(value: unknown, what: string): CID {
  const c = CID.asCID(value);
  if (!c) fail(what, `expected a CID, got ${kind(value)}`);
  return c;
}

/**
 * A CBOR unsigned integer that fits a JS number exactly. Lotus types these uint64; a value over
 * 2^53 is refused here since none is meaningful (lengths over 900, indices over 150 000, option
 * bits beyond the two defined).
 */
function readUint(value: unknown, what: string): number {
  if (typeof value === "bigint") fail(what, `out of range (${value})`);
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(what, `expected an unsigned integer, got ${kind(value)}`);
  }
  if (value < 0) fail(what, `must not be negative (got ${value})`);
  return value;
}

function uint(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) fail(what, `cannot encode ${value}`);
  return value;
}

function cborDecode(bytes: Uint8Array, what: string, maxBytes: number): unknown {
  if (bytes.length > maxBytes) fail(what, `too large (${bytes.length} bytes, max ${maxBytes})`);
  try {
    return dagCbor.decode(bytes);
  } catch (err) {
    fail(what, `malformed CBOR (${(err as Error).message})`, err);
  }
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `a ${value.length}-byte string`;
  if (typeof value === "number" && !Number.isInteger(value)) return `the float ${value}`;
  if (typeof value === "object") return "a map or CID";
  return typeof value;
}
