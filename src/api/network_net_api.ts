/**
 * The control API's `NetApi` over the libp2p network system: it turns what the network knows
 * (connections, identify records, reputation, bans, gossip) into Lotus's JSON shapes. The network
 * is seen through {@link NetApiNetwork}, the few methods this adapter calls, so the network system
 * knows nothing of the API above it.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import type { Ban, BanOptions as BanListOptions } from "../net/ban_list.ts";
import type { GossipStats } from "../net/gossip.ts";
import type { NetConnection, PeerDescription } from "../net/network.ts";
import type {
  AddrInfo,
  BanEntry,
  BanOptions,
  BanTarget,
  ExtendedPeerInfo,
  GossipKind,
  GossipStatsResult,
  NetApi,
  PeerDetail,
  PeerScore,
  PubsubScore,
} from "./net_api.ts";

/** The network as the control API's net methods see it. */
export interface NetApiNetwork {
  readonly peerId: string;
  listenAddrs(): string[];
  openConnections(): NetConnection[];
  describePeer(peerId: string): Promise<PeerDescription | undefined>;
  connect(peerId: string, addrs: readonly string[], options?: AbortOptions): Promise<void>;
  disconnect(peerId: string): Promise<void>;
  latencyOf(peerId: string): number | undefined;
  reputationOf(peerId: string): number;
  knownPeers(): string[];
  gossipScores(): Map<string, number>;
  gossipScoreOf(peerId: string): number | null;
  ban(target: BanTarget, options: BanListOptions): Promise<Ban>;
  unban(target: BanTarget, options?: AbortOptions): Promise<Ban | undefined>;
  listBans(): Ban[];
  gossipPublish(kind: GossipKind, data: Uint8Array): Promise<string>;
  gossipStats(): GossipStats;
}

/** `NetApi` answered by a running network. */
export class NetworkNetApi implements NetApi {
  readonly #net: NetApiNetwork;

  constructor(net: NetApiNetwork) {
    this.#net = net;
  }

  id(): Promise<string> {
    return Promise.resolve(this.#net.peerId);
  }

  addrsListen(): Promise<AddrInfo> {
    return Promise.resolve({ ID: this.#net.peerId, Addrs: this.#net.listenAddrs() });
  }

  peers(): Promise<AddrInfo[]> {
    const byPeer = new Map<string, string[]>();
    for (const c of this.#net.openConnections()) {
      byPeer.set(c.peerId, [...byPeer.get(c.peerId) ?? [], c.remoteAddr]);
    }
    return Promise.resolve([...byPeer].map(([ID, Addrs]) => ({ ID, Addrs })));
  }

  async peerInfo(peer: string): Promise<ExtendedPeerInfo> {
    if (!this.#net.openConnections().some((c) => c.peerId === peer)) {
      throw new UserError(`not connected to ${peer}`);
    }
    const described = await this.#net.describePeer(peer);
    return {
      ID: peer,
      Agent: described?.agent ?? "",
      Addrs: described?.addrs ?? [],
      Protocols: described?.protocols ?? [],
      ConnMgrMeta: null,
    };
  }

  connect(info: AddrInfo, options: AbortOptions = {}): Promise<void> {
    return this.#net.connect(info.ID, info.Addrs, options);
  }

  disconnect(peer: string): Promise<void> {
    return this.#net.disconnect(peer);
  }

  pubsubScores(): Promise<PubsubScore[]> {
    return Promise.resolve([...this.#net.gossipScores()].map(([ID, score]) => ({
      ID,
      Score: {
        Score: score,
        Topics: {},
        AppSpecificScore: 0,
        IPColocationFactor: 0,
        BehaviourPenalty: 0,
      },
    })));
  }

  async peersDetailed(): Promise<PeerDetail[]> {
    const out: PeerDetail[] = [];
    const seen = new Set<string>();
    for (const c of this.#net.openConnections()) {
      if (seen.has(c.peerId)) continue;
      seen.add(c.peerId);
      const described = await this.#net.describePeer(c.peerId);
      out.push({
        ID: c.peerId,
        Addr: c.remoteAddr,
        Direction: c.direction,
        LatencyMs: this.#net.latencyOf(c.peerId) ?? null,
        Reputation: round2(this.#net.reputationOf(c.peerId)),
        Protocols: described?.protocols ?? [],
        Agent: described?.agent ?? "",
      });
    }
    return out;
  }

  scores(): Promise<PeerScore[]> {
    const connected = new Set(this.#net.openConnections().map((c) => c.peerId));
    const ids = new Set([...connected, ...this.#net.knownPeers()]);
    return Promise.resolve([...ids].map((id) => ({
      ID: id,
      Reputation: round2(this.#net.reputationOf(id)),
      GossipScore: connected.has(id) ? this.#net.gossipScoreOf(id) : null,
      Connected: connected.has(id),
    })));
  }

  async ban(target: BanTarget, options: BanOptions = {}): Promise<BanEntry> {
    const ban = await this.#net.ban(target, {
      reason: options.reason ?? "manual",
      durationMs: options.durationMs,
    });
    return toBanEntry(ban);
  }

  async unban(target: BanTarget): Promise<boolean> {
    return (await this.#net.unban(target)) !== undefined;
  }

  bans(): Promise<BanEntry[]> {
    return Promise.resolve(this.#net.listBans().map(toBanEntry));
  }

  gossipPublish(kind: GossipKind, data: Uint8Array): Promise<string> {
    return this.#net.gossipPublish(kind, data);
  }

  gossipStats(): Promise<GossipStatsResult> {
    return Promise.resolve(this.#net.gossipStats());
  }
}

function toBanEntry(ban: Ban): BanEntry {
  return {
    Kind: ban.kind,
    Target: ban.target,
    Expires: ban.expires === null ? null : new Date(ban.expires).toISOString(),
    Reason: ban.reason,
  };
}

function round2(score: number): number {
  return Math.round(score * 100) / 100;
}
