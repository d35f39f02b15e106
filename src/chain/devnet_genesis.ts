/**
 * A stand-in genesis for local devnets until the chain issue brings real genesis headers
 * (`filnode genesis new`). It is a DAG-CBOR block naming the network and its start time, stored in
 * the IpldStore with a pointer in KV, so that peers of different devnets have different genesis
 * CIDs and Hello tells them apart.
 */
import { CID } from "multiformats/cid";
import { type Block, encodeCbor } from "../ipld/block.ts";
import type { IpldStore } from "../repo/ipld_store.ts";
import type { ChainHead, ChainView } from "./chain_view.ts";
import { CorruptRecordError } from "../errors.ts";

const GENESIS_KEY: Deno.KvKey = ["chain", "genesis"];

/** The stand-in genesis block for `networkName` starting at `timestamp` (Unix seconds). */
export function devnetGenesisBlock(networkName: string, timestamp: number): Block {
  return encodeCbor({ filnodeDevnetGenesis: 1, network: networkName, timestamp });
}

/**
 * Returns the root's genesis, creating it on first use: block and pointer land in one KV commit
 * sequence where the pointer is written last, so a crash never leaves a pointer to nothing.
 */
export async function loadOrCreateGenesis(
  kv: Deno.Kv,
  store: IpldStore,
  networkName: string,
  timestamp: number,
): Promise<ChainView> {
  const existing = await kv.get<Uint8Array>(GENESIS_KEY);
  let genesis: CID;
  if (existing.value !== null) {
    let cid: CID | undefined;
    try {
      cid = existing.value instanceof Uint8Array ? CID.decode(existing.value) : undefined;
    } catch {
      cid = undefined;
    }
    if (!cid || !await store.has(cid)) {
      throw new CorruptRecordError("the genesis pointer is damaged or points at a missing block");
    }
    genesis = cid;
  } else {
    const block = devnetGenesisBlock(networkName, timestamp);
    await store.put(block.cid, block.bytes);
    await kv.atomic().check(existing).set(GENESIS_KEY, block.cid.bytes).commit();
    genesis = block.cid;
  }
  // Until the chain store exists, the head is the genesis itself.
  const head: ChainHead = { cids: [genesis], height: 0, weight: 0n };
  return { genesis, networkName, head: () => head };
}

/**
 * fsck's check of the genesis pointer: it must name a stored block. Returns the problem, if any;
 * with `repair`, removes a bad pointer (the next start recreates the same devnet genesis, since it
 * is derived from config).
 */
export async function checkGenesisPointer(
  kv: Deno.Kv,
  store: IpldStore,
  options: { repair?: boolean } = {},
): Promise<string | undefined> {
  const entry = await kv.get(GENESIS_KEY);
  if (entry.value === null) return undefined;
  let problem: string | undefined;
  try {
    if (!(entry.value instanceof Uint8Array)) problem = "genesis pointer is not a CID";
    else if (!await store.has(CID.decode(entry.value))) {
      problem = "genesis pointer names a missing block";
    }
  } catch {
    problem = "genesis pointer is not a CID";
  }
  if (problem && options.repair) await kv.atomic().check(entry).delete(GENESIS_KEY).commit();
  return problem;
}
