/**
 * Lotus's JSON shapes for chain objects (`types.BlockHeader`, `types.TipSet` as go's
 * encoding/json writes them), both ways. Rules, from Go:
 * - CIDs are `{"/": "bafy..."}`; big ints (ParentWeight, ParentBaseFee) are decimal strings;
 * - byte fields are base64; an empty one is `null` (cbor-gen decodes zero-length bytes to a nil
 *   slice, which encoding/json writes as null), and so is an empty list;
 * - signatures are `{"Type": 1|2, "Data": base64}`; addresses their string form (`f0...`/`t0...`).
 *
 * `tests/chain_api_test.ts` checks our output equals Lotus's for the five headers of
 * `tests/fixtures/chain/block_headers.json`.
 *
 * @module
 */
import { CID } from "multiformats/cid";
import { Address, type Network } from "../crypto/address.ts";
import { decodeSignature, encodeSignature, type Signature } from "../crypto/signature.ts";
import type { BlockHeader, TipSet } from "../chain/types/mod.ts";
import { decodeObject, field, kindOf } from "./rpc.ts";

/** `{"/": "bafy..."}`. */
export interface CidJson {
  "/": string;
}

export interface SignatureJson {
  Type: number;
  Data: string | null;
}

/** Lotus `types.BlockHeader` JSON. */
export interface BlockHeaderJson {
  Miner: string;
  Ticket: { VRFProof: string | null } | null;
  ElectionProof: { WinCount: number; VRFProof: string | null } | null;
  BeaconEntries: { Round: number; Data: string | null }[] | null;
  WinPoStProof: { PoStProof: number; ProofBytes: string | null }[] | null;
  Parents: CidJson[] | null;
  ParentWeight: string;
  Height: number;
  ParentStateRoot: CidJson;
  ParentMessageReceipts: CidJson;
  Messages: CidJson;
  BLSAggregate: SignatureJson | null;
  Timestamp: number;
  BlockSig: SignatureJson | null;
  ForkSignaling: number;
  ParentBaseFee: string;
}

/** Lotus `types.TipSet` JSON. */
export interface TipSetJson {
  Cids: CidJson[];
  Blocks: BlockHeaderJson[];
  Height: number;
}

/** Options of the encoders. */
export interface ChainJsonOptions {
  /** Address prefix to print (`f` mainnet style, `t` testnets). */
  network?: Network;
}

export function cidToJson(cid: CID): CidJson {
  return { "/": cid.toString() };
}

/** Reads `{"/": "..."}` (or a bare CID string, as some clients send). @throws TypeError. */
export function cidFromJson(value: unknown): CID {
  const text = typeof value === "string" ? value : field(decodeObject(value), "/");
  if (typeof text !== "string") {
    throw new TypeError(`expected a CID {"/": ...}, got ${kindOf(value)}`);
  }
  try {
    return CID.parse(text);
  } catch {
    throw new TypeError(`not a CID: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

function b64(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return null;
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromB64(value: unknown, what: string): Uint8Array {
  if (value === null || value === undefined) return new Uint8Array();
  if (typeof value !== "string") {
    throw new TypeError(`${what}: expected base64, got ${kindOf(value)}`);
  }
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    throw new TypeError(`${what}: not base64`);
  }
}

function sigToJson(sig: Signature | null): SignatureJson | null {
  if (!sig) return null;
  return { Type: sig.type, Data: b64(sig.data) };
}

function sigFromJson(value: unknown, what: string): Signature | null {
  if (value === null || value === undefined) return null;
  const o = decodeObject(value);
  const type = field(o, "Type");
  if (typeof type !== "number") throw new TypeError(`${what}.Type: expected a number`);
  const data = fromB64(field(o, "Data"), `${what}.Data`);
  return decodeSignature(encodeSignature({ type: type as Signature["type"], data }));
}

function list<T>(items: readonly T[]): T[] | null {
  return items.length === 0 ? null : [...items];
}

function num(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${what}: expected a whole number, got ${kindOf(value)}`);
  }
  return value;
}

function bigint(value: unknown, what: string): bigint {
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw new TypeError(`${what}: expected a decimal string`);
  }
  return BigInt(value);
}

function arr(value: unknown, what: string): unknown[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(`${what}: expected an array, got ${kindOf(value)}`);
  }
  return value;
}

/** A header as Lotus prints it. */
export function blockHeaderToJson(h: BlockHeader, options: ChainJsonOptions = {}): BlockHeaderJson {
  return {
    Miner: h.miner.toString(options.network ?? "f"),
    Ticket: h.ticket && { VRFProof: b64(h.ticket.vrfProof) },
    ElectionProof: h.electionProof &&
      { WinCount: h.electionProof.winCount, VRFProof: b64(h.electionProof.vrfProof) },
    BeaconEntries: list(h.beaconEntries.map((e) => ({ Round: e.round, Data: b64(e.data) }))),
    WinPoStProof: list(
      h.winPoStProof.map((p) => ({ PoStProof: p.postProof, ProofBytes: b64(p.proofBytes) })),
    ),
    Parents: list(h.parents.map(cidToJson)),
    ParentWeight: h.parentWeight.toString(),
    Height: h.height,
    ParentStateRoot: cidToJson(h.parentStateRoot),
    ParentMessageReceipts: cidToJson(h.parentMessageReceipts),
    Messages: cidToJson(h.messages),
    BLSAggregate: sigToJson(h.blsAggregate),
    Timestamp: h.timestamp,
    BlockSig: sigToJson(h.blockSig),
    ForkSignaling: h.forkSignaling,
    ParentBaseFee: h.parentBaseFee.toString(),
  };
}

/** A header from Lotus JSON. @throws TypeError naming the bad field. */
export function blockHeaderFromJson(value: unknown): BlockHeader {
  const o = decodeObject(value);
  const f = (name: string) => field(o, name);
  const ticket = f("Ticket");
  const election = f("ElectionProof");
  let miner: Address;
  try {
    miner = Address.fromString(String(f("Miner")));
  } catch (err) {
    throw new TypeError(`Miner: ${(err as Error).message}`);
  }
  return {
    miner,
    ticket: ticket === null || ticket === undefined
      ? null
      : { vrfProof: fromB64(field(decodeObject(ticket), "VRFProof"), "Ticket.VRFProof") },
    electionProof: election === null || election === undefined ? null : {
      winCount: num(field(decodeObject(election), "WinCount"), "ElectionProof.WinCount"),
      vrfProof: fromB64(field(decodeObject(election), "VRFProof"), "ElectionProof.VRFProof"),
    },
    beaconEntries: arr(f("BeaconEntries"), "BeaconEntries").map((e, i) => ({
      round: num(field(decodeObject(e), "Round"), `BeaconEntries[${i}].Round`),
      data: fromB64(field(decodeObject(e), "Data"), `BeaconEntries[${i}].Data`),
    })),
    winPoStProof: arr(f("WinPoStProof"), "WinPoStProof").map((p, i) => ({
      postProof: num(field(decodeObject(p), "PoStProof"), `WinPoStProof[${i}].PoStProof`),
      proofBytes: fromB64(field(decodeObject(p), "ProofBytes"), `WinPoStProof[${i}].ProofBytes`),
    })),
    parents: arr(f("Parents"), "Parents").map(cidFromJson),
    parentWeight: bigint(f("ParentWeight"), "ParentWeight"),
    height: num(f("Height"), "Height"),
    parentStateRoot: cidFromJson(f("ParentStateRoot")),
    parentMessageReceipts: cidFromJson(f("ParentMessageReceipts")),
    messages: cidFromJson(f("Messages")),
    blsAggregate: sigFromJson(f("BLSAggregate"), "BLSAggregate"),
    timestamp: num(f("Timestamp"), "Timestamp"),
    blockSig: sigFromJson(f("BlockSig"), "BlockSig"),
    forkSignaling: num(f("ForkSignaling"), "ForkSignaling"),
    parentBaseFee: bigint(f("ParentBaseFee"), "ParentBaseFee"),
  };
}

/** A tipset as Lotus prints it. */
export function tipSetToJson(tipset: TipSet, options: ChainJsonOptions = {}): TipSetJson {
  return {
    Cids: tipset.cids.map(cidToJson),
    Blocks: tipset.blocks.map((b) => blockHeaderToJson(b, options)),
    Height: tipset.height,
  };
}

/** A TipSetKey param: `[{"/": cid}, ...]`; null or `[]` is the empty key (Lotus: the head). */
export function tipSetKeyFromJson(value: unknown): CID[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(`expected a TipSetKey array, got ${kindOf(value)}`);
  }
  if (value.length > 64) throw new RangeError("a TipSetKey of more than 64 blocks");
  return value.map(cidFromJson);
}
