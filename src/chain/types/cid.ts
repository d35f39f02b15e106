/**
 * Filecoin's CIDs for chain objects: CIDv1, dag-cbor codec (0x71), blake2b-256 multihash
 * (0xb220), the `abi.CidBuilder` Lotus names every header, message and MsgMeta with.
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { cidOf as blockCidOf, DAG_CBOR } from "../../ipld/block.ts";

/**
 * CID of `value` (a chain object in its CBOR tuple form, e.g. from `encodeBlockHeader`).
 *
 * @example
 * ```ts
 * import { cidOf } from "./cid.ts";
 * const cid = cidOf([1, new Uint8Array([2])]);
 * if (!cid.toString().startsWith("bafy2bza")) throw new Error("not dag-cbor/blake2b-256");
 * ```
 */
export function cidOf(value: unknown): CID {
  return cidOfBytes(dagCbor.encode(value));
}

/** CID of bytes that already are a dag-cbor encoding (e.g. a header exactly as received). */
export function cidOfBytes(bytes: Uint8Array): CID {
  return blockCidOf(DAG_CBOR, bytes);
}
