/**
 * Filecoin addresses: the `f0`/`f1`/`f2`/`f3`/`f4` string forms and the byte form
 * (`protocol byte || payload`) that appears inside messages and blocks.
 *
 * Parsing follows go-address (what Lotus runs), so an address this code accepts from the chain is
 * one Lotus accepts too: ID payloads are minimal uvarints below 2^63, secp256k1 and actor payloads
 * are 20-byte blake2b-160 hashes, BLS payloads are 48-byte public keys, delegated (f4, FIP-0048)
 * payloads are a minimal uvarint namespace actor ID below 2^63 followed by a subaddress of at most
 * 54 bytes, and string forms carry a blake2b-32 checksum over `protocol byte || payload`.
 *
 * The f4 string form is `<network>4<namespace>f<base32(subaddress || checksum)>`, e.g.
 * `f410f...` for namespace 10 (the Ethereum address manager, whose subaddresses are 20-byte
 * Ethereum addresses). The checksum still covers the whole byte payload, namespace varint
 * included, though only the subaddress is base32-encoded.
 *
 * @module
 */
import { blake2b160Digest, blake2b32Digest } from "./blake2b.ts";
import { base32 } from "multiformats/bases/base32";
import { UserError } from "../errors.ts";

/** Address protocols, as the first byte of the byte form and the digit after the network prefix. */
export const Protocol = {
  ID: 0,
  SECP256K1: 1,
  ACTOR: 2,
  BLS: 3,
  DELEGATED: 4,
} as const;
export type Protocol = typeof Protocol[keyof typeof Protocol];

/** Network prefix of the string form: `f` on mainnet, `t` on test networks. */
export type Network = "f" | "t";

/** Length of a secp256k1/actor payload: blake2b-160. */
export const PAYLOAD_HASH_LENGTH = 20;
/** Length of a BLS public key (compressed G1 point), the f3 payload. */
export const BLS_PUBLIC_KEY_LENGTH = 48;
/** Length of the blake2b-32 checksum in the string form. */
export const CHECKSUM_LENGTH = 4;
/** Uncompressed secp256k1 public key length (0x04 || X || Y): what f1 payloads hash. */
export const SECP256K1_PUBLIC_KEY_LENGTH = 65;
/** Longest f4 subaddress, as go-address `MaxSubaddressLen` and FIP-0048. */
export const MAX_SUBADDRESS_LENGTH = 54;
/** Largest actor ID: go-address refuses IDs >= 2^63 (actor IDs are int64 in the VM). */
export const MAX_ACTOR_ID = (1n << 63n) - 1n;
/** 2^63 - 1 needs 9 uvarint bytes; a longer ID payload is invalid before we even decode it. */
const MAX_ID_PAYLOAD_LENGTH = 9;
/** Decimal digits of 2^63 - 1, so overlong ID strings are refused before BigInt parsing. */
const MAX_ID_DIGITS = 19;
/**
 * Longest string form we accept, as go-address `MaxAddressStringLength` (115). It used to be
 * 2 + 84 (an f3 address), but the longest f4 address is longer: prefix and protocol digit (2),
 * a 19-digit namespace (2^63 - 1), the "f" separator (1), and base32 of a 54-byte subaddress plus
 * the 4-byte checksum (ceil(58 * 8 / 5) = 93 characters). Checked before any decoding so a
 * hostile megabyte string costs nothing.
 */
export const MAX_ADDRESS_STRING_LENGTH = 2 + MAX_ID_DIGITS + 1 + 93;

/** A string or byte address that does not parse: bad network, protocol, checksum or payload. */
export class InvalidAddressError extends UserError {}

/** blake2b-160 of `data`: the payload of f1 (over a public key) and f2 (over actor data) addresses. */
export function addressHash(data: Uint8Array): Uint8Array {
  return blake2b160Digest(data);
}

/** blake2b-32 over `protocol byte || payload`: the checksum appended in the string form. */
export function addressChecksum(protocol: Protocol, payload: Uint8Array): Uint8Array {
  const ingest = new Uint8Array(1 + payload.length);
  ingest[0] = protocol;
  ingest.set(payload, 1);
  return blake2b32Digest(ingest);
}

/**
 * A Filecoin address. Immutable; two addresses are the same actor when their `bytes` are equal
 * (the network prefix is presentation only and is ignored by `equals`).
 *
 * @example
 * ```ts
 * import { Address } from "./address.ts";
 * const a = Address.fromString("t01024");
 * if (a.id !== 1024n || a.toString("f") !== "f01024") throw new Error("unexpected");
 * ```
 */
export class Address {
  /** Protocol byte. */
  readonly protocol: Protocol;
  /**
   * Payload without the protocol byte: a uvarint ID, a 20-byte hash, a 48-byte BLS key, or (f4) a
   * uvarint namespace followed by the subaddress.
   */
  readonly payload: Uint8Array;
  /** Network prefix used by `toString()` when none is given. */
  readonly network: Network;

  private constructor(protocol: Protocol, payload: Uint8Array, network: Network) {
    this.protocol = protocol;
    this.payload = payload;
    this.network = network;
  }

  /** An ID (f0) address. Throws InvalidAddressError for negative IDs or IDs >= 2^63. */
  static fromId(id: number | bigint, network: Network = "f"): Address {
    return new Address(Protocol.ID, encodeUvarint(checkActorId(id, "actor ID")), network);
  }

  /**
   * A delegated (f4) address: `namespace` is the actor ID of the address manager (10 for the
   * Ethereum address manager, whose subaddresses are 20-byte Ethereum addresses). Throws
   * InvalidAddressError for a namespace outside [0, 2^63) or a subaddress over 54 bytes.
   */
  static fromDelegated(
    namespace: number | bigint,
    subaddress: Uint8Array,
    network: Network = "f",
  ): Address {
    const ns = checkActorId(namespace, "delegated address namespace");
    if (!(subaddress instanceof Uint8Array)) {
      throw new InvalidAddressError("a delegated address subaddress must be a Uint8Array");
    }
    if (subaddress.length > MAX_SUBADDRESS_LENGTH) {
      throw new InvalidAddressError(
        `delegated address subaddress is ${subaddress.length} bytes, max ${MAX_SUBADDRESS_LENGTH}`,
      );
    }
    return new Address(Protocol.DELEGATED, delegatedPayload(ns, subaddress), network);
  }

  /** A secp256k1 (f1) address: blake2b-160 of the 65-byte uncompressed public key. */
  static fromSecp256k1PublicKey(publicKey: Uint8Array, network: Network = "f"): Address {
    if (publicKey.length !== SECP256K1_PUBLIC_KEY_LENGTH || publicKey[0] !== 0x04) {
      throw new InvalidAddressError(
        `a secp256k1 address needs a 65-byte uncompressed public key (0x04...), got ${publicKey.length} bytes`,
      );
    }
    return new Address(Protocol.SECP256K1, addressHash(publicKey), network);
  }

  /** An actor (f2) address: blake2b-160 of the actor's creation data. */
  static fromActorData(data: Uint8Array, network: Network = "f"): Address {
    return new Address(Protocol.ACTOR, addressHash(data), network);
  }

  /** A BLS (f3) address: the 48-byte public key itself. */
  static fromBlsPublicKey(publicKey: Uint8Array, network: Network = "f"): Address {
    if (publicKey.length !== BLS_PUBLIC_KEY_LENGTH) {
      throw new InvalidAddressError(
        `a BLS address needs a ${BLS_PUBLIC_KEY_LENGTH}-byte public key, got ${publicKey.length} bytes`,
      );
    }
    return new Address(Protocol.BLS, publicKey.slice(), network);
  }

  /**
   * Parse the byte form (`protocol byte || payload`), as found in CBOR-encoded chain data.
   * Throws InvalidAddressError for anything go-address would refuse.
   */
  static fromBytes(bytes: Uint8Array, network: Network = "f"): Address {
    if (bytes.length < 2) {
      throw new InvalidAddressError(`address bytes too short (${bytes.length} bytes)`);
    }
    const protocol = checkProtocol(bytes[0]);
    const payload = bytes.slice(1);
    checkPayload(protocol, payload);
    return new Address(protocol, payload, network);
  }

  /**
   * Parse the string form (`f1...`, `t01024`, ...). The network prefix is kept in `network`.
   * Throws InvalidAddressError naming what is wrong (network, protocol, base32, checksum, length).
   */
  static fromString(text: string): Address {
    if (typeof text !== "string") throw new InvalidAddressError("address must be a string");
    if (text.length < 3 || text.length > MAX_ADDRESS_STRING_LENGTH) {
      throw new InvalidAddressError(`invalid address length (${text.length}): ${preview(text)}`);
    }
    const net = text[0];
    if (net !== "f" && net !== "t") {
      throw new InvalidAddressError(
        `unknown address network "${net}" (want "f" or "t"): ${preview(text)}`,
      );
    }
    const digit = text.charCodeAt(1) - 0x30;
    if (!(digit >= 0 && digit <= 9)) {
      throw new InvalidAddressError(`unknown address protocol "${text[1]}": ${preview(text)}`);
    }
    const protocol = checkProtocol(digit);
    const raw = text.slice(2);
    if (protocol === Protocol.DELEGATED) {
      return new Address(Protocol.DELEGATED, parseDelegatedPayload(text, raw), net);
    }
    if (protocol === Protocol.ID) {
      // Canonical decimal only: go-address prints IDs without leading zeros, so accepting
      // "f0007" would let two different strings name one actor.
      if (raw.length > MAX_ID_DIGITS || !/^(0|[1-9][0-9]*)$/.test(raw)) {
        throw new InvalidAddressError(`invalid ID address payload: ${preview(text)}`);
      }
      const id = BigInt(raw);
      if (id > MAX_ACTOR_ID) {
        throw new InvalidAddressError(`actor ID out of range [0, 2^63): ${preview(text)}`);
      }
      return new Address(Protocol.ID, encodeUvarint(id), net);
    }
    const decoded = decodeBase32(text, raw);
    if (decoded.length <= CHECKSUM_LENGTH) {
      throw new InvalidAddressError(`address payload too short: ${preview(text)}`);
    }
    const payload = decoded.slice(0, decoded.length - CHECKSUM_LENGTH);
    const checksum = decoded.subarray(decoded.length - CHECKSUM_LENGTH);
    checkPayload(protocol, payload);
    if (!bytesEqual(addressChecksum(protocol, payload), checksum)) {
      throw new InvalidAddressError(`address checksum mismatch: ${preview(text)}`);
    }
    return new Address(protocol, payload, net);
  }

  /** The byte form: `protocol byte || payload`. */
  get bytes(): Uint8Array {
    const out = new Uint8Array(1 + this.payload.length);
    out[0] = this.protocol;
    out.set(this.payload, 1);
    return out;
  }

  /** The actor ID of an f0 address; throws InvalidAddressError for any other protocol. */
  get id(): bigint {
    if (this.protocol !== Protocol.ID) {
      throw new InvalidAddressError(`${this.toString()} is not an ID address`);
    }
    return decodeUvarint(this.payload, "ID address").value;
  }

  /**
   * The namespace (address manager actor ID) of an f4 address; throws InvalidAddressError for any
   * other protocol. An f4 address is not an ID address: `id` throws for it.
   */
  get namespace(): bigint {
    return this.#delegated().namespace;
  }

  /** A copy of the subaddress of an f4 address; throws InvalidAddressError for other protocols. */
  get subaddress(): Uint8Array {
    return this.payload.slice(this.#delegated().length);
  }

  #delegated(): { namespace: bigint; length: number } {
    if (this.protocol !== Protocol.DELEGATED) {
      throw new InvalidAddressError(`${this.toString()} is not a delegated (f4) address`);
    }
    const { value, length } = decodeUvarint(this.payload, "delegated address namespace");
    return { namespace: value, length };
  }

  /** The same address presented with another network prefix. */
  withNetwork(network: Network): Address {
    return network === this.network ? this : new Address(this.protocol, this.payload, network);
  }

  /** True when both name the same actor (same bytes), whatever their network prefix. */
  equals(other: Address): boolean {
    return this.protocol === other.protocol && bytesEqual(this.payload, other.payload);
  }

  /** The string form with `network` (default: the one this address was parsed or built with). */
  toString(network: Network = this.network): string {
    if (this.protocol === Protocol.ID) {
      return `${network}0${decodeUvarint(this.payload, "ID address").value}`;
    }
    // f4: the namespace is written in decimal and only the subaddress is base32-encoded, but the
    // checksum covers the whole payload (namespace varint included), as go-address `encode`.
    let prefix = "";
    let encoded = this.payload;
    if (this.protocol === Protocol.DELEGATED) {
      const { namespace, length } = this.#delegated();
      prefix = `${namespace}f`;
      encoded = this.payload.subarray(length);
    }
    const checksum = addressChecksum(this.protocol, this.payload);
    const body = new Uint8Array(encoded.length + CHECKSUM_LENGTH);
    body.set(encoded);
    body.set(checksum, encoded.length);
    return `${network}${this.protocol}${prefix}${base32.baseEncode(body)}`;
  }

  /** JSON form is the string form, as Lotus's JSON API. */
  toJSON(): string {
    return this.toString();
  }
}

/** Shorthand for `Address.fromString`. */
export function parseAddress(text: string): Address {
  return Address.fromString(text);
}

function checkProtocol(value: number): Protocol {
  switch (value) {
    case Protocol.ID:
    case Protocol.SECP256K1:
    case Protocol.ACTOR:
    case Protocol.BLS:
    case Protocol.DELEGATED:
      return value;
    default:
      throw new InvalidAddressError(`unknown address protocol ${value}`);
  }
}

function checkPayload(protocol: Protocol, payload: Uint8Array): void {
  switch (protocol) {
    case Protocol.ID: {
      if (payload.length > MAX_ID_PAYLOAD_LENGTH) {
        throw new InvalidAddressError(`ID address payload too long (${payload.length} bytes)`);
      }
      const { value, length } = decodeUvarint(payload, "ID address");
      if (length !== payload.length) {
        throw new InvalidAddressError("ID address payload has trailing bytes after the varint");
      }
      if (value > MAX_ACTOR_ID) {
        throw new InvalidAddressError("ID address payload is out of range [0, 2^63)");
      }
      return;
    }
    case Protocol.SECP256K1:
    case Protocol.ACTOR:
      if (payload.length !== PAYLOAD_HASH_LENGTH) {
        throw new InvalidAddressError(
          `f${protocol} address payload must be ${PAYLOAD_HASH_LENGTH} bytes, got ${payload.length}`,
        );
      }
      return;
    case Protocol.BLS:
      if (payload.length !== BLS_PUBLIC_KEY_LENGTH) {
        throw new InvalidAddressError(
          `f3 address payload must be ${BLS_PUBLIC_KEY_LENGTH} bytes, got ${payload.length}`,
        );
      }
      return;
    case Protocol.DELEGATED: {
      // go-address newAddress: namespace is a minimal uvarint below 2^63 (at most 9 bytes, which
      // decodeUvarint enforces), the rest is the subaddress, which may be empty.
      const { value, length } = decodeUvarint(payload, "delegated address namespace");
      if (value > MAX_ACTOR_ID) {
        throw new InvalidAddressError("delegated address namespace is out of range [0, 2^63)");
      }
      const subaddressLength = payload.length - length;
      if (subaddressLength > MAX_SUBADDRESS_LENGTH) {
        throw new InvalidAddressError(
          `delegated address subaddress is ${subaddressLength} bytes, max ${MAX_SUBADDRESS_LENGTH}`,
        );
      }
      return;
    }
    default:
      throw new InvalidAddressError(`unknown address protocol ${protocol}`);
  }
}

/** An actor ID (or f4 namespace) as a bigint in [0, 2^63); `what` names it in the error. */
function checkActorId(id: number | bigint, what: string): bigint {
  if (typeof id === "number" && !Number.isSafeInteger(id)) {
    throw new InvalidAddressError(`${what} ${id} is not a safe integer; pass a bigint`);
  }
  if (typeof id !== "number" && typeof id !== "bigint") {
    throw new InvalidAddressError(`${what} must be a number or a bigint`);
  }
  const big = BigInt(id);
  if (big < 0n || big > MAX_ACTOR_ID) {
    throw new InvalidAddressError(`${what} ${big} is out of range [0, 2^63)`);
  }
  return big;
}

/** The f4 payload: `uvarint(namespace) || subaddress` (a copy of `subaddress`). */
function delegatedPayload(namespace: bigint, subaddress: Uint8Array): Uint8Array {
  const ns = encodeUvarint(namespace);
  const payload = new Uint8Array(ns.length + subaddress.length);
  payload.set(ns);
  payload.set(subaddress, ns.length);
  return payload;
}

/**
 * The f4 payload of a string form, given `raw`, the part after `<network>4`:
 * `<namespace>f<base32(subaddress || checksum)>`, with go-address `decode`'s checks. The
 * namespace must be canonical decimal (no leading zeros, no sign), as for ID strings: go-address's
 * strconv.ParseUint would also take "010", but then two strings would name one address.
 */
function parseDelegatedPayload(text: string, raw: string): Uint8Array {
  // The namespace is all digits, so the first "f" is the separator even though base32 has "f".
  const separator = raw.indexOf("f");
  if (separator < 0) {
    throw new InvalidAddressError(
      `delegated address has no "f" between namespace and subaddress: ${preview(text)}`,
    );
  }
  const nsText = raw.slice(0, separator);
  if (!/^(0|[1-9][0-9]*)$/.test(nsText)) {
    throw new InvalidAddressError(
      `delegated address namespace is not a decimal actor ID: ${preview(text)}`,
    );
  }
  // `text` is at most MAX_ADDRESS_STRING_LENGTH characters, so this BigInt is small.
  const namespace = BigInt(nsText);
  if (namespace > MAX_ACTOR_ID) {
    throw new InvalidAddressError(
      `delegated address namespace out of range [0, 2^63): ${preview(text)}`,
    );
  }
  const decoded = decodeBase32(text, raw.slice(separator + 1));
  if (decoded.length < CHECKSUM_LENGTH) {
    throw new InvalidAddressError(`delegated address is missing its checksum: ${preview(text)}`);
  }
  const subaddress = decoded.subarray(0, decoded.length - CHECKSUM_LENGTH);
  const checksum = decoded.subarray(decoded.length - CHECKSUM_LENGTH);
  if (subaddress.length > MAX_SUBADDRESS_LENGTH) {
    throw new InvalidAddressError(
      `delegated address subaddress is ${subaddress.length} bytes, max ${MAX_SUBADDRESS_LENGTH}: ${
        preview(text)
      }`,
    );
  }
  const payload = delegatedPayload(namespace, subaddress);
  if (!bytesEqual(addressChecksum(Protocol.DELEGATED, payload), checksum)) {
    throw new InvalidAddressError(`address checksum mismatch: ${preview(text)}`);
  }
  return payload;
}

/**
 * Strict unpadded lowercase base32 (RFC 4648 alphabet), as go-address's
 * `AddressEncoding.WithPadding(NoPadding)`: every address has exactly one string form.
 * multiformats' decoder rejects other characters and nonzero unused trailing bits, but it strips
 * trailing "=" padding, which go-address refuses; so the alphabet is checked here first.
 */
function decodeBase32(text: string, body: string): Uint8Array {
  if (!/^[a-z2-7]*$/.test(body)) {
    throw new InvalidAddressError(
      `address is not valid base32 (only unpadded a-z, 2-7): ${preview(text)}`,
    );
  }
  try {
    return base32.baseDecode(body);
  } catch (err) {
    throw new InvalidAddressError(
      `address is not valid base32 (${(err as Error).message}): ${preview(text)}`,
    );
  }
}

/** Unsigned LEB128, as go-varint's ToUvarint. */
function encodeUvarint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** go-varint's MaxLenUvarint63: FromUvarint reads at most 9 bytes (63 bits). */
const MAX_UVARINT_LENGTH = 9;

/**
 * Unsigned LEB128 decode with go-varint's FromUvarint rules: the value must end inside the input,
 * within 9 bytes (so it is below 2^63), and be minimally encoded (no trailing 0x00 continuation
 * byte), so each value has one byte form. Trailing bytes after the varint are left to the caller.
 * `what` names the field in errors ("ID address", "delegated address namespace").
 */
function decodeUvarint(bytes: Uint8Array, what: string): { value: bigint; length: number } {
  let value = 0n;
  for (let i = 0; i < bytes.length && i < MAX_UVARINT_LENGTH; i++) {
    const byte = bytes[i];
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) {
        throw new InvalidAddressError(`${what} varint is not minimally encoded`);
      }
      return { value, length: i + 1 };
    }
  }
  throw new InvalidAddressError(`${what} varint is truncated or too long`);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A bounded, printable excerpt of untrusted input for error messages. */
function preview(text: string): string {
  const cut = text.length > MAX_ADDRESS_STRING_LENGTH
    ? `${text.slice(0, MAX_ADDRESS_STRING_LENGTH)}...`
    : text;
  return JSON.stringify(cut);
}
