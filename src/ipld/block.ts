/**
 * Content addressing as Filecoin does it: dag-cbor or raw blocks, named by CIDv1 with a
 * blake2b-256 multihash (sha2-256 is accepted too, for IPFS-originated data).
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { from as hasherFrom } from "multiformats/hashes/hasher";
import { sha256 } from "multiformats/hashes/sha2";
import { blake2b256Digest } from "../crypto/blake2b.ts";

export { CID };

/** Multicodec code of blake2b-256 (0xb220), the hash of every Filecoin CID. */
export const BLAKE2B_256 = 0xb220;
export const SHA2_256 = sha256.code;
export const DAG_CBOR = dagCbor.code;
export const RAW = raw.code;

/** blake2b-256 as a multiformats hasher (WebAssembly: see `blake2b.ts`). */
export const blake2b256 = hasherFrom({
  name: "blake2b-256",
  code: BLAKE2B_256,
  encode: blake2b256Digest,
});

/** A block: bytes and the CID that names them. */
export interface Block {
  readonly cid: CID;
  readonly bytes: Uint8Array;
}

/** Codecs the store accepts. */
export const SUPPORTED_CODECS: ReadonlySet<number> = new Set([DAG_CBOR, RAW]);
/** Multihashes the store accepts. */
export const SUPPORTED_HASHES: ReadonlySet<number> = new Set([BLAKE2B_256, SHA2_256]);

/** Hash `bytes` with the named multihash and return its digest bytes. */
export function digestOf(hashCode: number, bytes: Uint8Array): Uint8Array {
  if (hashCode === BLAKE2B_256) return blake2b256Digest(bytes);
  if (hashCode === SHA2_256) {
    const d = sha256.digest(bytes);
    if (d instanceof Promise) throw new Error("sha2-256 digest is unexpectedly async");
    return d.digest;
  }
  throw new RangeError(`unsupported multihash code 0x${hashCode.toString(16)}`);
}

/** CIDv1 of `bytes` under `codec`, hashed with blake2b-256 unless told otherwise. */
export function cidOf(codec: number, bytes: Uint8Array, hashCode = BLAKE2B_256): CID {
  if (hashCode === BLAKE2B_256) {
    const mh = blake2b256.digest(bytes);
    if (mh instanceof Promise) throw new Error("blake2b-256 digest is unexpectedly async");
    return CID.createV1(codec, mh);
  }
  const mh = sha256.digest(bytes);
  if (mh instanceof Promise) throw new Error("sha2-256 digest is unexpectedly async");
  return CID.createV1(codec, mh);
}

/** Encode `value` as dag-cbor and name it with a blake2b-256 CID. */
export function encodeCbor(value: unknown): Block {
  const bytes = dagCbor.encode(value);
  return { cid: cidOf(DAG_CBOR, bytes), bytes };
}

/** Wrap opaque bytes as a raw block with a blake2b-256 CID. */
export function encodeRaw(bytes: Uint8Array): Block {
  return { cid: cidOf(RAW, bytes), bytes };
}

/** True when `bytes` hash to the digest inside `cid`. */
export function verifyBlock(cid: CID, bytes: Uint8Array): boolean {
  const want = cid.multihash.digest;
  const got = digestOf(cid.multihash.code, bytes);
  if (want.length !== got.length) return false;
  for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) return false;
  return true;
}
