/**
 * The Network system, as the spec's "Filecoin Network" chapter asks: it assembles the libp2p host
 * and runs Hello (first on every connection), the gossip topics, the peer manager
 * (`peer_manager.ts`: slots, reputation, bans, peer book) and discovery (`discovery.ts`:
 * bootnodes, remembered peers, DHT walks).
 *
 * Systems above it see it through slices of their own (`sync/sync_network.ts`, the control API's
 * `NetApiNetwork`), which this class satisfies: it does not know its consumers.
 *
 * Events (typed in `NetworkEvents`): `sync-target` when a peer advertises a heavier head,
 * `peer:greeted` when a peer's hello matched.
 *
 * @module
 */
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import type { IncomingStreamData } from "@libp2p/interface";
import type { CID } from "multiformats/cid";
import type { AbortOptions, Startable } from "../abort.ts";
import type { ChainView } from "../chain/chain_view.ts";
import type { Clock } from "../clock/clock.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";
import { UserError } from "../errors.ts";
import { TypedEventTarget } from "../events.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import { HelloService } from "../protocols/hello.ts";
import type { HelloMessage } from "../protocols/hello_message.ts";
import type { Config } from "../repo/config.ts";
import type { KeyStore } from "../repo/keystore.ts";
import type { Ban, BanOptions } from "./ban_list.ts";
import type { BanTarget } from "./ban_target.ts";
import { Discovery } from "./discovery.ts";
import { type GossipKind, type GossipStats, GossipTopics, type GossipValidator } from "./gossip.ts";
import { libp2pIdentity } from "./identity.ts";
import { spareFromInboundRateLimit } from "./inbound_rate_limit.ts";
import { ipldBlockstore } from "./ipld_blockstore.ts";
import { createHost, type Host, type Libp2pNode } from "./libp2p_host.ts";
import { PeerManager } from "./peer_manager.ts";
import type { ReputationEventKind } from "./reputation.ts";

export const FILNODE_AGENT = "filnode/0.1.0";

export type NetworkEvents = {
  "sync-target": CustomEvent<{ peerId: string; hello: HelloMessage }>;
  "peer:greeted": CustomEvent<{ peerId: string; hello: HelloMessage }>;
};

/** What the network needs from the node: a narrow slice, not the whole node. */
export interface NetworkDeps {
  config: Config;
  keystore: KeyStore;
  kv: Deno.Kv;
  ipld: IpldStore;
  chain: ChainView;
  clock: Clock;
  timeSource?: TimeSource;
  log?: (line: string) => void;
}

/** One open connection, as the operator sees it. */
export interface NetConnection {
  readonly peerId: string;
  /** The remote multiaddr without its `/p2p` part. */
  readonly remoteAddr: string;
  readonly direction: "inbound" | "outbound";
}

/** What identify told us of a peer. */
export interface PeerDescription {
  readonly agent: string;
  readonly addrs: string[];
  readonly protocols: string[];
}

/** A stream handler for a Filecoin protocol. */
export type ProtocolHandler = (data: IncomingStreamData) => void | Promise<void>;

const P2P_CODE = 421;

export class Network extends TypedEventTarget<NetworkEvents> implements Startable {
  readonly #deps: NetworkDeps;
  readonly #log: (line: string) => void;
  readonly #peers: PeerManager;
  #host?: Host;
  #hello?: HelloService;
  #gossip?: GossipTopics;
  #discovery?: Discovery;
  #running = false;

  constructor(deps: NetworkDeps) {
    super();
    this.#deps = deps;
    this.#log = deps.log ?? (() => {});
    const net = deps.config.Network;
    this.#peers = new PeerManager({
      kv: deps.kv,
      config: net,
      time: deps.timeSource ?? systemTime,
      log: this.#log,
    });
  }

  /** The libp2p host, for the net layer and benches (systems above use their slices). */
  get host(): Host {
    if (!this.#host) throw new Error("the network is not running");
    return this.#host;
  }

  get hello(): HelloService {
    if (!this.#hello) throw new Error("the network is not running");
    return this.#hello;
  }

  /** The Filecoin gossip topics. */
  get gossip(): GossipTopics {
    if (!this.#gossip) throw new Error("the network is not running");
    return this.#gossip;
  }

  get peerId(): string {
    return this.host.peerId.toString();
  }

  /** The host's open connections (what the chain exchange client asks over). */
  get connections(): Pick<Libp2pNode, "getConnections"> {
    return this.host.libp2p;
  }

  async start(options: AbortOptions = {}): Promise<void> {
    const { config, keystore, ipld, chain, clock } = this.#deps;
    const net = config.Network;
    const peers = this.#peers;
    await peers.start(options);

    const signer = await keystore.ed25519Signer(undefined, options);
    this.#host = await createHost({
      privateKey: libp2pIdentity(signer),
      listen: [...net.ListenAddresses],
      network: chain.networkName,
      blockstore: ipldBlockstore(ipld),
      gater: peers.gater(),
      maxConnections: peers.connectionCap(),
      allowPrivateAddresses: net.AllowPrivateAddresses,
      onStreamFault: (fault) => {
        this.#log(`peer ${fault.peerId} sent bad ${fault.protocol} bytes: ${fault.error.message}`);
        this.report(fault.peerId, "malformed-message");
      },
      // An error escaping a protocol handler is the peer's input gone wrong: the daemon keeps
      // serving, the peer pays for it, and the count shows how often it happened.
      onHandlerFault: (fault) => {
        this.#log(
          `peer ${fault.peerId}: ${fault.protocol} handler failed (#${fault.count}, kept running): ${fault.error.message}`,
        );
        this.report(fault.peerId, "malformed-message");
      },
    });
    const libp2p = this.#host.libp2p;
    spareFromInboundRateLimit(libp2p, (ip) => peers.bans.sparedBy(ip) !== undefined);

    const hello = new HelloService({ libp2p, chain, clock });
    hello.addEventListener("greeted", (evt) => {
      peers.greeted(evt.detail.peerId);
      this.emit("peer:greeted", evt.detail);
    });
    hello.addEventListener("target", (evt) => this.emit("sync-target", evt.detail));
    hello.addEventListener("genesis-mismatch", (evt) => {
      this.#log(`peer ${evt.detail.peerId} at ${evt.detail.remoteAddr} has a foreign genesis`);
      this.report(evt.detail.peerId, "genesis-mismatch");
    });
    hello.addEventListener("unsupported", (evt) => {
      // Not a Filecoin peer: rank it below newcomers, so it cannot hold a slot an honest peer
      // wants (a flood of such connections would otherwise fill the slots for good).
      this.report(evt.detail.peerId, "useless-message");
    });
    hello.addEventListener("misbehaved", (evt) => {
      this.report(
        evt.detail.peerId,
        evt.detail.kind === "timeout" ? "timeout" : "malformed-message",
      );
    });
    await hello.start(options);
    this.#hello = hello;

    this.#gossip = new GossipTopics(
      libp2p,
      chain.networkName,
      (peer) => this.report(peer, "invalid-message"),
    );
    await this.#gossip.start(options);

    const discovery = new Discovery({ libp2p, peers, config: net, log: this.#log });
    this.#discovery = discovery;
    peers.bind({
      libp2p,
      isGreeted: (peerId) => hello.isGreeted(peerId),
      refill: (count) => discovery.dialRemembered(count),
    });
    this.#running = true;
    await discovery.start(options);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#discovery?.stop();
    await this.#gossip?.stop();
    await this.#hello?.stop();
    await this.#peers.stop();
    await this.#host?.stop();
    this.#host = undefined;
    this.#hello = undefined;
    this.#gossip = undefined;
    this.#discovery = undefined;
  }

  // -- what systems above call (their slices) --------------------------------------------------

  /**
   * Connected peers whose hello matched ours, best reputation first: whom Filecoin protocols
   * (chain exchange) may ask.
   */
  greetedPeers(): string[] {
    return this.#peers.greetedPeers();
  }

  /** Report something a peer did, good or bad: the one door to its reputation. */
  report(peerId: string, event: ReputationEventKind): void {
    this.#peers.report(peerId, event);
  }

  /** Serves `protocol` to peers whose hello matched; others' streams are refused (hello first). */
  async handleGreeted(protocol: string, handler: ProtocolHandler): Promise<void> {
    await this.host.libp2p.handle(protocol, this.hello.gated(handler));
  }

  async unhandle(protocol: string): Promise<void> {
    await this.#host?.libp2p.unhandle(protocol).catch(() => {});
  }

  /** A block by CID from connected peers (bitswap), checked against its CID. */
  want(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    return this.host.bitswap.want(cid, options);
  }

  setGossipValidator(kind: GossipKind, validator: GossipValidator): void {
    this.gossip.setValidator(kind, validator);
  }

  // -- what the operator reads and does (the control API's slice) ------------------------------

  /** The multiaddrs the host listens on, without `/p2p`. */
  listenAddrs(): string[] {
    return this.host.libp2p.getMultiaddrs().map((a) => a.decapsulateCode(P2P_CODE).toString());
  }

  openConnections(): NetConnection[] {
    return this.host.libp2p.getConnections().map((c) => ({
      peerId: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr.decapsulateCode(P2P_CODE).toString(),
      direction: c.direction,
    }));
  }

  /** What identify told us of `peerId`, if anything. */
  async describePeer(peerId: string): Promise<PeerDescription | undefined> {
    const stored = await this.host.libp2p.peerStore.get(peerIdFromString(peerId))
      .catch(() => undefined);
    if (!stored) return undefined;
    const agent = stored.metadata.get("AgentVersion");
    return {
      agent: agent ? new TextDecoder().decode(agent) : "",
      addrs: stored.addresses.map((a) => a.multiaddr.toString()),
      protocols: stored.protocols,
    };
  }

  /** Dials `peerId` (at `addrs`, or what the peer store knows); a `UserError` if it fails. */
  async connect(peerId: string, addrs: readonly string[], options: AbortOptions = {}) {
    const id = peerIdFromString(peerId);
    if (this.isBanned(peerId)) throw new UserError(`peer ${peerId} is banned`);
    if (addrs.length) {
      await this.host.libp2p.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) });
    }
    try {
      await this.#discovery!.dial(id, options);
    } catch (err) {
      // With a simultaneous dial the loser's dial fails while a connection stands: that's success.
      if (this.host.libp2p.getConnections(id).length > 0) return;
      throw new UserError(`cannot connect to ${peerId}: ${(err as Error).message}`);
    }
  }

  /** Closes every connection to `peerId`; a `UserError` if there is none. */
  async disconnect(peerId: string): Promise<void> {
    const id = peerIdFromString(peerId);
    if (this.host.libp2p.getConnections(id).length === 0) {
      throw new UserError(`not connected to ${peerId}`);
    }
    await this.host.libp2p.hangUp(id);
  }

  latencyOf(peerId: string): number | undefined {
    return this.#hello?.latencyOf(peerId);
  }

  reputationOf(peerId: string): number {
    return this.#peers.reputation.score(peerId);
  }

  /** Peers with a reputation record, best first. */
  knownPeers(): string[] {
    return this.#peers.reputation.ranked().map((s) => s.peerId);
  }

  /** gossipsub's score of each peer it knows (peers it has no score for are left out). */
  gossipScores(): Map<string, number> {
    // deno-lint-ignore no-explicit-any
    const pubsub = this.host.libp2p.services.pubsub as any;
    const out = new Map<string, number>();
    for (const peer of pubsub.getPeers?.() ?? []) {
      const id = peer.toString();
      out.set(id, pubsub.getScore?.(id) ?? 0);
    }
    return out;
  }

  /** gossipsub's score of a connected peer, or null if gossipsub keeps none. */
  gossipScoreOf(peerId: string): number | null {
    // deno-lint-ignore no-explicit-any
    const pubsub = this.host.libp2p.services.pubsub as any;
    return typeof pubsub.getScore === "function" ? pubsub.getScore(peerId) : null;
  }

  /** Bans `target` (replacing an earlier ban's end) and closes what the ban covers at once. */
  async ban(target: BanTarget, options: BanOptions): Promise<Ban> {
    const result = await this.#peers.bans.ban(target, options);
    if (result.notice) this.#log(result.notice);
    await this.#peers.closeBanned();
    return result.ban;
  }

  /** Lifts the ban on exactly `target`; the lifted ban, if there was one. */
  unban(target: BanTarget, options: AbortOptions = {}): Promise<Ban | undefined> {
    return this.#peers.bans.unban(target, options);
  }

  /** Bans in force. */
  listBans(): Ban[] {
    return this.#peers.bans.list();
  }

  /** Whether `peerId` is banned (by peer ID). */
  isBanned(peerId: string): boolean {
    return this.#peers.bans.isBanned({ peerId }) !== undefined;
  }

  gossipPublish(kind: GossipKind, data: Uint8Array): Promise<string> {
    return this.gossip.publish(kind, data);
  }

  gossipStats(): GossipStats {
    return this.gossip.stats;
  }
}
