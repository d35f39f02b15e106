/**
 * Gossip validation throughput: how many messages per second the chain's gossipsub validators
 * (`src/chain/gossip_validators.ts`) judge, on the accept path and on the cheap and the costly
 * reject paths. `deno bench` prints iter/s; one iteration is one gossip message validated.
 *
 * Run: `deno bench bench/gossip_validation_bench.ts` (it needs no permissions; `deno task bench`
 * runs it with the others).
 *
 * Each iteration does what `Gossip` (`src/net/gossip.ts`) does with a message off the wire
 * once it is under the size cap: the topic's validator, which decodes the bytes itself. Both
 * topics:
 * - blocks (`blockGossipValidator`, devnet consensus): a valid BlockMsg (accept: BlockMsg decode,
 *   header CID, consensus precheck including secp256k1 recovery of the block signature); one
 *   whose block signature is corrupted (reject after the same work); a CBOR tuple that is not a
 *   BlockMsg (reject at BlockMsg decode, cheap).
 * - messages (`messageGossipValidator`): a valid secp256k1 SignedMessage (accept: decode,
 *   message CID, signature recovery); one with a corrupted signature (reject after the same
 *   work); truncated CBOR (reject at the decode, cheap).
 *
 * Every case cycles through {@link DISTINCT} distinct payloads built at load time, so nothing is
 * served from a cache; the store lookup (`has`) says "not stored" and nothing is known bad, so
 * each block goes all the way. A corrupted signature flips a byte of `s`: recovery still runs to
 * the end and yields some other key (flipping `r` may fail early, a cheaper reject). Each case
 * asserts its verdict once at load, so the bench cannot silently time the wrong path.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { makeDevnetTipSet, signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { buildGenesis, DEVNET_MINER_SEEDS } from "../src/chain/genesis.ts";
import { blockGossipValidator, messageGossipValidator } from "../src/sync/gossip_validators.ts";
import type { Signature } from "../src/crypto/signature.ts";
import {
  type BlockHeader,
  encodeBlockMsg,
  encodeSignedMessage,
  TipSet,
} from "../src/chain/types/mod.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";
import {
  type GossipValidator,
  type ValidatorResult,
  type Verdict,
  verdictOf,
} from "../src/net/gossip.ts";

/** Distinct payloads per case, cycled through. */
const DISTINCT = 2_000;
const GENESIS_TIME = 1_700_000_000;
const BLOCK_DELAY = 4;
const PEER = "12D3KooWBenchPeer";

// --- validators -----------------------------------------------------------------------------

const miners = DEVNET_MINER_SEEDS.map((seed) => devnetMinerFromSeed(seed));
const consensus = new DevnetConsensus(miners.map((m) => m.address));
const genesis = buildGenesis({
  networkName: "gossip-bench",
  timestamp: GENESIS_TIME,
  blockDelay: BLOCK_DELAY,
  miners: miners.map((m) => m.address),
});
const genesisTipSet = TipSet.fromBlocks([genesis.header]);

const validateBlock = blockGossipValidator({
  // At epoch 10: the height-1 blocks below are neither future nor ignored.
  clock: new Clock({
    genesisTime: GENESIS_TIME,
    blockDelayMs: BLOCK_DELAY * 1000,
    timeSource: new FakeTimeSource((GENESIS_TIME + 10 * BLOCK_DELAY) * 1000),
  }),
  consensus,
  isBad: () => false,
  has: () => Promise.resolve(false),
  onBlock: () => {},
});
const validateMessage = messageGossipValidator();

/** What `Gossip` does with a message's bytes once under the size cap: the topic's validator. */
function check(
  validator: GossipValidator,
  data: Uint8Array,
): ValidatorResult | Promise<ValidatorResult> {
  return validator(PEER, data);
}

// --- payloads -------------------------------------------------------------------------------

/** `sig` with one byte of `s` flipped: still a well-formed signature, by nobody we know. */
function corrupt(sig: Signature): Signature {
  return { ...sig, data: sig.data.map((b, i) => i === 40 ? b ^ 0x5a : b) };
}

/** Distinct valid devnet blocks at height 1, the miners taking turns; `salt` varies the ticket. */
const headers: BlockHeader[] = Array.from(
  { length: DISTINCT },
  (_, i) =>
    makeDevnetTipSet(genesisTipSet, 0n, {
      miners: [miners[i % miners.length]],
      blockDelay: BLOCK_DELAY,
      consensus,
      salt: `bench ${i}`,
    }).tipset.blocks[0],
);

const blockWire = (header: BlockHeader) =>
  dagCbor.encode(encodeBlockMsg({ header, blsMessages: [], secpkMessages: [] }));

const validBlocks = headers.map(blockWire);
const forgedBlocks = headers.map((h) => blockWire({ ...h, blockSig: corrupt(h.blockSig!) }));
/** A well-formed CBOR tuple of the BlockMsg arity that is no BlockMsg. */
const garbageBlocks = headers.map((_, i) => dagCbor.encode([i, `not a header ${i}`, [i]]));

const sender = devnetMinerFromSeed("gossip validation bench sender");
const signed = Array.from({ length: DISTINCT }, (_, i) => signDevnetTransfer(sender, i));
const validMessages = signed.map((s) => dagCbor.encode(encodeSignedMessage(s)));
const forgedMessages = signed.map((s) =>
  dagCbor.encode(encodeSignedMessage({ ...s, signature: corrupt(s.signature) }))
);
/** A valid message cut short: not DAG-CBOR at all. */
const truncatedMessages = validMessages.map((bytes) => bytes.slice(0, bytes.length - 7));

// --- cases ----------------------------------------------------------------------------------

/** Throws unless the first payload gets `expected`: the case times the path it claims. */
async function assertVerdict(
  name: string,
  validator: GossipValidator,
  payloads: readonly Uint8Array[],
  expected: Verdict,
): Promise<void> {
  const got = verdictOf(await check(validator, payloads[0]));
  if (got !== expected) throw new Error(`${name}: expected ${expected}, validator said ${got}`);
}

/** A cursor cycling through `payloads`. */
function cycle(payloads: readonly Uint8Array[]): () => Uint8Array {
  let i = 0;
  return () => payloads[i++ % payloads.length];
}

const blockCases: [string, Uint8Array[], Verdict][] = [
  ["valid BlockMsg (accept)", validBlocks, "accept"],
  ["corrupted block signature (reject)", forgedBlocks, "reject"],
  ["not a BlockMsg (reject)", garbageBlocks, "reject"],
];
for (const [name, payloads, expected] of blockCases) {
  await assertVerdict(name, validateBlock, payloads, expected);
  const next = cycle(payloads);
  Deno.bench({
    name,
    group: "gossip blocks",
    baseline: expected === "accept",
    async fn() {
      await check(validateBlock, next());
    },
  });
}

const messageCases: [string, Uint8Array[], Verdict][] = [
  ["valid secp256k1 SignedMessage (accept)", validMessages, "accept"],
  ["corrupted signature (reject)", forgedMessages, "reject"],
  ["malformed CBOR (reject)", truncatedMessages, "reject"],
];
for (const [name, payloads, expected] of messageCases) {
  await assertVerdict(name, validateMessage, payloads, expected);
  // The messages validator answers synchronously: time it without a promise per iteration.
  if (check(validateMessage, payloads[0]) instanceof Promise) {
    throw new Error(`${name}: the messages validator went async; make this case await it`);
  }
  const next = cycle(payloads);
  Deno.bench({
    name,
    group: "gossip messages",
    baseline: expected === "accept",
    fn() {
      check(validateMessage, next());
    },
  });
}
