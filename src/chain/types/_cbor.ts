/**
 * Private helpers shared by the chain type codecs: strict, bounded reading of decoded dag-cbor
 * values into typed fields, range checks on the way out, and the bytes-level decode that makes
 * sure what we accept re-encodes to exactly the bytes we were given.
 *
 * Why the last check: a Filecoin object is named by the hash of its bytes, and Lotus (cbor-gen)
 * refuses non-minimal integer headers, floats where integers belong and wrong major types.
 * dag-cbor's strict decoder refuses most of that itself (indefinite lengths, non-minimal
 * integers and lengths, NaN/Infinity, trailing bytes), but it maps a float `1.0` to the number 1
 * and `undefined` to null, so a value can decode cleanly and still not be the bytes a Lotus node
 * would have produced. Comparing the re-encoding with the input closes every such gap at once and
 * guarantees `serialize(deserialize(bytes))` is `bytes`, so a CID computed from a decoded object
 * is the CID of the bytes a peer sent.
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { Address, type Network } from "../../crypto/address.ts";
import { decodeBigInt, encodeBigInt, MAX_BIG_INT_BYTES } from "../big_int.ts";
import {
  decodeSignature,
  encodeSignature,
  type Signature,
  SIGNATURE_MAX_LENGTH,
} from "../../crypto/signature.ts";
import { InvalidChainDataError } from "./errors.ts";

/**
 * Largest encoded object decoded by default: 1 MiB, the gossipsub message limit Lotus runs with
 * (`pubsub.WithMaxMessageSize` default), so nothing larger reaches us in one piece from gossip.
 * Checked before any parsing; callers that know a tighter bound pass `maxBytes`.
 */
export const DEFAULT_MAX_BYTES = 1 << 20;

/**
 * Longest list in any chain object: cbor-gen's `MaxLength` (8192), which Lotus's generated
 * decoders enforce on every slice (parents, beacon entries, PoSt proofs, message CID lists), so
 * we accept exactly the list lengths Lotus accepts.
 */
export const MAX_LIST_LENGTH = 8192;

/** Longest address byte form: go-address `UnmarshalCBOR` refuses more than 64 bytes. */
export const MAX_ADDRESS_BYTES = 64;

const MAX_UINT64 = (1n << 64n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

/** Options of every bytes-level decoder. */
export interface DecodeOptions {
  /** Refuse inputs longer than this many bytes before parsing (default `DEFAULT_MAX_BYTES`). */
  readonly maxBytes?: number;
  /** Network prefix given to decoded addresses (default `"f"`); presentation only. */
  readonly network?: Network;
}

/** Throw InvalidChainDataError `<what>: <message>`. */
export function fail(what: string, message: string, cause?: unknown): never {
  throw new InvalidChainDataError(
    `${what}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** A CBOR array of exactly `length` items (a cbor-gen tuple struct). */
export function readTuple(value: unknown, what: string, length: number): unknown[] {
  if (!Array.isArray(value)) fail(what, `expected a ${length}-field array, got ${kind(value)}`);
  if (value.length !== length) {
    fail(what, `expected a ${length}-field array, got ${value.length} fields`);
  }
  return value;
}

/** A CBOR array of at most `max` items. */
export function readList(value: unknown, what: string, max = MAX_LIST_LENGTH): unknown[] {
  if (!Array.isArray(value)) fail(what, `expected an array, got ${kind(value)}`);
  if (value.length > max) fail(what, `too many items (${value.length}, max ${max})`);
  return value;
}

/** A CBOR byte string of at most `max` bytes. */
export function readBytes(value: unknown, what: string, max = DEFAULT_MAX_BYTES): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(what, `expected a byte string, got ${kind(value)}`);
  if (value.length > max) fail(what, `too long (${value.length} bytes, max ${max})`);
  return value;
}

/** A CID (CBOR tag 42). */
export function readCid(value: unknown, what: string): CID {
  const cid = CID.asCID(value);
  if (!cid) fail(what, `expected a CID, got ${kind(value)}`);
  return cid;
}

/** A non-negative integer that fits a JS number exactly (epochs, timestamps, rounds). */
export function readSafeUint(value: unknown, what: string): number {
  const n = readSafeInt(value, what);
  if (n < 0) fail(what, `must not be negative (got ${n})`);
  return n;
}

/**
 * A signed integer that fits a JS number exactly. Lotus types these fields int64/uint64; values
 * beyond 2^53 are refused here because no valid chain object carries one (an epoch or a Unix
 * time that large is aeons away) and a number cannot hold them without rounding.
 */
export function readSafeInt(value: unknown, what: string): number {
  if (typeof value === "bigint") {
    fail(what, `out of range (${value}; max ${Number.MAX_SAFE_INTEGER})`);
  }
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(what, `expected an integer, got ${kind(value)}`);
  }
  return value;
}

/** A CBOR unsigned integer (major type 0) up to 2^64 - 1, as bigint. */
export function readUint64(value: unknown, what: string): bigint {
  const n = readInteger(value, what);
  if (n < 0n) fail(what, `must not be negative (got ${n})`);
  if (n > MAX_UINT64) fail(what, `out of uint64 range (${n})`);
  return n;
}

/** A CBOR integer in int64 range, as bigint. */
export function readInt64(value: unknown, what: string): bigint {
  const n = readInteger(value, what);
  if (n < MIN_INT64 || n > MAX_INT64) fail(what, `out of int64 range (${n})`);
  return n;
}

function readInteger(value: unknown, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  fail(what, `expected an integer, got ${kind(value)}`);
}

/**
 * A Filecoin BigInt (byte string: sign byte + big-endian magnitude, empty for zero), at most 128
 * bytes. Only the minimal form Lotus and Forest write is accepted (no lone sign byte, no leading
 * zero, no negative zero): they would decode those too, but each names the same number with
 * different bytes, and we promise every accepted object re-encodes to its own bytes.
 */
export function readBigInt(value: unknown, what: string): bigint {
  const bytes = readBytes(value, what, MAX_BIG_INT_BYTES);
  if (bytes.length > 0) {
    if (bytes[0] > 1) fail(what, `invalid big int sign byte ${bytes[0]}`);
    if (bytes.length === 1 || bytes[1] === 0) fail(what, "big int is not minimally encoded");
  }
  return decodeBigInt(bytes);
}

/** An address in its byte form, parsed with go-address's rules. */
export function readAddress(value: unknown, what: string, network: Network = "f"): Address {
  const bytes = readBytes(value, what, MAX_ADDRESS_BYTES);
  try {
    return Address.fromBytes(bytes, network);
  } catch (err) {
    fail(what, (err as Error).message, err);
  }
}

/** A signature as a byte string `type byte || data`, at most 200 bytes (Lotus's cap). */
export function readSignature(value: unknown, what: string): Signature {
  const bytes = readBytes(value, what, SIGNATURE_MAX_LENGTH);
  try {
    return decodeSignature(bytes);
  } catch (err) {
    fail(what, (err as Error).message, err);
  }
}

/** `null`, or whatever `read` makes of the value (cbor-gen's pointer fields). */
export function readNullable<T>(value: unknown, read: (value: unknown) => T): T | null {
  return value === null ? null : read(value);
}

/** Range-check a number field before encoding it, so we never write a float or an overflow. */
export function checkSafeUint(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    fail(what, `cannot encode ${value}: expected a non-negative safe integer`);
  }
  return value;
}

/** Range-check a signed number field before encoding it. */
export function checkSafeInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) fail(what, `cannot encode ${value}: expected a safe integer`);
  return value;
}

/** Range-check a uint64 field before encoding it. */
export function checkUint64(value: bigint, what: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value > MAX_UINT64) {
    fail(what, `cannot encode ${value}: expected a bigint in [0, 2^64)`);
  }
  return value;
}

/** Range-check an int64 field before encoding it. */
export function checkInt64(value: bigint, what: string): bigint {
  if (typeof value !== "bigint" || value < MIN_INT64 || value > MAX_INT64) {
    fail(what, `cannot encode ${value}: expected a bigint in [-2^63, 2^63)`);
  }
  return value;
}

/** The BigInt byte form of `value`; refuses values over 128 bytes as Lotus does. */
export function bigIntBytes(value: bigint, what: string): Uint8Array {
  if (typeof value !== "bigint") fail(what, `cannot encode ${kind(value)}: expected a bigint`);
  try {
    return encodeBigInt(value);
  } catch (err) {
    fail(what, (err as Error).message, err);
  }
}

/** The byte form of a signature; refuses data that would not decode again (over 200 bytes). */
export function signatureBytes(signature: Signature, what: string): Uint8Array {
  const bytes = encodeSignature(signature);
  if (bytes.length > SIGNATURE_MAX_LENGTH) {
    fail(what, `cannot encode a ${bytes.length}-byte signature (max ${SIGNATURE_MAX_LENGTH})`);
  }
  return bytes;
}

/** dag-cbor bytes of a value in tuple form. */
export function serialize(value: unknown): Uint8Array {
  return dagCbor.encode(value);
}

/**
 * Decode `bytes` as one `what`: size cap first, then strict dag-cbor, then the typed reader,
 * then the canonical check (the typed value must re-encode to exactly `bytes`). Any failure,
 * including a stack overflow on absurdly nested input, is an InvalidChainDataError.
 */
export function deserialize<T>(
  bytes: Uint8Array,
  what: string,
  read: (value: unknown) => T,
  write: (typed: T) => unknown,
  options: DecodeOptions = {},
): T {
  if (!(bytes instanceof Uint8Array)) fail(what, `expected bytes, got ${kind(bytes)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) fail(what, `too large (${bytes.length} bytes, max ${maxBytes})`);
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (err) {
    fail(what, `malformed CBOR (${(err as Error).message})`, err);
  }
  const typed = read(value);
  if (!bytesEqual(serialize(write(typed)), bytes)) {
    fail(what, "not canonically encoded (re-encoding gives different bytes)");
  }
  return typed;
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte order, as Go's `bytes.Compare`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A short description of a decoded value's type, for error messages. */
function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `a ${value.length}-byte string`;
  if (CID.asCID(value)) return "a CID";
  if (typeof value === "number" && !Number.isInteger(value)) return `the float ${value}`;
  if (typeof value === "object") return "a map";
  return typeof value;
}
