/**
 * Chain export and import as block streams (the CAR framing is `src/repo/car_file.ts`): export
 * walks headers from a tipset down through its parents, with each block's MsgMeta (and what of
 * its messages can be read), and genesis's state object at the bottom; import checks every block
 * against its CID, stores them in batches, and moves the head to the CAR's root tipset only when
 * it links to our genesis and is heavier than our head.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import { type Block, verifyBlock } from "../ipld/block.ts";
import { BlockNotFoundError, type IpldStore } from "../ipld/ipld_store.ts";
import { type ChainStore, MissingAncestryError } from "./chain_store.ts";
import { EMPTY_AMT_BLOCK, EMPTY_MSG_META_BLOCK } from "./empty_msg_meta.ts";
import {
  computeMsgMeta,
  messageCid,
  serializeMessage,
  serializeSignedMessage,
  signedMessageCid,
  type TipSet,
} from "./types/mod.ts";

/** Blocks stored per `putMany` during import: bounded memory, few KV commits. */
const IMPORT_BATCH = 256;

/** A CAR whose blocks or roots cannot be imported. */
export class ChainImportError extends UserError {}

export interface ExportOptions extends AbortOptions {
  /** Tipsets to export, from `from` down (default: all, to genesis). */
  depth?: number;
}

/**
 * The blocks of the chain ending at `from`, newest first, each once: headers, MsgMeta blocks that
 * are stored, and genesis's state object.
 */
export async function* exportChainBlocks(
  chain: ChainStore,
  ipld: IpldStore,
  from: TipSet,
  options: ExportOptions = {},
): AsyncGenerator<Block> {
  const seen = new Set<string>();
  const maybe = async (cid: CID): Promise<Block | undefined> => {
    const name = cid.toString();
    if (seen.has(name)) return undefined;
    seen.add(name);
    try {
      return { cid, bytes: await ipld.get(cid, options) };
    } catch (err) {
      if (err instanceof BlockNotFoundError) return undefined;
      throw err;
    }
  };
  let t: TipSet | undefined = from;
  for (let n = 0; t && n < (options.depth ?? Infinity); n++) {
    options.signal?.throwIfAborted();
    for (const [i, header] of t.blocks.entries()) {
      const own = await maybe(t.cids[i]);
      if (own) yield own;
      const meta = await maybe(header.messages);
      if (meta) yield meta;
      if (header.messages.equals(EMPTY_MSG_META_BLOCK.cid)) {
        const amt = await maybe(EMPTY_AMT_BLOCK.cid);
        if (amt) yield amt;
      }
      const messages = header.messages.equals(EMPTY_MSG_META_BLOCK.cid)
        ? undefined
        : await chain.getBlockMessages(header, options);
      if (messages) {
        // The AMT nodes are rebuilt from the messages (the store checked them against the root
        // when they were put), then the messages themselves.
        const bls = messages.bls.map((m) => ({ cid: messageCid(m), bytes: serializeMessage(m) }));
        const secpk = messages.secpk.map((m) => ({
          cid: signedMessageCid(m),
          bytes: serializeSignedMessage(m),
        }));
        const meta = computeMsgMeta(bls.map((b) => b.cid), secpk.map((b) => b.cid));
        for (const b of [...meta.blocks, ...bls, ...secpk]) {
          if (!b.cid.equals(header.messages)) yield b; // the MsgMeta itself went out above
        }
      }
      if (header.parents.length === 0) {
        for (const cid of [header.parentStateRoot, header.parentMessageReceipts]) {
          const b = await maybe(cid);
          if (b) yield b;
        }
      }
    }
    t = t.blocks[0].parents.length === 0
      ? undefined
      : await chain.getTipSet(t.parents.cids, options);
  }
}

export interface ImportResult {
  readonly blocks: number;
  /** The CAR's root tipset. */
  readonly tipset: TipSet;
  /** Whether it became our head. */
  readonly headMoved: boolean;
  /** Why not, when it did not. */
  readonly reason?: string;
}

/**
 * Stand-in weight until consensus brings Lotus's power-based weight: the parent's weight plus
 * one per block, so a longer chain of the same parents is heavier.
 */
export function estimateWeight(tipset: TipSet): bigint {
  return tipset.parentWeight + BigInt(tipset.blocks.length);
}

/**
 * Import `blocks` (checked against their CIDs) and try to make `roots` the head.
 * @throws ChainImportError for a block that does not match its CID or roots that are no tipset.
 */
export async function importChainBlocks(
  chain: ChainStore,
  ipld: IpldStore,
  roots: readonly CID[],
  blocks: AsyncIterable<Block>,
  options: AbortOptions = {},
): Promise<ImportResult> {
  let count = 0;
  let batch: Block[] = [];
  for await (const block of blocks) {
    if (!verifyBlock(block.cid, block.bytes)) {
      throw new ChainImportError(`block ${block.cid} does not match its CID`);
    }
    batch.push(block);
    count++;
    if (batch.length >= IMPORT_BATCH) {
      await ipld.putMany(batch, options);
      batch = [];
    }
  }
  if (batch.length > 0) await ipld.putMany(batch, options);
  const tipset = roots.length > 0 ? await chain.getTipSet(roots, options) : undefined;
  if (!tipset) {
    throw new ChainImportError(`the CAR's roots are not a stored tipset (${roots.join(",")})`);
  }
  const weight = tipset.parents.isEmpty ? 0n : estimateWeight(tipset);
  if (weight <= chain.weight && !chain.heaviest.equals(tipset)) {
    return {
      blocks: count,
      tipset,
      headMoved: false,
      reason: `not heavier than our head (${weight} <= ${chain.weight})`,
    };
  }
  try {
    const change = await chain.setHead(tipset, weight, options);
    return { blocks: count, tipset, headMoved: change !== undefined };
  } catch (err) {
    if (!(err instanceof MissingAncestryError)) throw err;
    return {
      blocks: count,
      tipset,
      headMoved: false,
      reason: `it does not link to our genesis: ${err.message}`,
    };
  }
}
