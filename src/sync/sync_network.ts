/**
 * The network as the sync system sees it: the few methods chain sync calls, so that sync depends
 * on this slice and not on the network system's host, Hello service or peer manager.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { AbortOptions } from "../abort.ts";
import type { GossipKind, GossipValidator } from "../net/gossip.ts";
import type { NetworkEvents, ProtocolHandler } from "../net/network.ts";
import type { ReputationEventKind } from "../net/reputation.ts";
import type { ProtocolConnections } from "../protocols/protocol_host.ts";

export interface SyncNetwork {
  /** Connected peers whose hello matched ours, best reputation first. */
  greetedPeers(): string[];
  /** Something a peer did, good or bad (the one door to its reputation). */
  report(peerId: string, event: ReputationEventKind): void;
  /** Serves `protocol` to greeted peers only (Hello comes first on every connection). */
  handleGreeted(protocol: string, handler: ProtocolHandler): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  /** A block by CID from connected peers (bitswap), checked against its CID. */
  want(cid: CID, options?: AbortOptions): Promise<Uint8Array>;
  /** The gossip topic's validator: what a gossiped block or message must pass to spread. */
  setGossipValidator(kind: GossipKind, validator: GossipValidator): void;
  /** Open connections, for the chain exchange client (it never dials). */
  readonly connections: ProtocolConnections;
  addEventListener(
    type: "sync-target",
    listener: (event: NetworkEvents["sync-target"]) => void,
  ): void;
  removeEventListener(
    type: "sync-target",
    listener: (event: NetworkEvents["sync-target"]) => void,
  ): void;
}
