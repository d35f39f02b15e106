/**
 * BlockHeader, Lotus `types.BlockHeader`: the signed, content-addressed part of a block, CBOR a
 * 16-field tuple in this order:
 *
 * `[Miner, Ticket|null, ElectionProof|null, BeaconEntries, WinPoStProof, Parents, ParentWeight,
 * Height, ParentStateRoot, ParentMessageReceipts, Messages, BLSAggregate|null, Timestamp,
 * BlockSig|null, ForkSignaling, ParentBaseFee]`
 *
 * The header's CID is the blake2b-256 dag-cbor CID of that encoding; the miner's worker key signs
 * the same encoding with BlockSig set to null (Lotus `SigningBytes`).
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { Address } from "../../crypto/address.ts";
import type { Signature } from "../../crypto/signature.ts";
import {
  bigIntBytes,
  checkSafeInt,
  checkSafeUint,
  type DecodeOptions,
  deserialize,
  readAddress,
  readBigInt,
  readCid,
  readList,
  readNullable,
  readSafeInt,
  readSafeUint,
  readSignature,
  readTuple,
  serialize,
  signatureBytes,
} from "./_cbor.ts";
import { type BeaconEntry, decodeBeaconEntry, encodeBeaconEntry } from "./beacon_entry.ts";
import { cidOfBytes } from "./cid.ts";
import { decodeElectionProof, type ElectionProof, encodeElectionProof } from "./election_proof.ts";
import { decodePoStProof, encodePoStProof, type PoStProof } from "./post_proof.ts";
import { decodeTicket, encodeTicket, type Ticket } from "./ticket.ts";

/** Fields in a header tuple since ParentBaseFee was added (network version 4, 2020). */
export const BLOCK_HEADER_FIELDS = 16;

/** A block header. */
export interface BlockHeader {
  /** The miner actor that won the block (an f0 address on every real network). */
  readonly miner: Address;
  /** The miner's ticket; null only in headers Lotus would reject in validation. */
  readonly ticket: Ticket | null;
  /** Proof of winning the election; null in the genesis block. */
  readonly electionProof: ElectionProof | null;
  /** drand entries committed to, oldest first. */
  readonly beaconEntries: readonly BeaconEntry[];
  /** Winning PoSt proofs. */
  readonly winPoStProof: readonly PoStProof[];
  /** CIDs of the parent tipset's blocks, in the parent tipset's canonical order. */
  readonly parents: readonly CID[];
  /** Weight of the parent tipset. */
  readonly parentWeight: bigint;
  /** Epoch of this block (int64 in Lotus). */
  readonly height: number;
  /** State tree root after executing the parent tipset. */
  readonly parentStateRoot: CID;
  /** AMT root of the receipts of the parent tipset's messages. */
  readonly parentMessageReceipts: CID;
  /** CID of this block's MsgMeta (see `msg_meta.ts`). */
  readonly messages: CID;
  /** Aggregate of the BLS messages' signatures; null when absent. */
  readonly blsAggregate: Signature | null;
  /** Unix seconds (uint64 in Lotus). */
  readonly timestamp: number;
  /** The miner worker's signature over the signing bytes; null while signing. */
  readonly blockSig: Signature | null;
  /** Reserved upgrade-signalling bits (uint64 in Lotus; 0 on every network today). */
  readonly forkSignaling: number;
  /** Base fee the parent tipset's messages paid. */
  readonly parentBaseFee: bigint;
}

/** CBOR tuple form of a BlockHeader. */
export type BlockHeaderTuple = [
  miner: Uint8Array,
  ticket: unknown[] | null,
  electionProof: unknown[] | null,
  beaconEntries: unknown[][],
  winPoStProof: unknown[][],
  parents: CID[],
  parentWeight: Uint8Array,
  height: number,
  parentStateRoot: CID,
  parentMessageReceipts: CID,
  messages: CID,
  blsAggregate: Uint8Array | null,
  timestamp: number,
  blockSig: Uint8Array | null,
  forkSignaling: number,
  parentBaseFee: Uint8Array,
];

/** The tuple form of `header`; throws InvalidChainDataError for out-of-range fields. */
export function encodeBlockHeader(header: BlockHeader): BlockHeaderTuple {
  const w = "block header";
  return [
    header.miner.bytes,
    header.ticket && encodeTicket(header.ticket),
    header.electionProof && encodeElectionProof(header.electionProof),
    header.beaconEntries.map(encodeBeaconEntry),
    header.winPoStProof.map(encodePoStProof),
    [...header.parents],
    bigIntBytes(header.parentWeight, `${w}.ParentWeight`),
    checkSafeInt(header.height, `${w}.Height`),
    header.parentStateRoot,
    header.parentMessageReceipts,
    header.messages,
    header.blsAggregate && signatureBytes(header.blsAggregate, `${w}.BLSAggregate`),
    checkSafeUint(header.timestamp, `${w}.Timestamp`),
    header.blockSig && signatureBytes(header.blockSig, `${w}.BlockSig`),
    checkSafeUint(header.forkSignaling, `${w}.ForkSignaling`),
    bigIntBytes(header.parentBaseFee, `${w}.ParentBaseFee`),
  ];
}

/** Read a decoded CBOR value as a BlockHeader; throws InvalidChainDataError naming the field. */
export function decodeBlockHeader(
  value: unknown,
  options: Pick<DecodeOptions, "network"> = {},
): BlockHeader {
  const w = "block header";
  const f = readTuple(value, w, BLOCK_HEADER_FIELDS);
  return {
    miner: readAddress(f[0], `${w}.Miner`, options.network),
    ticket: readNullable(f[1], (v) => decodeTicket(v, `${w}.Ticket`)),
    electionProof: readNullable(f[2], (v) => decodeElectionProof(v, `${w}.ElectionProof`)),
    beaconEntries: readList(f[3], `${w}.BeaconEntries`).map((v, i) =>
      decodeBeaconEntry(v, `${w}.BeaconEntries[${i}]`)
    ),
    winPoStProof: readList(f[4], `${w}.WinPoStProof`).map((v, i) =>
      decodePoStProof(v, `${w}.WinPoStProof[${i}]`)
    ),
    parents: readList(f[5], `${w}.Parents`).map((v, i) => readCid(v, `${w}.Parents[${i}]`)),
    parentWeight: readBigInt(f[6], `${w}.ParentWeight`),
    height: readSafeInt(f[7], `${w}.Height`),
    parentStateRoot: readCid(f[8], `${w}.ParentStateRoot`),
    parentMessageReceipts: readCid(f[9], `${w}.ParentMessageReceipts`),
    messages: readCid(f[10], `${w}.Messages`),
    blsAggregate: readNullable(f[11], (v) => readSignature(v, `${w}.BLSAggregate`)),
    timestamp: readSafeUint(f[12], `${w}.Timestamp`),
    blockSig: readNullable(f[13], (v) => readSignature(v, `${w}.BlockSig`)),
    forkSignaling: readSafeUint(f[14], `${w}.ForkSignaling`),
    parentBaseFee: readBigInt(f[15], `${w}.ParentBaseFee`),
  };
}

/** The header's canonical bytes (Lotus `BlockHeader.Serialize`). */
export function serializeBlockHeader(header: BlockHeader): Uint8Array {
  return serialize(encodeBlockHeader(header));
}

/**
 * Decode a header from peer bytes: strict, bounded, canonical. Throws InvalidChainDataError.
 *
 * @example
 * ```ts
 * import { deserializeBlockHeader, InvalidChainDataError } from "./mod.ts";
 * try {
 *   deserializeBlockHeader(new Uint8Array([0x80]));
 * } catch (err) {
 *   if (!(err instanceof InvalidChainDataError)) throw err;
 * }
 * ```
 */
export function deserializeBlockHeader(bytes: Uint8Array, options?: DecodeOptions): BlockHeader {
  return deserialize(
    bytes,
    "block header",
    (v) => decodeBlockHeader(v, options),
    encodeBlockHeader,
    options,
  );
}

/** The header's CID (Lotus `BlockHeader.Cid`). */
export function blockHeaderCid(header: BlockHeader): CID {
  return cidOfBytes(serializeBlockHeader(header));
}

/**
 * What the miner's worker key signs: the encoding with BlockSig null (Lotus `SigningBytes`).
 * The whole encoding is signed, not its CID.
 */
export function blockHeaderSigningBytes(header: BlockHeader): Uint8Array {
  return serializeBlockHeader({ ...header, blockSig: null });
}
