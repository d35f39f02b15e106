/**
 * Filecoin addresses: the `f0`/`f1`/`f2`/`f3` string forms and the byte form
 * (`protocol byte || payload`) that appears inside messages and blocks.
 *
 * Parsing follows go-address (what Lotus runs), so an address this code accepts from the chain is
 * one Lotus accepts too: ID payloads are minimal uvarints below 2^63, secp256k1 and actor payloads
 * are 20-byte blake2b-160 hashes, BLS payloads are 48-byte public keys, and string forms carry a
 * blake2b-32 checksum over `protocol byte || payload`. Delegated (`f4`) addresses are not
 * supported yet and are refused with a clear error rather than half-parsed.
 *
 * @module
 */
import { blake2b } from "@noble/hashes/blake2b";
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
/**
 * Longest string form we accept, as go-address `MaxAddressStringLength` (2 + 84: an f3 address).
 * Checked before any decoding so a hostile megabyte string costs nothing.
 */
export const MAX_ADDRESS_STRING_LENGTH = 2 + 84;
/** Largest actor ID: go-address refuses IDs >= 2^63 (actor IDs are int64 in the VM). */
export const MAX_ACTOR_ID = (1n << 63n) - 1n;
/** 2^63 - 1 needs 9 uvarint bytes; a longer ID payload is invalid before we even decode it. */
const MAX_ID_PAYLOAD_LENGTH = 9;
/** Decimal digits of 2^63 - 1, so overlong ID strings are refused before BigInt parsing. */
const MAX_ID_DIGITS = 19;

/** A string or byte address that does not parse: bad network, protocol, checksum or payload. */
export class InvalidAddressError extends UserError {}

/** blake2b-160 of `data`: the payload of f1 (over a public key) and f2 (over actor data) addresses. */
export function addressHash(data: Uint8Array): Uint8Array {
  return blake2b(data, { dkLen: PAYLOAD_HASH_LENGTH });
}

/** blake2b-32 over `protocol byte || payload`: the checksum appended in the string form. */
export function addressChecksum(protocol: Protocol, payload: Uint8Array): Uint8Array {
  const ingest = new Uint8Array(1 + payload.length);
  ingest[0] = protocol;
  ingest.set(payload, 1);
  return blake2b(ingest, { dkLen: CHECKSUM_LENGTH });
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
  /** Payload without the protocol byte: a uvarint ID, a 20-byte hash or a 48-byte BLS key. */
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
    if (typeof id === "number" && !Number.isSafeInteger(id)) {
      throw new InvalidAddressError(`actor ID ${id} is not a safe integer; pass a bigint`);
    }
    const big = BigInt(id);
    if (big < 0n || big > MAX_ACTOR_ID) {
      throw new InvalidAddressError(`actor ID ${big} is out of range [0, 2^63)`);
    }
    return new Address(Protocol.ID, encodeUvarint(big), network);
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
    let decoded: Uint8Array;
    try {
      // multiformats' rfc4648 decoder is strict: lowercase alphabet only, no padding, and the
      // unused trailing bits must be zero, so every address has exactly one string form.
      decoded = base32.baseDecode(raw);
    } catch (err) {
      throw new InvalidAddressError(
        `address is not valid base32 (${(err as Error).message}): ${preview(text)}`,
      );
    }
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
    return decodeUvarint(this.payload).value;
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
      return `${network}0${decodeUvarint(this.payload).value}`;
    }
    const checksum = addressChecksum(this.protocol, this.payload);
    const body = new Uint8Array(this.payload.length + CHECKSUM_LENGTH);
    body.set(this.payload);
    body.set(checksum, this.payload.length);
    return `${network}${this.protocol}${base32.baseEncode(body)}`;
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
      return value;
    case Protocol.DELEGATED:
      throw new InvalidAddressError("delegated (f4) addresses are not supported yet");
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
      const { value, length } = decodeUvarint(payload);
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
    default:
      throw new InvalidAddressError(`unknown address protocol ${protocol}`);
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

/**
 * Unsigned LEB128 decode with go-varint's FromUvarint rules: the value must end inside the input
 * and be minimally encoded (no trailing 0x00 continuation byte), so each ID has one byte form.
 */
function decodeUvarint(bytes: Uint8Array): { value: bigint; length: number } {
  let value = 0n;
  for (let i = 0; i < bytes.length && i < 10; i++) {
    const byte = bytes[i];
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) {
        throw new InvalidAddressError("ID address varint is not minimally encoded");
      }
      return { value, length: i + 1 };
    }
  }
  throw new InvalidAddressError("ID address varint is truncated or too long");
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A bounded, printable excerpt of untrusted input for error messages. */
function preview(text: string): string {
  const cut = text.length > 90 ? `${text.slice(0, 90)}...` : text;
  return JSON.stringify(cut);
}
