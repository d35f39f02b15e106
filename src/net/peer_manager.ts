/**
 * The peer manager: who holds a slot, how peers rank, and what happens to those who misbehave.
 *
 * It owns the persistent peer state (ban list, peer book, reputation snapshot) and, once bound
 * to a libp2p host, admits each new connection into the slots (evicting a lower-ranked peer when
 * they are full), prunes and refills on a timer, and acts on reputation thresholds: a peer below
 * the disconnect threshold is dropped (unless that would take the node below its peer floor), one
 * below the ban threshold or breaking a MUST rule is banned through the ban list's escalation.
 * Reputation feeds on what hello, gossip and the chain protocols {@link PeerManager.report}.
 *
 * @module
 */
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, ConnectionGater } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { AbortOptions, Startable } from "../abort.ts";
import type { TimeSource } from "../clock/time_source.ts";
import { BanList } from "./ban_list.ts";
import type { Libp2pNode } from "./libp2p_host.ts";
import { PeerBook } from "./peer_book.ts";
import { PeerSlots, type SlotPeer } from "./peer_slots.ts";
import { Reputation, type ReputationEventKind } from "./reputation.ts";

/** How often the peer book and reputation are written to KV. */
const PERSIST_INTERVAL_MS = 30_000;
/** Where the reputation snapshot is kept (the peer book owns `["peers"]`). */
const REPUTATION_KEY: Deno.KvKey = ["reputation"];

/** The `Network.*` config keys the peer manager reads. */
export interface PeerManagerConfig {
  readonly MaxPeers: number;
  readonly MinPeers: number;
  readonly PruneInterval: number;
  readonly BanAllowlist: readonly string[];
}

export interface PeerManagerInit {
  readonly kv: Deno.Kv;
  readonly config: PeerManagerConfig;
  readonly time: TimeSource;
  readonly log: (line: string) => void;
}

/** What the manager needs of the host once it exists. */
export interface PeerManagerBinding {
  readonly libp2p: Libp2pNode;
  /** Whether the peer's hello matched ours (greeted peers are remembered). */
  readonly isGreeted: (peerId: string) => boolean;
  /** Refill slots from remembered peers (discovery's job; the prune timer asks for it). */
  readonly refill: (count: number) => Promise<void>;
}

/** Slots, reputation, bans and the peer book. `start()` loads them; `bind()` attaches a host. */
export class PeerManager implements Startable {
  readonly #init: PeerManagerInit;
  #bans?: BanList;
  #book?: PeerBook;
  #reputation?: Reputation;
  #slots: PeerSlots;
  #binding?: PeerManagerBinding;
  #bootnodes = new Set<string>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #running = false;

  constructor(init: PeerManagerInit) {
    this.#init = init;
    this.#slots = new PeerSlots({ maxPeers: init.config.MaxPeers, minPeers: init.config.MinPeers });
  }

  get bans(): BanList {
    if (!this.#bans) throw new Error("the peer manager is not running");
    return this.#bans;
  }
  get book(): PeerBook {
    if (!this.#book) throw new Error("the peer manager is not running");
    return this.#book;
  }
  get reputation(): Reputation {
    if (!this.#reputation) throw new Error("the peer manager is not running");
    return this.#reputation;
  }
  /** How many outbound slots there are (discovery dials no further). */
  get outboundLimit(): number {
    return this.#slots.outboundLimit;
  }

  /** Loads the ban list, the peer book and the reputation snapshot. */
  async start(options: AbortOptions = {}): Promise<void> {
    const { kv, config, time } = this.#init;
    this.#bans = await BanList.load(kv, {
      time,
      allowlist: [...config.BanAllowlist],
      ...options,
    });
    this.#book = await PeerBook.load(kv, { time, ...options });
    this.#reputation = new Reputation({ time });
    const saved = await kv.get(REPUTATION_KEY);
    if (saved.value !== null) this.#reputation.restore(saved.value);
    this.#reputation.addEventListener("threshold", (evt) => void this.#onThreshold(evt.detail));
    this.#running = true;
  }

  /** Attaches the host: admits its connections, prunes and persists on timers. */
  bind(binding: PeerManagerBinding): void {
    this.#binding = binding;
    binding.libp2p.addEventListener("connection:open", this.#onConnectionOpen);
    const { config } = this.#init;
    this.#timers.push(setInterval(() => void this.#prune(), config.PruneInterval));
    this.#timers.push(setInterval(() => void this.persist(), PERSIST_INTERVAL_MS));
  }

  /** Saves what it knows and detaches from the host; the host is stopped after this. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#binding?.libp2p.removeEventListener("connection:open", this.#onConnectionOpen);
    await this.persist().catch((err) => this.#init.log(`saving peers failed: ${err.message}`));
    this.#binding = undefined;
  }

  /** Marks a peer as a bootnode: it ranks a little lower, so the node diversifies away. */
  markBootnode(peerId: string): void {
    this.#bootnodes.add(peerId);
  }

  /** Report something a peer did, good or bad: the one door to its reputation. */
  report(peerId: string, event: ReputationEventKind): void {
    this.#reputation?.record(peerId, event);
  }

  /** A greeted peer: it earns the hello reward and is remembered for later starts. */
  greeted(peerId: string): void {
    this.report(peerId, "hello-ok");
    this.#remember(peerId);
  }

  /** Connected peers, one entry each, ranked by reputation (bootnodes a little lower). */
  connectedPeers(except?: string): SlotPeer[] {
    const out = new Map<string, SlotPeer>();
    for (const c of this.#binding?.libp2p.getConnections() ?? []) {
      const id = c.remotePeer.toString();
      if (id === except || out.has(id)) continue;
      const standing = this.reputation.get(id);
      out.set(id, {
        peerId: id,
        score: standing.score - (this.#bootnodes.has(id) ? 1 : 0),
        direction: c.direction,
        mustViolation: standing.mustViolation,
      });
    }
    return [...out.values()];
  }

  /**
   * Connected peers whose hello matched ours, best reputation first: whom Filecoin protocols
   * (chain exchange) may ask.
   */
  greetedPeers(): string[] {
    const binding = this.#binding;
    if (!binding) return [];
    return this.connectedPeers()
      .filter((p) => binding.isGreeted(p.peerId))
      .sort((a, b) => b.score - a.score)
      .map((p) => p.peerId);
  }

  /** Room above the slots for newcomers that may replace a lower-ranked peer. */
  connectionCap(): number {
    const max = this.#init.config.MaxPeers;
    return max + Math.max(5, Math.ceil(max * 0.1));
  }

  /** The gater the host is built with: bans refuse dials and connections; the cap holds. */
  gater(): ConnectionGater {
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
        (this.#binding?.libp2p.getConnections().length ?? 0) >= this.connectionCap(),
      denyOutboundEncryptedConnection: (peerId) => banned({ peerId: peerId.toString() }),
    };
  }

  /** Closes every connection a ban now covers (after a manual ban). */
  async closeBanned(): Promise<void> {
    for (const c of this.#binding?.libp2p.getConnections() ?? []) {
      const where = ipPort(c.remoteAddr);
      if (this.bans.isBanned({ peerId: c.remotePeer.toString(), ...where })) {
        await c.close().catch((err) => c.abort(err));
      }
    }
  }

  /** Hangs up on `peerId`; with `abort`, at once, without waiting on its streams. */
  async closePeer(peerId: string, abort = false): Promise<void> {
    const libp2p = this.#binding?.libp2p;
    if (!libp2p) return;
    try {
      const id = peerIdFromString(peerId);
      if (abort) {
        const err = new Error("evicted for a higher-ranked peer");
        for (const c of libp2p.getConnections(id)) c.abort(err);
      } else await libp2p.hangUp(id);
    } catch {
      // Already gone.
    }
  }

  /** Writes the peer book and the reputation snapshot (greeted peers remembered first). */
  async persist(): Promise<void> {
    this.#rememberConnected();
    await this.#book?.flush();
    if (this.#reputation) await this.#init.kv.set(REPUTATION_KEY, this.#reputation.snapshot());
  }

  #onConnectionOpen = (evt: CustomEvent<Connection>): void => this.#admit(evt.detail);

  #admit(connection: Connection): void {
    const libp2p = this.#binding?.libp2p;
    if (!libp2p) return;
    const id = connection.remotePeer.toString();
    const others = this.connectedPeers(id);
    if (libp2p.getConnections(connection.remotePeer).length > 1) return; // dedupe's job
    const standing = this.reputation.get(id);
    const decision = this.#slots.admit(
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
    if ("evict" in decision && decision.evict) void this.closePeer(decision.evict, true);
  }

  async #prune(): Promise<void> {
    if (!this.#running || !this.#binding) return;
    const connected = this.connectedPeers();
    const plan = this.#slots.prunePlan(connected);
    // Rotating the lowest-ranked peers out is how better peers get in once the slots are full;
    // with outbound slots still free there is room already, and rotating only churns a small
    // network (measured: a 10-node devnet dropped about half its links on every prune).
    const crowded = connected.length >= this.#slots.outboundLimit;
    for (const id of plan.drop) {
      if (crowded || plan.reasons.get(id) !== "low-rank") await this.closePeer(id);
    }
    if (plan.fill > 0) await this.#binding.refill(plan.fill);
    this.bans.prune().catch(() => {});
  }

  #remember(peerId: string): void {
    const libp2p = this.#binding?.libp2p;
    if (!libp2p) return;
    const addrs = libp2p.getConnections(peerIdFromString(peerId))
      .filter((c) => c.direction === "outbound")
      .map((c) => c.remoteAddr.toString());
    const remember = (all: string[]) =>
      this.#book?.remember(peerId, {
        addrs: all,
        score: this.reputation.score(peerId),
        lastSeen: this.#init.time.now(),
      });
    // Inbound connections come from ephemeral ports: redial what the peer listens on.
    libp2p.peerStore.get(peerIdFromString(peerId)).then((peer) => {
      const listen = peer.addresses.map((a) => a.multiaddr.toString());
      remember([...new Set([...addrs, ...listen])]);
    }).catch(() => {
      if (addrs.length) remember(addrs);
    });
  }

  #rememberConnected(): void {
    const binding = this.#binding;
    if (!binding) return;
    for (const p of this.connectedPeers()) {
      if (binding.isGreeted(p.peerId)) this.#remember(p.peerId);
    }
  }

  async #onThreshold(
    detail: {
      peerId: string;
      score: number;
      crossed: "disconnect" | "ban";
      mustViolation: boolean;
    },
  ): Promise<void> {
    const libp2p = this.#binding?.libp2p;
    if (!this.#running || !libp2p) return;
    const conn = libp2p.getConnections(peerIdFromString(detail.peerId))[0];
    if (detail.crossed === "ban") {
      const where = conn ? ipPort(conn.remoteAddr) : {};
      const result = await this.bans.banOffender(
        { peerId: detail.peerId, ...where },
        detail.mustViolation ? "broke a protocol rule" : `reputation ${Math.round(detail.score)}`,
      );
      this.#init.log(
        `banned ${detail.peerId} (level ${result.level})${
          result.notice ? `: ${result.notice}` : ""
        }`,
      );
      await this.closePeer(detail.peerId);
      return;
    }
    // Reputation alone never takes the node below its peer floor: a poor network beats none.
    if (this.connectedPeers().length > this.#init.config.MinPeers) {
      await this.closePeer(detail.peerId);
    }
  }
}

/** IP and TCP port of a multiaddr, when it has them. */
export function ipPort(addr: Multiaddr): { ip?: string; port?: number } {
  try {
    const o = addr.toOptions();
    return { ip: o.host, port: o.port };
  } catch {
    return {};
  }
}
