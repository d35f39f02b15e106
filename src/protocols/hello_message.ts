/**
 * Hello protocol messages (`/fil/hello/1.0.0`), as Lotus's `node/hello/hello.go` encodes them:
 * HelloMessage `[HeaviestTipSet []Cid, HeaviestTipSetHeight int64, HeaviestTipSetWeight BigInt,
 * GenesisHash Cid]` and the reply LatencyMessage `[TArrival int64, TSent int64]` (Unix ns).
 */
import { CID } from "multiformats/cid";
import { decodeBigInt, encodeBigInt } from "../chain/big_int.ts";
import { MalformedMessageError } from "./cbor_rpc.ts";

export const HELLO_PROTOCOL = "/fil/hello/1.0.0";

/** Lotus's hello deadline for each direction. */
export const HELLO_TIMEOUT_MS = 10_000;

/** A hello is a few CIDs and numbers; Lotus's are under 1 KiB. */
export const MAX_HELLO_BYTES = 16 * 1024;

/**
 * Blocks in a tipset: one per winning miner. Expected 5 per epoch, bounded well above anything
 * observed, so a peer cannot make us hold thousands of CIDs.
 */
export const MAX_TIPSET_BLOCKS = 64;

export interface HelloMessage {
  readonly heaviestTipSet: readonly CID[];
  readonly heaviestTipSetHeight: number;
  readonly heaviestTipSetWeight: bigint;
  readonly genesisHash: CID;
}

export interface LatencyMessage {
  /** When the hello arrived, Unix nanoseconds. */
  readonly tArrival: bigint;
  /** When the reply was sent, Unix nanoseconds. */
  readonly tSent: bigint;
}

export function encodeHello(msg: HelloMessage): unknown[] {
  return [
    [...msg.heaviestTipSet],
    msg.heaviestTipSetHeight,
    encodeBigInt(msg.heaviestTipSetWeight),
    msg.genesisHash,
  ];
}

export function decodeHello(value: unknown): HelloMessage {
  if (!Array.isArray(value) || value.length !== 4) {
    throw new MalformedMessageError("hello: expected a 4-tuple");
  }
  const [tipset, height, weight, genesis] = value;
  if (!Array.isArray(tipset) || tipset.length === 0 || tipset.length > MAX_TIPSET_BLOCKS) {
    throw new MalformedMessageError(
      `hello: heaviest tipset must list 1 to ${MAX_TIPSET_BLOCKS} CIDs`,
    );
  }
  const cids = tipset.map((c) => asCid(c, "heaviest tipset"));
  if (typeof height !== "number" || !Number.isSafeInteger(height) || height < 0) {
    throw new MalformedMessageError("hello: height must be a non-negative integer");
  }
  if (!(weight instanceof Uint8Array)) {
    throw new MalformedMessageError("hello: weight must be bytes");
  }
  let w: bigint;
  try {
    w = decodeBigInt(weight);
  } catch (err) {
    throw new MalformedMessageError(`hello: weight: ${(err as Error).message}`);
  }
  if (w < 0n) throw new MalformedMessageError("hello: weight must not be negative");
  return {
    heaviestTipSet: cids,
    heaviestTipSetHeight: height,
    heaviestTipSetWeight: w,
    genesisHash: asCid(genesis, "genesis"),
  };
}

export function encodeLatency(msg: LatencyMessage): unknown[] {
  return [msg.tArrival, msg.tSent];
}

export function decodeLatency(value: unknown): LatencyMessage {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new MalformedMessageError("latency: expected a 2-tuple");
  }
  const [arrival, sent] = value.map((v) => {
    if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === "bigint") return v;
    throw new MalformedMessageError("latency: times must be integers");
  });
  return { tArrival: arrival, tSent: sent };
}

/** Now in Unix nanoseconds, as Lotus's `time.Now().UnixNano()`. */
export function unixNanos(nowMs: number): bigint {
  return BigInt(Math.round(nowMs * 1000)) * 1000n;
}

function asCid(value: unknown, what: string): CID {
  const cid = CID.asCID(value);
  if (!cid) throw new MalformedMessageError(`hello: ${what} must be a CID`);
  return cid;
}
