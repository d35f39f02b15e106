/**
 * Genesis for devnets: a real Filecoin BlockHeader at height 0, built deterministically from a
 * template (network name, timestamp, block delay, initial accounts and miners), and the KV pointer
 * that names a root's genesis.
 *
 * The header follows Lotus `chain/gen/genesis.MakeGenesisBlock`: miner f00 (the system actor),
 * ticket "vrf proof0000000vrf proof0000000", an ElectionProof with WinCount 0, one zero beacon
 * entry, parent weight 0, ParentBaseFee 100e6 attoFIL (Lotus `InitialBaseFee`), Messages the
 * empty MsgMeta and ParentMessageReceipts the empty AMT. Two departures, both because state
 * execution does not exist yet:
 * - Parents is empty. Lotus points at a fixed "filecoin genesis" block (a dag-cbor object it embeds);
 *   with no parents the chain store can tell genesis apart without knowing that special block.
 * - ParentStateRoot names a small dag-cbor "devnet genesis state" object (network name, block delay,
 *   accounts with balances, miners) instead of an actor state tree. It is a stand-in until the
 *   state issue brings real state trees; the network name is read from it (`ChainView.networkName`).
 *
 * Same template, same bytes, same CID: devnet processes started from the same config share genesis.
 *
 * @example
 * ```ts
 * import { buildGenesis } from "./genesis.ts";
 * const a = buildGenesis({ networkName: "devnet", timestamp: 0, blockDelay: 4 });
 * const b = buildGenesis({ networkName: "devnet", timestamp: 0, blockDelay: 4 });
 * if (!a.cid.equals(b.cid) || a.header.height !== 0) throw new Error("not deterministic");
 * ```
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { CorruptRecordError, UserError } from "../errors.ts";
import { type Block, verifyBlock } from "../ipld/block.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import { Address } from "../crypto/address.ts";
import { decodeBigInt, encodeBigInt } from "./big_int.ts";
import { devnetMinerFromSeed } from "../crypto/devnet_key.ts";
import { EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK } from "./empty_msg_meta.ts";
import {
  type BlockHeader,
  deserializeBlockHeader,
  InvalidChainDataError,
  serializeBlockHeader,
} from "./types/mod.ts";
import { cidOfBytes } from "./types/cid.ts";

/** KV key of the genesis pointer: the CID of the root's genesis header. */
export const GENESIS_KEY: Deno.KvKey = ["chain", "genesis"];

/** Lotus `genesisticket`: 32 bytes that order nothing (genesis is alone at height 0). */
export const GENESIS_TICKET: Uint8Array = new TextEncoder().encode(
  "vrf proof0000000vrf proof0000000",
);

/** Lotus `buildconstants.InitialBaseFee`: 100e6 attoFIL. */
export const INITIAL_BASE_FEE = 100_000_000n;

/** Format tag of the stand-in state object, so a future real state tree is told apart. */
const GENESIS_STATE_VERSION = 1;

/** An account funded at genesis. */
export interface GenesisAccount {
  readonly address: Address;
  /** attoFIL. */
  readonly balance: bigint;
}

/** What a genesis is built from. */
export interface GenesisTemplate {
  /** Network name: gossip topics and the DHT prefix derive from it. */
  readonly networkName: string;
  /** Unix seconds of epoch 0. */
  readonly timestamp: number;
  /** Seconds between epochs. */
  readonly blockDelay: number;
  readonly accounts?: readonly GenesisAccount[];
  /** Miner actors present at genesis. */
  readonly miners?: readonly Address[];
}

/** The stand-in genesis state: what `ParentStateRoot` of a devnet genesis names. */
export interface GenesisState {
  readonly networkName: string;
  readonly blockDelay: number;
  readonly accounts: readonly GenesisAccount[];
  readonly miners: readonly Address[];
}

/** A built genesis: the header, its CID, and every block it needs (header first). */
export interface Genesis {
  readonly header: BlockHeader;
  readonly cid: CID;
  readonly state: GenesisState;
  readonly blocks: readonly Block[];
}

/** A template or genesis file that cannot make a valid genesis. */
export class InvalidGenesisError extends UserError {}

/** The root already has another genesis than the one offered. */
export class GenesisMismatchError extends UserError {}

/** Config values a devnet genesis is derived from. */
export interface DevnetGenesisConfig {
  readonly Chain: {
    readonly Network: string;
    readonly GenesisTime: number;
    readonly BlockDelay: number;
  };
}

/** Miners of every config-derived devnet: well-known keys, so any test or tool can mine there. */
export const DEVNET_MINER_SEEDS: readonly string[] = ["0", "1", "2"];

/**
 * The template of the devnet genesis a root without an imported genesis uses: network name,
 * genesis time and block delay (milliseconds in config, whole seconds in genesis) from config,
 * and the well-known devnet miners (`devnetMinerFromSeed` of {@link DEVNET_MINER_SEEDS}).
 */
export function devnetGenesisTemplate(config: DevnetGenesisConfig): GenesisTemplate {
  return {
    networkName: config.Chain.Network,
    timestamp: config.Chain.GenesisTime,
    blockDelay: Math.max(1, Math.round(config.Chain.BlockDelay / 1000)),
    miners: DEVNET_MINER_SEEDS.map((seed) => devnetMinerFromSeed(seed).address),
  };
}

/** Build the genesis of `template`. Throws InvalidGenesisError for a bad template. */
export function buildGenesis(template: GenesisTemplate): Genesis {
  const state = checkTemplate(template);
  const stateBlock = encodeGenesisState(state);
  const header: BlockHeader = {
    miner: Address.fromId(0),
    ticket: { vrfProof: GENESIS_TICKET.slice() },
    electionProof: { winCount: 0, vrfProof: new Uint8Array() },
    beaconEntries: [{ round: 0, data: new Uint8Array(32) }],
    winPoStProof: [],
    parents: [],
    parentWeight: 0n,
    height: 0,
    parentStateRoot: stateBlock.cid,
    parentMessageReceipts: EMPTY_AMT_BLOCK.cid,
    messages: EMPTY_MSG_META_BLOCK.cid,
    blsAggregate: null,
    timestamp: template.timestamp,
    blockSig: null,
    forkSignaling: 0,
    parentBaseFee: INITIAL_BASE_FEE,
  };
  const bytes = serializeBlockHeader(header);
  const cid = cidOfBytes(bytes);
  return {
    header,
    cid,
    state,
    blocks: [{ cid, bytes }, stateBlock, EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK],
  };
}

function checkTemplate(t: GenesisTemplate): GenesisState {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(t.networkName)) {
    throw new InvalidGenesisError(
      `network name ${JSON.stringify(t.networkName)}: letters, digits, '.', '_' or '-' (max 64)`,
    );
  }
  if (!Number.isSafeInteger(t.timestamp) || t.timestamp < 0) {
    throw new InvalidGenesisError(`timestamp must be unix seconds, got ${t.timestamp}`);
  }
  if (!Number.isSafeInteger(t.blockDelay) || t.blockDelay < 1) {
    throw new InvalidGenesisError(`block delay must be whole seconds >= 1, got ${t.blockDelay}`);
  }
  const seen = new Set<string>();
  for (const a of [...(t.accounts ?? []).map((a) => a.address), ...(t.miners ?? [])]) {
    const key = a.toString("f");
    if (seen.has(key)) throw new InvalidGenesisError(`address ${key} is listed twice`);
    seen.add(key);
  }
  for (const a of t.accounts ?? []) {
    if (a.balance < 0n) throw new InvalidGenesisError(`balance of ${a.address} is negative`);
  }
  return {
    networkName: t.networkName,
    blockDelay: t.blockDelay,
    accounts: [...(t.accounts ?? [])],
    miners: [...(t.miners ?? [])],
  };
}

/** The state object's block (dag-cbor map; keys sorted by the codec, so bytes are canonical). */
export function encodeGenesisState(state: GenesisState): Block {
  const bytes = dagCbor.encode({
    filnodeGenesisState: GENESIS_STATE_VERSION,
    networkName: state.networkName,
    blockDelay: state.blockDelay,
    accounts: state.accounts.map((a) => [a.address.bytes, encodeBigInt(a.balance)]),
    miners: state.miners.map((m) => m.bytes),
  });
  return { cid: cidOfBytes(bytes), bytes };
}

/** Read a state object; throws InvalidChainDataError when the bytes are not one. */
export function decodeGenesisState(bytes: Uint8Array): GenesisState {
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (err) {
    throw new InvalidChainDataError("genesis state: not dag-cbor", { cause: err });
  }
  const v = value as Record<string, unknown>;
  if (
    typeof v !== "object" || v === null || v.filnodeGenesisState !== GENESIS_STATE_VERSION ||
    typeof v.networkName !== "string" || !Number.isSafeInteger(v.blockDelay) ||
    !Array.isArray(v.accounts) || !Array.isArray(v.miners)
  ) {
    throw new InvalidChainDataError("genesis state: not a filnode devnet genesis state");
  }
  try {
    return {
      networkName: v.networkName,
      blockDelay: v.blockDelay as number,
      accounts: v.accounts.map((pair) => {
        const [address, balance] = pair as [Uint8Array, Uint8Array];
        return { address: Address.fromBytes(address), balance: decodeBigInt(balance) };
      }),
      miners: v.miners.map((m) => Address.fromBytes(m as Uint8Array)),
    };
  } catch (err) {
    throw new InvalidChainDataError(`genesis state: ${(err as Error).message}`, { cause: err });
  }
}

/** The stand-in state a genesis header names, or undefined when it is not one (or not stored). */
export async function readGenesisState(
  ipld: IpldStore,
  header: BlockHeader,
  options: AbortOptions = {},
): Promise<GenesisState | undefined> {
  if (!await ipld.has(header.parentStateRoot, options)) return undefined;
  try {
    return decodeGenesisState(await ipld.get(header.parentStateRoot, options));
  } catch (err) {
    if (err instanceof InvalidChainDataError) return undefined;
    throw err;
  }
}

/** Whether `header` can be a genesis: height 0, no parents, parent weight 0. */
export function assertGenesisHeader(header: BlockHeader, cid: CID): void {
  if (header.height !== 0 || header.parents.length !== 0 || header.parentWeight !== 0n) {
    throw new InvalidGenesisError(
      `${cid} is not a genesis header (height ${header.height}, ${header.parents.length} parents)`,
    );
  }
}

/**
 * The genesis pointer's CID, or undefined when the root has none yet.
 * @throws CorruptRecordError when the pointer is not a CID.
 */
export async function readGenesisPointer(kv: Deno.Kv): Promise<CID | undefined> {
  const entry = await kv.get(GENESIS_KEY);
  if (entry.value === null) return undefined;
  try {
    if (entry.value instanceof Uint8Array) return CID.decode(entry.value);
  } catch {
    // reported below
  }
  throw new CorruptRecordError("the genesis pointer is not a CID; run `filnode repo fsck`");
}

/**
 * Store a genesis's blocks and point the root at it: blocks first, pointer last (one atomic
 * commit that also checks the pointer is still absent), so a crash leaves no pointer to nothing.
 * Every block is checked against its CID, and the root block must decode as a genesis header.
 * A root that already has this genesis is left as it is; one with another genesis is refused.
 */
export async function importGenesis(
  kv: Deno.Kv,
  ipld: IpldStore,
  root: CID,
  blocks: Iterable<Block> | AsyncIterable<Block>,
  options: AbortOptions = {},
): Promise<BlockHeader> {
  const checked: Block[] = [];
  let header: BlockHeader | undefined;
  for await (const block of blocks) {
    options.signal?.throwIfAborted();
    if (!verifyBlock(block.cid, block.bytes)) {
      throw new InvalidGenesisError(`block ${block.cid} does not match its CID`);
    }
    if (block.cid.equals(root)) {
      try {
        header = deserializeBlockHeader(block.bytes);
      } catch (err) {
        throw new InvalidGenesisError(`${root} is not a block header: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    checked.push(block);
  }
  if (!header) throw new InvalidGenesisError(`the genesis block ${root} is missing`);
  assertGenesisHeader(header, root);
  const existing = await kv.get(GENESIS_KEY);
  if (existing.value !== null) {
    const current = await readGenesisPointer(kv);
    if (current && current.equals(root)) return header;
    throw new GenesisMismatchError(`this root already has genesis ${current}, not ${root}`);
  }
  await ipld.putMany(checked, options);
  const ok = await kv.atomic().check(existing).set(GENESIS_KEY, root.bytes).commit();
  if (!ok.ok) throw new GenesisMismatchError("the genesis pointer changed during import");
  return header;
}

/**
 * The root's genesis header: the one its pointer names, or, for a root without one, the genesis
 * `template` builds (stored and pointed at first). A pointer to a block that is not a header (the
 * stand-in genesis of earlier versions) is replaced the same way, as long as no chain head was
 * built on it.
 */
export async function loadOrCreateGenesis(
  kv: Deno.Kv,
  ipld: IpldStore,
  template: GenesisTemplate,
  options: AbortOptions = {},
): Promise<BlockHeader> {
  const cid = await readGenesisPointer(kv);
  if (cid) {
    if (!await ipld.has(cid, options)) {
      throw new CorruptRecordError(
        `the genesis pointer names a missing block ${cid}; run \`filnode repo fsck --repair\``,
      );
    }
    const bytes = await ipld.get(cid, options);
    try {
      return deserializeBlockHeader(bytes);
    } catch (err) {
      if (!(err instanceof InvalidChainDataError)) throw err;
      if ((await kv.get(["chain", "head"])).value !== null) {
        throw new CorruptRecordError(`the genesis block ${cid} is not a block header`);
      }
      await kv.delete(GENESIS_KEY); // the legacy stand-in: rebuilt from the template below
    }
  }
  const genesis = buildGenesis(template);
  return await importGenesis(kv, ipld, genesis.cid, genesis.blocks, options);
}

/**
 * fsck's check of the genesis pointer: it must name a stored block. Returns the problem, if any;
 * with `repair`, removes a bad pointer (the next start recreates a devnet genesis from config;
 * a root made with `init --genesis` needs that file imported again).
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
