/** validateBlock(): each rule on its own, on a valid devnet block with one field changed. */
import { rejects } from "node:assert/strict";
import { Address } from "../src/crypto/address.ts";
import {
  BlockFromFutureError,
  InvalidBlockError,
  validateBlock,
} from "../src/consensus/block_validator.ts";
import { makeDevnetTipSet } from "../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../src/crypto/devnet_key.ts";
import { buildGenesis } from "../src/chain/genesis.ts";
import { type BlockHeader, blockHeaderSigningBytes, TipSet } from "../src/chain/types/mod.ts";
import { signSecp256k1, SigType } from "../src/crypto/signature.ts";
import { Clock } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { ConsensusRuleError } from "../src/consensus/consensus.ts";
import { DevnetConsensus } from "../src/consensus/devnet_consensus.ts";

const GENESIS_TIME = 1_700_000_000;
const miner = devnetMinerFromSeed("v");
const consensus = new DevnetConsensus([miner.address]);
const genesis = buildGenesis({
  networkName: "validate",
  timestamp: GENESIS_TIME,
  blockDelay: 4,
  miners: [miner.address],
});
const parent = TipSet.fromBlocks([genesis.header]);
const context = (epoch = 100) => ({
  parent,
  parentWeight: 0n,
  blockDelay: 4,
  consensus,
  clock: new Clock({
    genesisTime: GENESIS_TIME,
    blockDelayMs: 4000,
    timeSource: new FakeTimeSource((GENESIS_TIME + epoch * 4) * 1000),
  }),
});
const noMessages = { bls: [], secpk: [] };
const valid = makeDevnetTipSet(parent, 0n, { miners: [miner], blockDelay: 4, consensus })
  .tipset.blocks[0];

/** `header` changed and signed again by the miner: only the changed rule can fail. */
function resigned(change: Partial<BlockHeader>): BlockHeader {
  const unsigned = { ...valid, ...change, blockSig: null };
  const data = signSecp256k1(miner.privateKey, blockHeaderSigningBytes(unsigned));
  return { ...unsigned, blockSig: { type: SigType.SECP256K1, data } };
}

Deno.test("validateBlock() accepts a valid devnet block", async () => {
  await validateBlock(valid, noMessages, context());
});

Deno.test("validateBlock() refuses broken linkage with InvalidBlockError", async () => {
  const cases: [string, Partial<BlockHeader>][] = [
    ["timestamp one second late", { timestamp: valid.timestamp + 1 }],
    ["claims a parent weight the parent does not have", { parentWeight: 5n }],
    ["names another parent", { parents: [valid.messages] }],
    ["height not above the parent", { height: 0 }],
    ["message root of messages it does not carry", { messages: genesis.cid }],
  ];
  for (const [what, change] of cases) {
    await rejects(validateBlock(resigned(change), noMessages, context()), InvalidBlockError, what);
  }
  // The message root does not match when messages are added that the header does not commit to.
  const extra = {
    bls: [{
      version: 0,
      to: Address.fromId(1),
      from: Address.fromId(2),
      nonce: 0n,
      value: 0n,
      gasLimit: 1n,
      gasFeeCap: 1n,
      gasPremium: 1n,
      method: 0n,
      params: new Uint8Array(),
    }],
    secpk: [],
  };
  await rejects(validateBlock(valid, extra, context()), InvalidBlockError);
});

Deno.test("validateBlock() defers a block from the future and refuses a forged one", async () => {
  // Epoch 1's block seen while the clock still reads epoch 0 minus drift: not yet.
  await rejects(validateBlock(valid, noMessages, context(-1)), BlockFromFutureError);
  const forged = { ...valid, blockSig: { ...valid.blockSig!, data: valid.blockSig!.data.slice() } };
  forged.blockSig.data[10] ^= 0xff;
  await rejects(validateBlock(forged, noMessages, context()), ConsensusRuleError);
});
