/**
 * A cursor over bytes that must be canonical dag-cbor, for the decoders that run on every gossip
 * message and every message a sync fetches.
 *
 * The general path (`deserialize` in `_cbor.ts`) decodes with dag-cbor, reads the typed value and
 * encodes it again to prove the bytes canonical: three passes and a tree of intermediate values,
 * measured at ~115 µs for one signed message when it runs cold (once per gossip message, as it
 * does in a live node). This reader makes one pass and accepts, for each item it is asked for,
 * only that item's one canonical encoding: the expected major type, the shortest head (cbor-gen
 * and dag-cbor's strict mode refuse longer ones), a definite length inside the input. A value
 * read field by field this way therefore re-encodes to exactly the bytes read, so a decoder built
 * on it keeps `deserialize`'s promise without encoding again, and the bytes between two positions
 * are an object's own encoding: its CID is their hash.
 *
 * Every failure is an InvalidChainDataError naming the field, as from the other decoders.
 *
 * @module
 */
import { type DecodeOptions, DEFAULT_MAX_BYTES, fail } from "./_cbor.ts";

const MAJOR_UINT = 0;
const MAJOR_NEGINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_ARRAY = 4;

/** What an item of each major type is called in errors, in the words of the other decoders. */
const MAJOR_NAMES = [
  "an integer",
  "a negative integer",
  "a byte string",
  "string",
  "an array",
  "a map",
  "a tag",
  "a float or simple value",
];
/** Major type 7's simple values by additional info (the rest are floats or unassigned). */
const SIMPLE_NAMES: Record<number, string> = {
  20: "boolean",
  21: "boolean",
  22: "null",
  23: "undefined",
};

/** Heads with a 1-, 2-, 4- or 8-byte argument (additional info 24..27) and the least each holds. */
const ARGUMENT_BYTES = [1, 2, 4, 8];
const ARGUMENT_MIN = [24, 0x100, 0x1_0000, 0x1_0000_0000];

const MAX_INT64 = (1n << 63n) - 1n;

/**
 * Decode `bytes` as one `what` with `read`: size cap first, then `read` over a reader of the
 * whole input, then no bytes may be left over.
 */
export function deserializeCanonical<T>(
  bytes: Uint8Array,
  what: string,
  read: (reader: CanonicalCborReader) => T,
  options: DecodeOptions = {},
): T {
  if (!(bytes instanceof Uint8Array)) fail(what, "expected bytes");
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) fail(what, `too large (${bytes.length} bytes, max ${maxBytes})`);
  const reader = new CanonicalCborReader(bytes);
  const value = read(reader);
  reader.end(what);
  return value;
}

/** Reads canonical dag-cbor items one at a time; see the module doc. */
export class CanonicalCborReader {
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    // A plain view even of a Buffer: the fields read are handed out as Uint8Arrays.
    this.#bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Offset of the next unread byte. */
  get position(): number {
    return this.#pos;
  }

  /** The input between two offsets (no copy): an item's own encoding. */
  between(start: number, end: number): Uint8Array {
    return this.#bytes.subarray(start, end);
  }

  /** An array head of exactly `length` items (a cbor-gen tuple struct). */
  tuple(what: string, length: number): void {
    const n = this.#head(MAJOR_ARRAY, what, `a ${length}-field array`);
    if (n !== length) fail(what, `expected a ${length}-field array, got ${n} fields`);
  }

  /** A byte string of at most `max` bytes, as a view into the input. */
  bytes(what: string, max: number): Uint8Array {
    const n = this.#head(MAJOR_BYTES, what, "a byte string");
    if (n > max) fail(what, `too long (${n} bytes, max ${max})`);
    const start = this.#pos;
    if (start + Number(n) > this.#bytes.length) {
      fail(what, "malformed CBOR (truncated byte string)");
    }
    this.#pos = start + Number(n);
    return this.#bytes.subarray(start, this.#pos);
  }

  /** A non-negative integer that fits a JS number exactly. */
  safeUint(what: string): number {
    const n = this.#head(MAJOR_UINT, what, "an integer");
    if (typeof n === "bigint") fail(what, `out of range (${n}; max ${Number.MAX_SAFE_INTEGER})`);
    return n;
  }

  /** An unsigned integer up to 2^64 - 1 (major type 0 only). */
  uint64(what: string): bigint {
    const n = this.#head(MAJOR_UINT, what, "an integer");
    return typeof n === "bigint" ? n : BigInt(n);
  }

  /** An integer in int64 range (major type 0, or 1 for negatives). */
  int64(what: string): bigint {
    const major = this.#bytes[this.#pos] >> 5;
    if (major !== MAJOR_NEGINT) {
      const n = this.uint64(what);
      if (n > MAX_INT64) fail(what, `out of int64 range (${n})`);
      return n;
    }
    const arg = this.#head(MAJOR_NEGINT, what, "an integer");
    const n = -1n - (typeof arg === "bigint" ? arg : BigInt(arg));
    if (n < -MAX_INT64 - 1n) fail(what, `out of int64 range (${n})`);
    return n;
  }

  /** Fails unless every byte has been read (dag-cbor refuses trailing bytes). */
  end(what: string): void {
    if (this.#pos !== this.#bytes.length) {
      fail(what, `${this.#bytes.length - this.#pos} bytes after the end`);
    }
  }

  /**
   * One head of major type `major`, its argument as a number when it is a safe integer and as a
   * bigint above that. Refuses other major types, reserved and indefinite-length heads, and any
   * argument written longer than it needs to be.
   */
  #head(major: number, what: string, expected: string): number | bigint {
    const bytes = this.#bytes;
    const pos = this.#pos;
    if (pos >= bytes.length) fail(what, `malformed CBOR (truncated: expected ${expected})`);
    const initial = bytes[pos];
    if (initial >> 5 !== major) {
      if (major === MAJOR_UINT && initial >> 5 === MAJOR_NEGINT) fail(what, "must not be negative");
      const got = initial >> 5 === 7
        ? SIMPLE_NAMES[initial & 0x1f] ?? "a float or simple value"
        : MAJOR_NAMES[initial >> 5];
      fail(what, `expected ${expected}, got ${got}`);
    }
    const info = initial & 0x1f;
    if (info < 24) {
      this.#pos = pos + 1;
      return info;
    }
    if (info > 27) fail(what, `malformed CBOR (additional info ${info}: indefinite or reserved)`);
    const size = ARGUMENT_BYTES[info - 24];
    if (pos + 1 + size > bytes.length) fail(what, "malformed CBOR (truncated head)");
    let value: number | bigint;
    if (size === 8) {
      const high = readUint32(bytes, pos + 1);
      const low = readUint32(bytes, pos + 5);
      // Below 2^53 a number is exact; above, the argument stays a bigint (up to 2^64 - 1).
      value = high < 0x20_0000 ? high * 0x1_0000_0000 + low : (BigInt(high) << 32n) | BigInt(low);
    } else {
      value = 0;
      for (let i = 1; i <= size; i++) value = value * 256 + bytes[pos + i];
    }
    if (value < ARGUMENT_MIN[info - 24]) {
      fail(what, "not canonical CBOR (integer or length not in its shortest form)");
    }
    this.#pos = pos + 1 + size;
    return value;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
}
