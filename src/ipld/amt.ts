/**
 * AMT v0 (array-mapped trie), the legacy format Filecoin blocks commit their message lists
 * with: Lotus's `computeMsgMeta` builds each list with specs-actors v0 `adt.MakeEmptyArray`,
 * which is go-amt-ipld v2 with a fixed bit width of 3 (8 slots per node). Receipts roots use the
 * same format.
 *
 * Wire form (go-amt-ipld v2 `cbor_gen.go`):
 * - root `[height, count, node]` (no bit-width field, unlike the v3 format actors v3+ use);
 * - node `[bmap, links, values]`: `bmap` is a one-byte string with bit `i` (`1 << i`, least
 *   significant first) set when slot `i` is occupied; `links` (internal nodes, height > 0) or
 *   `values` (leaves, height 0) hold the occupied slots only, in slot order, and the other list
 *   is empty. The root node is inline in the root block; every other node is its own dag-cbor
 *   block named by a blake2b-256 CID.
 *
 * A node at height `h` covers `8^(h+1)` indexes, so the tree for a list of `n > 8` values has
 * height `ceil(log8(n)) - 1`. Building from a finished list gives exactly the blocks Go's
 * sequential `Set` + `Flush` gives, which is what makes the root CID comparable with a header.
 *
 * @module
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import { NotFoundError, UserError } from "../errors.ts";
import type { IpldStore } from "./ipld_store.ts";
import { BlockNotFoundError } from "./ipld_store.ts";
import { type Block, DAG_CBOR, encodeCbor } from "./block.ts";

/** log2 of the node width: go-amt-ipld v2 `widthBits`, fixed (v0 roots carry no bit width). */
export const AMT_V0_BIT_WIDTH = 3;
/** Slots per node: go-amt-ipld v2 `width = 1 << widthBits`. */
export const AMT_V0_WIDTH = 1 << AMT_V0_BIT_WIDTH;

/**
 * Deepest tree read or built. go-amt-ipld v2 allows height 20 (63-bit indexes); we stop at 16
 * so that every index (< 8^17 = 2^51) is a safe JavaScript integer. Message and receipt lists
 * (at most a few thousand entries) never go past height 4.
 */
export const AMT_V0_MAX_HEIGHT = 16;

/** Largest index `amtV0SparseBlocks` accepts: the last slot of a height-16 tree. */
export const AMT_V0_MAX_INDEX = 8 ** (AMT_V0_MAX_HEIGHT + 1) - 1;

/**
 * An AMT whose blocks do not form a well-formed v0 trie: wrong tuple shapes, a bitmap that
 * disagrees with its links or values, a height out of bounds, a count that does not match the
 * entries, or more entries than the reader allows. Peers send these; drop the data.
 */
export class InvalidAmtError extends UserError {}

/** A node the root links to is not in the store (fetch it, then read again). */
export class MissingAmtNodeError extends NotFoundError {
  constructor(readonly cid: CID, options?: ErrorOptions) {
    super(`AMT node ${cid} not found`, options);
  }
}

/** A built AMT: its root CID and every block (root last) a store needs to hold it. */
export interface AmtBlocks {
  readonly root: CID;
  readonly blocks: Block[];
}

/** A node in tuple form, ready for dag-cbor. */
type NodeTuple = [bmap: Uint8Array, links: CID[], values: unknown[]];

/** Number of indexes one child of a node at `height` covers: `8^height`. */
function span(height: number): number {
  return AMT_V0_WIDTH ** height;
}

/**
 * Blocks of an AMT v0 holding `values` at indexes `0..n-1`: what Lotus's `computeMsgMeta`
 * stores for one message list. Pure: callers batch the writes (e.g. with other blocks).
 *
 * @example
 * ```ts
 * import { amtV0Blocks } from "./amt.ts";
 * const { root, blocks } = amtV0Blocks([]);
 * // The empty AMT v0: [0, 0, [h'00', [], []]], one block.
 * if (blocks.length !== 1 || !blocks[0].cid.equals(root)) throw new Error("unexpected");
 * ```
 */
export function amtV0Blocks(values: readonly unknown[]): AmtBlocks {
  return amtV0SparseBlocks(values.map((v, i) => [i, v] as const));
}

/**
 * Blocks of an AMT v0 holding `value` at each `index` of `entries`, which must be strictly
 * increasing safe integers in `0..AMT_V0_MAX_INDEX`. The trie is the one go-amt-ipld builds for
 * the same entries (it depends only on the set of indexes, not on insertion order).
 */
export function amtV0SparseBlocks(
  entries: Iterable<readonly [index: number, value: unknown]>,
): AmtBlocks {
  const list = [...entries];
  let previous = -1;
  for (const [index] of list) {
    if (!Number.isSafeInteger(index) || index < 0 || index > AMT_V0_MAX_INDEX) {
      throw new RangeError(`AMT index ${index} is not an integer in 0..${AMT_V0_MAX_INDEX}`);
    }
    if (index <= previous) {
      throw new RangeError(`AMT indexes must be strictly increasing (${index} after ${previous})`);
    }
    previous = index;
  }
  let height = 0;
  while (previous >= span(height + 1)) height++;
  const blocks: Block[] = [];
  const node = buildNode(list, 0, list.length, height, 0, blocks);
  const root = encodeCbor([height, list.length, node]);
  blocks.push(root);
  return { root: root.cid, blocks };
}

/** The node at `height` covering `base..` holding `list[start..end)`; children go to `out`. */
function buildNode(
  list: readonly (readonly [number, unknown])[],
  start: number,
  end: number,
  height: number,
  base: number,
  out: Block[],
): NodeTuple {
  let bmap = 0;
  const links: CID[] = [];
  const values: unknown[] = [];
  if (height === 0) {
    for (let i = start; i < end; i++) {
      bmap |= 1 << (list[i][0] - base);
      values.push(list[i][1]);
    }
    return [new Uint8Array([bmap]), links, values];
  }
  const childSpan = span(height);
  let i = start;
  while (i < end) {
    const slot = Math.floor((list[i][0] - base) / childSpan);
    const childBase = base + slot * childSpan;
    let j = i + 1;
    while (j < end && list[j][0] < childBase + childSpan) j++;
    const child = encodeCbor(buildNode(list, i, j, height - 1, childBase, out));
    out.push(child);
    links.push(child.cid);
    bmap |= 1 << slot;
    i = j;
  }
  return [new Uint8Array([bmap]), links, values];
}

/**
 * Build an AMT v0 of `values` (indexes `0..n-1`), write all its blocks with one `putMany`, and
 * return the root CID.
 */
export async function buildAmtV0(
  store: IpldStore,
  values: readonly unknown[],
  options: AbortOptions = {},
): Promise<CID> {
  const { root, blocks } = amtV0Blocks(values);
  await store.putMany(blocks, options);
  return root;
}

/** Options of `readAmtV0` and `readAmtV0Entries`. */
export interface ReadAmtV0Options extends AbortOptions {
  /** Refuse a root whose count is larger, before reading any node (peer data is hostile). */
  maxCount: number;
  /** Refuse a root deeper than this (default and ceiling `AMT_V0_MAX_HEIGHT`). */
  maxHeight?: number;
  /** Rehash each node block read (default false: the store was filled by CID). */
  verify?: boolean;
}

/**
 * Every value of the AMT v0 at `root`, in index order, which must be dense (indexes
 * `0..count-1`): message and receipt lists always are, and a list with gaps would not give the
 * root a block header commits to. Use `readAmtV0Entries` for sparse arrays.
 *
 * Throws `InvalidAmtError` on any structural fault, `MissingAmtNodeError` when a node is absent.
 */
export async function readAmtV0(
  store: IpldStore,
  root: CID,
  options: ReadAmtV0Options,
): Promise<unknown[]> {
  const entries = await readAmtV0Entries(store, root, options);
  const values: unknown[] = [];
  for (const [index, value] of entries) {
    if (index !== values.length) {
      throw new InvalidAmtError(
        `AMT ${root}: index ${values.length} is missing (next entry is ${index}); not a list`,
      );
    }
    values.push(value);
  }
  return values;
}

/**
 * Every `[index, value]` entry of the AMT v0 at `root`, in index order, strictly validated:
 * the root is `[height, count, node]` with `height <= maxHeight` and `count <= maxCount`
 * (checked before any other read), every node is `[1-byte bmap, links, values]` with as many
 * links (internal) or values (leaf) as bits set and the other list empty, non-root nodes are
 * not empty, and the entries found equal `count`. Nodes are fetched level by level with
 * `getMany`; a level may hold no more nodes than `count` (each non-empty node holds at least
 * one entry), so the work a hostile root can cause is bounded by `maxCount * height` reads.
 */
export async function readAmtV0Entries(
  store: IpldStore,
  root: CID,
  options: ReadAmtV0Options,
): Promise<[index: number, value: unknown][]> {
  const { maxCount, verify = false, signal } = options;
  const maxHeight = Math.min(options.maxHeight ?? AMT_V0_MAX_HEIGHT, AMT_V0_MAX_HEIGHT);
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new RangeError(`maxCount must be a non-negative integer, got ${maxCount}`);
  }
  const rootBytes = await getNode(store, root, { signal, verify });
  const rootValue = decodeNodeBytes(rootBytes, root);
  if (!Array.isArray(rootValue) || rootValue.length !== 3) {
    throw new InvalidAmtError(`AMT root ${root}: expected [height, count, node]`);
  }
  const [height, count, rootNode] = rootValue;
  if (!isUint(height) || height > maxHeight) {
    throw new InvalidAmtError(`AMT root ${root}: height ${String(height)} not in 0..${maxHeight}`);
  }
  if (!isUint(count)) {
    throw new InvalidAmtError(
      `AMT root ${root}: count ${String(count)} is not a safe non-negative integer`,
    );
  }
  if (count > maxCount) {
    throw new InvalidAmtError(`AMT root ${root}: count ${count} is over the limit of ${maxCount}`);
  }
  // Nodes of the current level, left to right, with the first index each covers.
  let level: { node: ParsedNode; base: number }[] = [{
    node: parseNode(rootNode, height, `AMT root ${root} node`),
    base: 0,
  }];
  if (height > 0 && level[0].node.slots.length === 0) {
    throw new InvalidAmtError(`AMT root ${root}: height ${height} over an empty node`);
  }
  for (let h = height; h > 0; h--) {
    const childSpan = span(h);
    const next: { cid: CID; base: number }[] = [];
    for (const { node, base } of level) {
      node.slots.forEach((slot, k) => {
        next.push({ cid: node.links[k], base: base + slot * childSpan });
      });
    }
    if (next.length > count) {
      throw new InvalidAmtError(
        `AMT ${root}: ${next.length} nodes at height ${h - 1}, more than its count ${count}`,
      );
    }
    const children: { node: ParsedNode; base: number }[] = [];
    let k = 0;
    for await (const block of getNodes(store, next.map((n) => n.cid), { signal, verify })) {
      const { cid, base } = next[k++];
      const node = parseNode(decodeNodeBytes(block.bytes, cid), h - 1, `AMT node ${cid}`);
      if (node.slots.length === 0) throw new InvalidAmtError(`AMT node ${cid} is empty`);
      children.push({ node, base });
    }
    level = children;
  }
  const entries: [number, unknown][] = [];
  for (const { node, base } of level) {
    node.slots.forEach((slot, k) => entries.push([base + slot, node.values[k]]));
  }
  if (entries.length !== count) {
    throw new InvalidAmtError(`AMT ${root}: count says ${count} but it holds ${entries.length}`);
  }
  return entries;
}

/** A validated node: its occupied slots in order, and its links or values for them. */
interface ParsedNode {
  readonly slots: number[];
  readonly links: CID[];
  readonly values: unknown[];
}

/** Check a decoded node tuple at `height` and list its occupied slots. */
function parseNode(value: unknown, height: number, what: string): ParsedNode {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new InvalidAmtError(`${what}: expected [bmap, links, values]`);
  }
  const [bmap, links, values] = value;
  if (!(bmap instanceof Uint8Array) || bmap.length !== 1) {
    throw new InvalidAmtError(`${what}: bmap must be a 1-byte string`);
  }
  if (!Array.isArray(links) || !Array.isArray(values)) {
    throw new InvalidAmtError(`${what}: links and values must be arrays`);
  }
  const slots: number[] = [];
  for (let i = 0; i < AMT_V0_WIDTH; i++) if (bmap[0] & (1 << i)) slots.push(i);
  const [filled, empty, filledName] = height === 0
    ? [values, links, "values"]
    : [links, values, "links"];
  if (empty.length !== 0) {
    throw new InvalidAmtError(
      `${what}: a ${height === 0 ? "leaf" : "internal node"} must not hold ${
        height === 0 ? "links" : "values"
      }`,
    );
  }
  if (filled.length !== slots.length) {
    throw new InvalidAmtError(
      `${what}: bmap has ${slots.length} bits set but there are ${filled.length} ${filledName}`,
    );
  }
  if (height > 0) {
    for (const link of links) {
      if (!(link instanceof CID) || link.code !== DAG_CBOR) {
        throw new InvalidAmtError(`${what}: links must be dag-cbor CIDs`);
      }
    }
  }
  return { slots, links: links as CID[], values };
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function decodeNodeBytes(bytes: Uint8Array, cid: CID): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (err) {
    throw new InvalidAmtError(`AMT block ${cid} is not valid dag-cbor`, { cause: err });
  }
}

async function getNode(
  store: IpldStore,
  cid: CID,
  options: { signal?: AbortSignal; verify: boolean },
): Promise<Uint8Array> {
  if (cid.code !== DAG_CBOR) throw new InvalidAmtError(`AMT root ${cid} is not dag-cbor`);
  try {
    return await store.get(cid, options);
  } catch (err) {
    if (err instanceof BlockNotFoundError) throw new MissingAmtNodeError(cid, { cause: err });
    throw err;
  }
}

async function* getNodes(
  store: IpldStore,
  cids: CID[],
  options: { signal?: AbortSignal; verify: boolean },
): AsyncIterable<Block> {
  try {
    yield* store.getMany(cids, options);
  } catch (err) {
    if (err instanceof BlockNotFoundError) throw new MissingAmtNodeError(err.cid, { cause: err });
    throw err;
  }
}
