/**
 * Makes valid devnet blocks: what a devnet miner signs, and what tests and benches use to grow
 * long valid chains (10,000 tipsets in seconds) without running a miner.
 *
 * A block made here passes `validateBlock` with {@link DevnetConsensus}: it names its parent
 * tipset, stamps the parent's timestamp plus one block delay per epoch, carries the parent's
 * weight, commits to its messages through MsgMeta, and is signed by its miner's secp256k1 key
 * (the miner address is that key's f1 address; see devnet_consensus.ts).
 *
 * @module
 */
import type { Block } from "../ipld/block.ts";
import type { Consensus } from "./consensus.ts";
import { Address } from "../crypto/address.ts";
import { blake2b256Digest } from "../crypto/blake2b.ts";
import type { DevnetMiner } from "../crypto/devnet_key.ts";
import { signSecp256k1, SigType } from "../crypto/signature.ts";
import { minTimestamp } from "./block_validator.ts";
import type { BlockMessageLists } from "../chain/block_messages.ts";
import {
  type BlockHeader,
  blockHeaderSigningBytes,
  computeMsgMeta,
  type Message,
  messageCid,
  type SignedMessage,
  signedMessageCid,
  TipSet,
} from "../chain/types/mod.ts";

/**
 * A value transfer of 1 attoFIL from `sender` to `f01000`, signed by the sender's key: the
 * message devnet chains and tests carry. `nonce` makes each one distinct.
 */
export function signDevnetTransfer(sender: DevnetMiner, nonce: number | bigint): SignedMessage {
  const message: Message = {
    version: 0,
    to: Address.fromId(1000),
    from: sender.address,
    nonce: BigInt(nonce),
    value: 1n,
    gasLimit: 1_000_000n,
    gasFeeCap: 100n,
    gasPremium: 10n,
    method: 0n,
    params: new Uint8Array(),
  };
  const data = signSecp256k1(sender.privateKey, messageCid(message).bytes);
  return { message, signature: { type: SigType.SECP256K1, data } };
}

/** One made tipset: its blocks' messages and every IPLD block it needs stored. */
export interface MadeTipSet {
  readonly tipset: TipSet;
  readonly weight: bigint;
  /** `messages[i]` are the messages of `tipset.blocks[i]`. */
  readonly messages: readonly BlockMessageLists[];
  /** MsgMeta and AMT blocks of the message roots. */
  readonly blocks: readonly Block[];
}

export interface MakeTipSetOptions {
  /** The miners producing a block each (1 to 5 on a devnet). */
  readonly miners: readonly DevnetMiner[];
  readonly blockDelay: number;
  readonly consensus: Consensus;
  /** Height; default the parent's + 1 (higher leaves null rounds). */
  readonly height?: number;
  /** Messages per miner's block; default none. */
  readonly messages?: readonly BlockMessageLists[];
  /** Makes sibling forks differ (the ticket depends on it). */
  readonly salt?: string;
}

/** Makes a tipset on `parent` (of weight `parentWeight`), one signed block per miner. */
export function makeDevnetTipSet(
  parent: TipSet,
  parentWeight: bigint,
  options: MakeTipSetOptions,
): MadeTipSet {
  const height = options.height ?? parent.height + 1;
  const timestamp = minTimestamp(parent) + options.blockDelay * (height - parent.height);
  const headers: BlockHeader[] = [];
  const messages: BlockMessageLists[] = [];
  const blocks: Block[] = [];
  options.miners.forEach((miner, i) => {
    const msgs = options.messages?.[i] ?? { bls: [], secpk: [] };
    const meta = computeMsgMeta(
      msgs.bls.map((m) => messageCid(m)),
      msgs.secpk.map((m) => signedMessageCid(m)),
    );
    blocks.push(...meta.blocks);
    const vrf = (what: string) =>
      blake2b256Digest(
        new TextEncoder().encode(`${what} ${miner.address} ${height} ${options.salt ?? ""}`),
      );
    const unsigned: BlockHeader = {
      miner: miner.address,
      ticket: { vrfProof: vrf("ticket") },
      electionProof: { winCount: 1, vrfProof: vrf("election") },
      beaconEntries: [],
      winPoStProof: [],
      parents: [...parent.cids],
      parentWeight,
      height,
      parentStateRoot: parent.blocks[0].parentStateRoot,
      parentMessageReceipts: parent.blocks[0].parentMessageReceipts,
      messages: meta.cid,
      blsAggregate: null,
      timestamp,
      blockSig: null,
      forkSignaling: 0,
      parentBaseFee: parent.blocks[0].parentBaseFee,
    };
    const signature = signSecp256k1(miner.privateKey, blockHeaderSigningBytes(unsigned));
    headers.push({ ...unsigned, blockSig: { type: SigType.SECP256K1, data: signature } });
    messages.push(msgs);
  });
  const tipset = TipSet.fromBlocks(headers);
  // fromBlocks sorts blocks by ticket: reorder the message lists to match.
  const ordered = tipset.blocks.map((b) => messages[headers.indexOf(b)]);
  return {
    tipset,
    weight: options.consensus.weight(tipset, parentWeight),
    messages: ordered,
    blocks,
  };
}
