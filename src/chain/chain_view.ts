/**
 * What other systems may know of the chain: its genesis and its heaviest tipset. Hello advertises
 * them; sync (a later issue) moves the head. A narrow read-only view, so no system reaches into the
 * chain store's state.
 */
import type { CID } from "multiformats/cid";

export interface ChainHead {
  readonly cids: readonly CID[];
  readonly height: number;
  readonly weight: bigint;
}

export interface ChainView {
  /** CID of the genesis block: it names the network. */
  readonly genesis: CID;
  /** Network name from genesis: used in gossip topics and the DHT protocol prefix. */
  readonly networkName: string;
  head(): ChainHead;
}
