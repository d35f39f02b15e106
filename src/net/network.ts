/**
 * The Network system: the libp2p host, Hello, bootstrapping and discovery, and the peer manager
 * (slots, reputation, bans, the peer book), as the spec's "Filecoin Network" chapter asks. It
 * also answers the control API's `NetApi`.
 *
 * Events (typed in `NetworkEvents`): `sync-target` when a peer advertises a heavier head,
 * `peer:greeted` when a peer's hello matched. Reputation feeds on what hello and (later) the
 * chain protocols report; a peer below the disconnect threshold is dropped (unless that would take
 * us below the peer floor), one below the ban threshold or breaking a MUST rule is banned, with
 * escalation from peer ID to IP+port to IP.
 */
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, ConnectionGater, PeerId as Libp2pPeerId } from "@libp2p/interface";
import type { AbortOptions, Startable } from "../abort.ts";
import type {
  AddrInfo,
  BanEntry,
  BanOptions as ApiBanOptions,
  BanTarget as ApiBanTarget,
  ExtendedPeerInfo,
  GossipStatsResult,
  NetApi,
  PeerDetail,
  PeerScore,
  PubsubScore,
} from "../api/net_api.ts";
import type { ChainView } from "../chain/chain_view.ts";
import type { Clock } from "../clock/clock.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";
import { UserError } from "../errors.ts";
import { TypedEventTarget } from "../events.ts";
import { HelloService } from "../protocols/hello.ts";
import type { HelloMessage } from "../protocols/hello_message.ts";
import type { Config } from "../repo/config.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import type { KeyStore } from "../repo/keystore.ts";
import { type Ban, BanList } from "./ban_list.ts";
import { libp2pIdentity } from "./identity.ts";
import { ipldBlockstore } from "./ipld_blockstore.ts";
import { createHost, type Host } from "./libp2p_host.ts";
import { type GossipKind, GossipTopics } from "./gossip.ts";
import { PeerBook } from "./peer_book.ts";
import { PeerSlots, type SlotPeer } from "./peer_slots.ts";
import { Reputation, type ReputationEventKind } from "./reputation.ts";

/** The spec: dial at most this many bootnodes at a time. */
export const MAX_BOOTNODE_DIALS = 10;
/** Remembered peers redialled at start, before any bootnode. */
const REMEMBERED_PEER_DIALS = 20;
/** How often the peer book and reputation are written to KV. */
const PERSIST_INTERVAL_MS = 30_000;
/** Dial timeout for one peer. */
const DIAL_TIMEOUT_MS = 10_000;
/** Dials of discovered peers in flight at once. */
const MAX_DISCOVERY_DIALS = 4;
/** Where the reputation snapshot is kept (the peer book owns `["peers"]`). */
const REPUTATION_KEY: Deno.KvKey = ["reputation"];

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

type Interval = ReturnType<typeof setInterval>;

interface Timers {
  prune?: Interval;
  discovery?: Interval;
  persist?: Interval;
}

export class Network extends TypedEventTarget<NetworkEvents> implements Startable, NetApi {
  readonly #deps: NetworkDeps;
  readonly #time: TimeSource;
  readonly #log: (line: string) => void;
  #host?: Host;
  #hello?: HelloService;
  #gossip?: GossipTopics;
  #bans?: BanList;
  #book?: PeerBook;
  #reputation?: Reputation;
  #slots?: PeerSlots;
  #timers: Timers = {};
  #bootnodes = new Set<string>();
  #dialing = new Set<string>();
  #stopController = new AbortController();
  #running = false;

  constructor(deps: NetworkDeps) {
    super();
    this.#deps = deps;
    this.#time = deps.timeSource ?? systemTime;
    this.#log = deps.log ?? (() => {});
  }

  /** The libp2p host, for protocols built on it (chain exchange, gossip). */
  get host(): Host {
    if (!this.#host) throw new Error("the network is not running");
    return this.#host;
  }

  get hello(): HelloService {
    if (!this.#hello) throw new Error("the network is not running");
    return this.#hello;
  }

  /** The Filecoin gossip topics; the chain system sets their validators. */
  get gossip(): GossipTopics {
    if (!this.#gossip) throw new Error("the network is not running");
    return this.#gossip;
  }

  get reputation(): Reputation {
    if (!this.#reputation) throw new Error("the network is not running");
    return this.#reputation;
  }

  /**
   * Connected peers whose hello matched ours, best reputation first: whom Filecoin protocols
   * (chain exchange) may ask.
   */
  greetedPeers(): string[] {
    return this.#connectedPeers()
      .filter((p) => this.#hello?.isGreeted(p.peerId))
      .sort((a, b) => b.score - a.score)
      .map((p) => p.peerId);
  }

  /** Report something a peer did, good or bad: the one door to its reputation. */
  report(peerId: string, event: ReputationEventKind): void {
    this.#reputation?.record(peerId, event);
  }

  async start(options: AbortOptions = {}): Promise<void> {
    const { config, kv, keystore, ipld, chain, clock } = this.#deps;
    this.#stopController = new AbortController();
    const net = config.Network;
    this.#bans = await BanList.load(kv, {
      time: this.#time,
      allowlist: [...net.BanAllowlist],
      ...options,
    });
    this.#book = await PeerBook.load(kv, { time: this.#time, ...options });
    this.#reputation = new Reputation({ time: this.#time });
    const saved = await kv.get(REPUTATION_KEY);
    if (saved.value !== null) this.#reputation.restore(saved.value);
    this.#reputation.addEventListener("threshold", (evt) => void this.#onThreshold(evt.detail));
    this.#slots = new PeerSlots({ maxPeers: net.MaxPeers, minPeers: net.MinPeers });

    const signer = await keystore.ed25519Signer(undefined, options);
    this.#host = await createHost({
      privateKey: libp2pIdentity(signer),
      listen: [...net.ListenAddresses],
      network: chain.networkName,
      blockstore: ipldBlockstore(ipld),
      gater: this.#gater(),
      maxConnections: this.#connectionCap(),
      allowPrivateAddresses: net.AllowPrivateAddresses,
      onStreamFault: (fault) => {
        this.#log(`peer ${fault.peerId} sent bad ${fault.protocol} bytes: ${fault.error.message}`);
        this.report(fault.peerId, "malformed-message");
      },
    });
    const libp2p = this.#host.libp2p;
    spareFromInboundRateLimit(libp2p, (ip) => this.#bans?.sparedBy(ip) !== undefined);
    this.#hello = new HelloService({ libp2p, chain, clock });
    this.#hello.addEventListener("greeted", (evt) => this.#onGreeted(evt.detail));
    this.#hello.addEventListener("target", (evt) => {
      this.emit("sync-target", evt.detail);
    });
    this.#hello.addEventListener("genesis-mismatch", (evt) => {
      this.#log(`peer ${evt.detail.peerId} at ${evt.detail.remoteAddr} has a foreign genesis`);
      this.report(evt.detail.peerId, "genesis-mismatch");
    });
    this.#hello.addEventListener("unsupported", (evt) => {
      // Not a Filecoin peer: rank it below newcomers, so it cannot hold a slot an honest peer
      // wants (a flood of such connections would otherwise fill the slots for good).
      this.report(evt.detail.peerId, "useless-message");
    });
    this.#hello.addEventListener("misbehaved", (evt) => {
      this.report(
        evt.detail.peerId,
        evt.detail.kind === "timeout" ? "timeout" : "malformed-message",
      );
    });
    await this.#hello.start();
    this.#gossip = new GossipTopics(
      libp2p,
      chain.networkName,
      (peer) => this.report(peer, "invalid-message"),
    );
    this.#gossip.start();
    libp2p.addEventListener("connection:open", (evt) => this.#admit(evt.detail));
    libp2p.addEventListener("peer:discovery", (evt) => {
      void this.#dialDiscovered(evt.detail.id, evt.detail.multiaddrs);
    });
    this.#running = true;

    this.#timers.prune = setInterval(() => void this.#prune(), net.PruneInterval);
    this.#timers.discovery = setInterval(() => void this.#discover(), net.DiscoveryInterval);
    this.#timers.persist = setInterval(() => void this.#persist(), PERSIST_INTERVAL_MS);
    void this.#bootstrap();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopController.abort(new DOMException("network stopped", "AbortError"));
    for (const t of Object.values(this.#timers)) clearInterval(t);
    this.#timers = {};
    this.#gossip?.stop();
    await this.#hello?.stop();
    this.#rememberConnected();
    await this.#persist().catch((err) => this.#log(`saving peers failed: ${err.message}`));
    await this.#host?.stop();
    this.#host = undefined;
    this.#hello = undefined;
    this.#gossip = undefined;
  }

  // -- connections and slots ------------------------------------------------------------------

  #gater(): ConnectionGater {
    const banned = (who: { peerId?: string; addr?: Multiaddr }) => {
      const where = who.addr ? ipPort(who.addr) : {};
      return this.#bans?.isBanned({ peerId: who.peerId, ...where }) !== undefined;
    };
    return {
      denyDialPeer: (peerId) => banned({ peerId: peerId.toString() }),
      denyDialMultiaddr: (addr) => banned({ addr }),
      denyInboundConnection: (maConn) => banned({ addr: maConn.remoteAddr }),
      denyInboundEncryptedConnection: (peerId) => banned({ peerId: peerId.toString() }),
      // libp2p checks its connection limit when a socket is accepted, but up to 10 more
      // handshakes may be in flight by then, each of which would open (measured: 43 connections
      // with 35 allowed under a flood of dials). Checked again here, as the connection opens.
      denyInboundUpgradedConnection: () =>
        (this.#host?.libp2p.getConnections().length ?? 0) >= this.#connectionCap(),
      denyOutboundEncryptedConnection: (peerId) => banned({ peerId: peerId.toString() }),
    };
  }

  /** Room above the slots for newcomers that may replace a lower-ranked peer. */
  #connectionCap(): number {
    const max = this.#deps.config.Network.MaxPeers;
    return max + Math.max(5, Math.ceil(max * 0.1));
  }

  #connectedPeers(except?: string): SlotPeer[] {
    const out = new Map<string, SlotPeer>();
    for (const c of this.#host?.libp2p.getConnections() ?? []) {
      const id = c.remotePeer.toString();
      if (id === except || out.has(id)) continue;
      const standing = this.#reputation!.get(id);
      out.set(id, {
        peerId: id,
        // Bootnodes rank a little lower, so that the node diversifies away from them.
        score: standing.score - (this.#bootnodes.has(id) ? 1 : 0),
        direction: c.direction,
        mustViolation: standing.mustViolation,
      });
    }
    return [...out.values()];
  }

  #admit(connection: Connection): void {
    const id = connection.remotePeer.toString();
    const others = this.#connectedPeers(id);
    if (this.#host!.libp2p.getConnections(connection.remotePeer).length > 1) return; // dedupe's job
    const standing = this.#reputation!.get(id);
    const decision = this.#slots!.admit(
      {
        peerId: id,
        score: standing.score,
        direction: connection.direction,
        mustViolation: standing.mustViolation,
      },
      others,
    );
    // Refused and evicted connections are aborted, not closed: a graceful close waits on the
    // peer's streams, and meanwhile the connection still holds its place (a flood of dials
    // outran the closes, measured).
    if (!decision.accept) {
      connection.abort(new Error(decision.reason));
      return;
    }
    if ("evict" in decision && decision.evict) void this.#closePeer(decision.evict, true);
  }

  /** Hangs up on `peerId`; with `abort`, at once, without waiting on its streams. */
  async #closePeer(peerId: string, abort = false): Promise<void> {
    try {
      const id = peerIdFromString(peerId);
      if (abort) {
        const err = new Error("evicted for a higher-ranked peer");
        for (const c of this.#host?.libp2p.getConnections(id) ?? []) c.abort(err);
      } else await this.#host?.libp2p.hangUp(id);
    } catch {
      // Already gone.
    }
  }

  async #prune(): Promise<void> {
    if (!this.#running) return;
    const connected = this.#connectedPeers();
    const plan = this.#slots!.prunePlan(connected);
    // Rotating the lowest-ranked peers out is how better peers get in once the slots are full;
    // with outbound slots still free there is room already, and rotating only churns a small
    // network (measured: a 10-node devnet dropped about half its links on every prune).
    const crowded = connected.length >= this.#slots!.outboundLimit;
    for (const id of plan.drop) {
      if (crowded || plan.reasons.get(id) !== "low-rank") await this.#closePeer(id);
    }
    if (plan.fill > 0) await this.#dialRemembered(plan.fill);
    this.#bans!.prune().catch(() => {});
  }

  #onGreeted(detail: { peerId: string; hello: HelloMessage }): void {
    this.report(detail.peerId, "hello-ok");
    this.#remember(detail.peerId);
    this.emit("peer:greeted", detail);
  }

  #remember(peerId: string): void {
    const libp2p = this.#host?.libp2p;
    if (!libp2p) return;
    const addrs = libp2p.getConnections(peerIdFromString(peerId))
      .filter((c) => c.direction === "outbound")
      .map((c) => c.remoteAddr.toString());
    // Inbound connections come from ephemeral ports: redial what the peer listens on.
    libp2p.peerStore.get(peerIdFromString(peerId)).then((peer) => {
      const listen = peer.addresses.map((a) => a.multiaddr.toString());
      this.#book?.remember(peerId, {
        addrs: [...new Set([...addrs, ...listen])],
        score: this.#reputation!.score(peerId),
        lastSeen: this.#time.now(),
      });
    }).catch(() => {
      if (addrs.length) {
        this.#book?.remember(peerId, {
          addrs,
          score: this.#reputation!.score(peerId),
          lastSeen: this.#time.now(),
        });
      }
    });
  }

  #rememberConnected(): void {
    for (const p of this.#connectedPeers()) {
      if (this.#hello?.isGreeted(p.peerId)) this.#remember(p.peerId);
    }
  }

  async #persist(): Promise<void> {
    this.#rememberConnected();
    await this.#book?.flush();
    if (this.#reputation) await this.#deps.kv.set(REPUTATION_KEY, this.#reputation.snapshot());
  }

  async #onThreshold(
    detail: {
      peerId: string;
      score: number;
      crossed: "disconnect" | "ban";
      mustViolation: boolean;
    },
  ) {
    if (!this.#running) return;
    const libp2p = this.#host!.libp2p;
    const peer = peerIdFromString(detail.peerId);
    const conn = libp2p.getConnections(peer)[0];
    if (detail.crossed === "ban") {
      const where = conn ? ipPort(conn.remoteAddr) : {};
      const result = await this.#bans!.banOffender(
        { peerId: detail.peerId, ...where },
        detail.mustViolation ? "broke a protocol rule" : `reputation ${Math.round(detail.score)}`,
      );
      this.#log(
        `banned ${detail.peerId} (level ${result.level})${
          result.notice ? `: ${result.notice}` : ""
        }`,
      );
      await this.#closePeer(detail.peerId);
      return;
    }
    // Reputation alone never takes the node below its peer floor: a poor network beats none.
    if (this.#connectedPeers().length > this.#deps.config.Network.MinPeers) {
      await this.#closePeer(detail.peerId);
    }
  }

  // -- bootstrap and discovery ----------------------------------------------------------------

  async #bootstrap(): Promise<void> {
    // Remembered good peers first: they are what we knew worked.
    await this.#dialRemembered(REMEMBERED_PEER_DIALS);
    await this.#dialBootnodes(false);
    await this.#discover();
  }

  /** Dials up to MAX_BOOTNODE_DIALS bootnodes chosen at random (a retry: remembered peers too). */
  async #dialBootnodes(retry: boolean): Promise<void> {
    if (!this.#running) return;
    if (retry) await this.#dialRemembered(REMEMBERED_PEER_DIALS);
    const bootnodes = shuffle([...this.#deps.config.Network.Bootstrappers]).slice(
      0,
      MAX_BOOTNODE_DIALS,
    );
    await Promise.all(bootnodes.map(async (text) => {
      try {
        const addr = multiaddr(text);
        const id = addr.getPeerId();
        if (id) this.#bootnodes.add(id);
        if (id && this.#bans!.isBanned({ peerId: id })) return;
        this.#log(`${retry ? "redialing" : "dialing"} bootnode ${text}`);
        await this.#dial(addr);
      } catch (err) {
        this.#log(`bootnode ${text}: ${(err as Error).message}`);
      }
    }));
  }

  async #dialRemembered(count: number): Promise<void> {
    const connected = new Set(this.#connectedPeers().map((p) => p.peerId));
    const candidates = this.#book!.best(count * 2).filter((r) => !connected.has(r.peerId)).slice(
      0,
      count,
    );
    await Promise.all(candidates.map(async (record) => {
      const peer = peerIdFromString(record.peerId);
      this.#log(`dialing remembered peer ${record.peerId}`);
      await this.#host!.libp2p.peerStore.merge(peer, {
        multiaddrs: record.addrs.map((a) => multiaddr(a)),
      })
        .catch(() => {});
      await this.#dial(peer).catch(() => {});
    }));
  }

  /**
   * Random walks on the DHT while below the peer floor: each finds new peers to dial. With no
   * peer at all a walk has no one to ask, so the bootnodes (and remembered peers) are dialled
   * again instead, as Lotus' peer manager does: a bootnode that refused or was down at start
   * would otherwise leave the node alone for good.
   */
  async #discover(): Promise<void> {
    const connected = this.#connectedPeers().length;
    if (!this.#running || connected >= this.#deps.config.Network.MinPeers) return;
    if (connected === 0) {
      await this.#dialBootnodes(true);
      return;
    }
    const key = crypto.getRandomValues(new Uint8Array(32));
    const signal = AbortSignal.any([
      this.#stopController.signal,
      AbortSignal.timeout(DIAL_TIMEOUT_MS),
    ]);
    try {
      for await (const event of this.#host!.libp2p.services.dht.getClosestPeers(key, { signal })) {
        if (event.name === "FINAL_PEER") {
          void this.#dialDiscovered(event.peer.id, event.peer.multiaddrs);
        }
      }
    } catch {
      // A walk that finds nothing, or is cut short by stop, is not an error.
    }
  }

  async #dialDiscovered(id: Libp2pPeerId, addrs: Multiaddr[]): Promise<void> {
    const text = id.toString();
    if (!this.#running || this.#dialing.size >= MAX_DISCOVERY_DIALS || this.#dialing.has(text)) {
      return;
    }
    // Discovery fills the node up to its peer floor and no further: above it, slots fill from
    // inbound peers and the prune timer's small refill, so a small network does not end up fully
    // meshed (measured: a 20-node devnet had every node dial every other, 19 links each, when
    // discovery dialled up to the outbound limit).
    const connected = this.#connectedPeers();
    const wanted = Math.min(this.#deps.config.Network.MinPeers, this.#slots!.outboundLimit);
    if (
      connected.length + this.#dialing.size >= wanted || connected.some((p) => p.peerId === text)
    ) return;
    if (id.equals(this.#host!.peerId) || this.#bans!.isBanned({ peerId: text })) return;
    this.#dialing.add(text);
    try {
      if (addrs.length) {
        await this.#host!.libp2p.peerStore.merge(id, { multiaddrs: addrs }).catch(() => {});
      }
      await this.#dial(id);
    } catch {
      // Unreachable peers are common; discovery moves on.
    } finally {
      this.#dialing.delete(text);
    }
  }

  async #dial(target: Multiaddr | Libp2pPeerId): Promise<Connection> {
    const signal = AbortSignal.any([
      this.#stopController.signal,
      AbortSignal.timeout(DIAL_TIMEOUT_MS),
    ]);
    return await this.#host!.libp2p.dial(target, { signal });
  }

  // -- NetApi ---------------------------------------------------------------------------------

  id(): Promise<string> {
    return Promise.resolve(this.host.peerId.toString());
  }

  addrsListen(): Promise<AddrInfo> {
    const id = this.host.peerId.toString();
    return Promise.resolve({
      ID: id,
      Addrs: this.host.libp2p.getMultiaddrs().map((a) => a.decapsulateCode(421).toString()),
    });
  }

  peers(): Promise<AddrInfo[]> {
    const byPeer = new Map<string, string[]>();
    for (const c of this.host.libp2p.getConnections()) {
      const id = c.remotePeer.toString();
      byPeer.set(id, [...byPeer.get(id) ?? [], c.remoteAddr.decapsulateCode(421).toString()]);
    }
    return Promise.resolve([...byPeer].map(([ID, Addrs]) => ({ ID, Addrs })));
  }

  async peerInfo(peer: string): Promise<ExtendedPeerInfo> {
    const id = peerIdFromString(peer);
    const conns = this.host.libp2p.getConnections(id);
    if (conns.length === 0) throw new UserError(`not connected to ${peer}`);
    const stored = await this.host.libp2p.peerStore.get(id).catch(() => undefined);
    const agent = stored?.metadata.get("AgentVersion");
    return {
      ID: peer,
      Agent: agent ? new TextDecoder().decode(agent) : "",
      Addrs: (stored?.addresses ?? []).map((a) => a.multiaddr.toString()),
      Protocols: stored?.protocols ?? [],
      ConnMgrMeta: null,
    };
  }

  async connect(info: AddrInfo, options: AbortOptions = {}): Promise<void> {
    const id = peerIdFromString(info.ID);
    if (this.#bans!.isBanned({ peerId: info.ID })) throw new UserError(`peer ${info.ID} is banned`);
    if (info.Addrs.length) {
      await this.host.libp2p.peerStore.merge(id, {
        multiaddrs: info.Addrs.map((a) => multiaddr(a)),
      });
    }
    try {
      const signal = AbortSignal.any([
        this.#stopController.signal,
        AbortSignal.timeout(DIAL_TIMEOUT_MS),
        ...(options.signal ? [options.signal] : []),
      ]);
      await this.host.libp2p.dial(id, { signal });
    } catch (err) {
      // With a simultaneous dial the loser's dial fails while a connection stands: that's success.
      if (this.host.libp2p.getConnections(id).length > 0) return;
      throw new UserError(`cannot connect to ${info.ID}: ${(err as Error).message}`);
    }
  }

  async disconnect(peer: string): Promise<void> {
    const id = peerIdFromString(peer);
    if (this.host.libp2p.getConnections(id).length === 0) {
      throw new UserError(`not connected to ${peer}`);
    }
    await this.host.libp2p.hangUp(id);
  }

  pubsubScores(): Promise<PubsubScore[]> {
    // deno-lint-ignore no-explicit-any
    const gossip = this.host.libp2p.services.pubsub as any;
    const out: PubsubScore[] = [];
    for (const peer of gossip.getPeers?.() ?? []) {
      const id = peer.toString();
      out.push({
        ID: id,
        Score: {
          Score: gossip.getScore?.(id) ?? 0,
          Topics: {},
          AppSpecificScore: 0,
          IPColocationFactor: 0,
          BehaviourPenalty: 0,
        },
      });
    }
    return Promise.resolve(out);
  }

  async peersDetailed(): Promise<PeerDetail[]> {
    const out: PeerDetail[] = [];
    const seen = new Set<string>();
    for (const c of this.host.libp2p.getConnections()) {
      const id = c.remotePeer.toString();
      if (seen.has(id)) continue;
      seen.add(id);
      const stored = await this.host.libp2p.peerStore.get(c.remotePeer).catch(() => undefined);
      const agent = stored?.metadata.get("AgentVersion");
      out.push({
        ID: id,
        Addr: c.remoteAddr.decapsulateCode(421).toString(),
        Direction: c.direction,
        LatencyMs: this.#hello?.latencyOf(id) ?? null,
        Reputation: Math.round(this.reputation.score(id) * 100) / 100,
        Protocols: stored?.protocols ?? [],
        Agent: agent ? new TextDecoder().decode(agent) : "",
      });
    }
    return out;
  }

  scores(): Promise<PeerScore[]> {
    // deno-lint-ignore no-explicit-any
    const gossip = this.host.libp2p.services.pubsub as any;
    const connected = new Set(this.#connectedPeers().map((p) => p.peerId));
    const ids = new Set([...connected, ...this.reputation.ranked().map((s) => s.peerId)]);
    return Promise.resolve([...ids].map((id) => ({
      ID: id,
      Reputation: Math.round(this.reputation.score(id) * 100) / 100,
      GossipScore: typeof gossip.getScore === "function" && connected.has(id)
        ? gossip.getScore(id)
        : null,
      Connected: connected.has(id),
    })));
  }

  async ban(target: ApiBanTarget, options: ApiBanOptions = {}): Promise<BanEntry> {
    if (target.kind === "subnet") {
      throw new UserError("subnet bans are not supported; ban the IP or the peer");
    }
    const reason = options.reason ?? "manual";
    const result = target.kind === "peer"
      ? await this.#bans!.ban({ kind: "peer", peerId: target.value }, {
        reason,
        durationMs: options.durationMs,
      })
      : await this.#bans!.ban({ kind: "ip", ip: target.value }, {
        reason,
        durationMs: options.durationMs,
      });
    if (result.notice) this.#log(result.notice);
    // A ban closes what it covers at once.
    for (const c of this.host.libp2p.getConnections()) {
      const where = ipPort(c.remoteAddr);
      if (this.#bans!.isBanned({ peerId: c.remotePeer.toString(), ...where })) {
        await c.close().catch((err) => c.abort(err));
      }
    }
    return toBanEntry(result.ban);
  }

  async unban(target: ApiBanTarget): Promise<boolean> {
    return (await this.#bans!.unban(target.value)) !== undefined;
  }

  bans(): Promise<BanEntry[]> {
    return Promise.resolve(this.#bans!.list().map(toBanEntry));
  }

  gossipPublish(kind: GossipKind, data: Uint8Array): Promise<string> {
    return this.gossip.publish(kind, data);
  }

  gossipStats(): Promise<GossipStatsResult> {
    return Promise.resolve(this.gossip.stats);
  }
}

function toBanEntry(ban: Ban): BanEntry {
  return {
    Kind: ban.kind === "peer" ? "peer" : "ip",
    Target: ban.target,
    Expires: ban.expires === null ? null : new Date(ban.expires).toISOString(),
    Reason: ban.reason,
  };
}

/**
 * libp2p 2.10 refuses a sixth inbound connection per second from one IP (its
 * `inboundConnectionThreshold`) before any handshake. Every peer of a local devnet, and peers
 * behind one NAT, share an IP, so a devnet of ten nodes started together loses some of them at
 * the bootnode (measured). go-libp2p's resource manager exempts loopback from its per-IP limit;
 * we spare what the ban list spares (loopback and `Network.BanAllowlist`). The global cap on
 * pending inbound handshakes and `maxConnections` still apply to them.
 *
 * The limiter is a private field of the connection manager: guarded, so an upgrade that moves
 * it only loses the exemption (and the e2e network test notices).
 */
function spareFromInboundRateLimit(
  libp2p: object,
  spared: (ip: string) => boolean,
): void {
  // deno-lint-ignore no-explicit-any
  const limiter = (libp2p as any).components?.connectionManager?.inboundConnectionRateLimiter;
  if (typeof limiter?.consume !== "function") return;
  const consume = limiter.consume.bind(limiter);
  limiter.consume = (key: string, points?: number, options?: unknown) =>
    spared(key)
      ? Promise.resolve({ remainingPoints: 1, msBeforeNext: 0, consumedPoints: 0 })
      : consume(key, points, options);
}

/** IP and TCP port of a multiaddr, when it has them. */
function ipPort(addr: Multiaddr): { ip?: string; port?: number } {
  try {
    const o = addr.toOptions();
    return { ip: o.host, port: o.port };
  } catch {
    return {};
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
