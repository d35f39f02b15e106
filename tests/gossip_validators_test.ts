/**
 * The chain's gossip validators on real encodings: a valid block is accepted and becomes a sync
 * target; a forged, unknown-miner, known-bad or malformed one is rejected; a far-future or
 * duplicate one ignored. Messages: a correctly signed one accepted, a forged, malformed or
 * non-canonically encoded one rejected.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { makeDevnetTipSet, signDevnetTransfer } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { buildGenesis } from "../src/chain/genesis.ts";
import { blockGossipValidator, messageGossipValidator } from "../src/sync/gossip_validators.ts";
import { type GossipValidator, verdictOf } from "../src/net/gossip.ts";
import type { SyncTarget } from "../src/sync/syncer.ts";
import {
  type BlockHeader,
  encodeBlockMsg,
  serializeSignedMessage,
  signedMessageCid,
  TipSet,
} from "../src/chain/types/mod.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";

const GENESIS_TIME = 1_700_000_000;
const miner = devnetMinerFromSeed("g");
const stranger = devnetMinerFromSeed("stranger");
const consensus = new DevnetConsensus([miner.address]);
const genesis = buildGenesis({
  networkName: "gossip",
  timestamp: GENESIS_TIME,
  blockDelay: 4,
  miners: [miner.address],
});
const genesisTipSet = TipSet.fromBlocks([genesis.header]);

/** A clock at epoch `epoch`. */
function clockAt(epoch: number): Clock {
  return new Clock({
    genesisTime: GENESIS_TIME,
    blockDelayMs: 4000,
    timeSource: new FakeTimeSource((GENESIS_TIME + epoch * 4) * 1000),
  });
}

/** A validator that answers with its verdict alone (the reason is for a refused publisher). */
function verdictsOf(validate: GossipValidator) {
  return async (from: string, data: Uint8Array) => verdictOf(await validate(from, data));
}

function blockAt(height: number, by = miner): BlockHeader {
  return makeDevnetTipSet(genesisTipSet, 0n, {
    miners: [by],
    blockDelay: 4,
    consensus: new DevnetConsensus([by.address]),
    height,
  }).tipset.blocks[0];
}

/** The bytes of a BlockMsg, as gossip hands them to validators. */
function wire(header: BlockHeader, bls: CID[] = []): Uint8Array {
  return dagCbor.encode(encodeBlockMsg({ header, blsMessages: bls, secpkMessages: [] }));
}

Deno.test("blockGossipValidator(): accept, reject and ignore as Lotus's block validator", async () => {
  const targets: SyncTarget[] = [];
  const bad = new Set<string>();
  const stored = new Set<string>();
  const validate = verdictsOf(blockGossipValidator({
    clock: clockAt(10),
    consensus,
    isBad: (cid) => bad.has(cid.toString()),
    has: (cid) => Promise.resolve(stored.has(cid.toString())),
    onBlock: (target) => targets.push(target),
  }));
  const good = blockAt(5);
  const goodCid = TipSet.fromBlocks([good]).cids[0];
  equal(await validate("peer-a", wire(good)), "accept");
  equal(targets.length, 1);
  deepStrictEqual(targets[0].cids.map(String), [goodCid.toString()]);
  equal(targets[0].peerId, "peer-a");
  equal(targets[0].height, 5);

  // Forged signature, a miner genesis does not know, a missing election proof: rejected.
  const forged = {
    ...good,
    blockSig: { ...good.blockSig!, data: good.blockSig!.data.map((b, i) => i === 3 ? b ^ 1 : b) },
  };
  equal(await validate("p", wire(forged)), "reject");
  equal(await validate("p", wire(blockAt(5, stranger))), "reject");
  equal(await validate("p", wire({ ...good, electionProof: null })), "reject");
  // Not a BlockMsg at all, or one with too many messages.
  equal(await validate("p", dagCbor.encode([1, 2, 3])), "reject");
  equal(await validate("p", Uint8Array.of(0xff, 0x00)), "reject", "not CBOR at all");
  equal(await validate("p", wire(good).subarray(0, 100)), "reject", "truncated");
  equal(await validate("p", wire(good, Array(10_001).fill(goodCid))), "reject");
  // Too far ahead of the clock (5 epochs or more): ignored, not punished.
  equal(await validate("p", wire(blockAt(15))), "ignore");
  // Already stored: ignored.
  stored.add(goodCid.toString());
  equal(await validate("p", wire(good)), "ignore");
  // Known bad (itself): rejected.
  bad.add(goodCid.toString());
  equal(await validate("p", wire(good)), "reject");
  equal(targets.length, 1, "only the first, valid block became a target");
});

Deno.test("messageGossipValidator(): a signed message is accepted, a forged or garbled one rejected", async () => {
  const sender = devnetMinerFromSeed("sender");
  const signed = signDevnetTransfer(sender, 0);
  const message = signed.message;
  const validate = verdictsOf(messageGossipValidator());
  const bytes = serializeSignedMessage(signed);
  equal(await validate("p", bytes), "accept");
  const forged = { message: { ...message, value: 2n }, signature: signed.signature };
  equal(await validate("p", serializeSignedMessage(forged)), "reject");
  // Signed by someone else than the sender it names.
  const other = signDevnetTransfer(devnetMinerFromSeed("other"), 0);
  equal(
    await validate("p", serializeSignedMessage({ ...signed, signature: other.signature })),
    "reject",
  );
  equal(await validate("p", dagCbor.encode([1, "x"])), "reject");
  // The reason names what is wrong, for the user whose publish it refuses.
  deepStrictEqual(await messageGossipValidator()("p", dagCbor.encode([1, "x"])), {
    verdict: "reject",
    reason: "signed message.Message: expected a 10-field array, got an integer",
  });
  deepStrictEqual(await messageGossipValidator()("p", serializeSignedMessage(forged)), {
    verdict: "reject",
    reason: "not signed by its sender",
  });
  equal(await validate("p", Uint8Array.of(0x82, 0x8a)), "reject", "truncated");
  equal(await validate("p", Uint8Array.of(...bytes, 0)), "reject", "trailing byte");
  // The same message with its version written as 0x18 0x00 instead of 0x00: a value Lotus would
  // name by the canonical bytes; refused rather than hashed as sent.
  equal(bytes[2], 0x00, "the version is the first field of the inner tuple");
  equal(await validate("p", Uint8Array.of(0x82, 0x8a, 0x18, 0x00, ...bytes.subarray(3))), "reject");
});

Deno.test("blockGossipValidator(): message CIDs must be the ones the header's root commits to", async () => {
  const targets: SyncTarget[] = [];
  const validate = verdictsOf(blockGossipValidator({
    clock: clockAt(10),
    consensus,
    isBad: () => false,
    has: () => Promise.resolve(false),
    onBlock: (target) => targets.push(target),
  }));
  const sender = devnetMinerFromSeed("sender");
  const transfers = [0, 1, 2].map((n) => signDevnetTransfer(sender, n));
  const made = makeDevnetTipSet(genesisTipSet, 0n, {
    miners: [miner],
    blockDelay: 4,
    consensus,
    height: 5,
    messages: [{ bls: [], secpk: transfers }],
  });
  const header = made.tipset.blocks[0];
  const cids = transfers.map((t) => signedMessageCid(t));
  const gossip = (secpk: CID[]) =>
    dagCbor.encode(encodeBlockMsg({ header, blsMessages: [], secpkMessages: secpk }));
  // One left out, or the order changed: not what the signed header names.
  equal(await validate("relayer", gossip(cids.slice(1))), "reject");
  equal(await validate("relayer", gossip([cids[1], cids[0], cids[2]])), "reject");
  equal(targets.length, 0);
  // The block's own lists: accepted, and the target carries them for fetching by CID.
  equal(await validate("relayer", gossip(cids)), "accept");
  deepStrictEqual(targets[0].block?.secpkMessages.map(String), cids.map(String));
  equal(targets[0].block?.header.height, 5);
});
