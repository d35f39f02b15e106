/**
 * Discovery: how the node finds peers. At start it redials remembered good peers, then at most
 * {@link MAX_BOOTNODE_DIALS} bootnodes (the spec's limit), then walks the DHT; on a timer it walks
 * again while below the peer floor, and with no peer at all it dials the bootnodes again, as
 * Lotus's peer manager does: a bootnode that refused or was down at start would otherwise leave
 * the node alone for good. Peers found by walks (or libp2p's own `peer:discovery`) are dialled up
 * to the peer floor and no further.
 *
 * @module
 */
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, PeerDiscoveryEvents, PeerId as Libp2pPeerId } from "@libp2p/interface";
import type { AbortOptions, Startable } from "../abort.ts";
import type { Libp2pNode } from "./libp2p_host.ts";
import type { PeerManager } from "./peer_manager.ts";

/** The spec: dial at most this many bootnodes at a time. */
export const MAX_BOOTNODE_DIALS = 10;
/** Remembered peers redialled at start, before any bootnode. */
const REMEMBERED_PEER_DIALS = 20;
/** Dial timeout for one peer. */
export const DIAL_TIMEOUT_MS = 10_000;
/** Dials of discovered peers in flight at once. */
const MAX_DISCOVERY_DIALS = 4;

/** The `Network.*` config keys discovery reads. */
export interface DiscoveryConfig {
  readonly Bootstrappers: readonly string[];
  readonly MinPeers: number;
  readonly DiscoveryInterval: number;
}

export interface DiscoveryInit {
  readonly libp2p: Libp2pNode;
  readonly peers: PeerManager;
  readonly config: DiscoveryConfig;
  readonly log: (line: string) => void;
}

/** Bootstrap, remembered peers and DHT walks. `start()` / `stop()`. */
export class Discovery implements Startable {
  readonly #init: DiscoveryInit;
  #dialing = new Set<string>();
  #timer?: ReturnType<typeof setInterval>;
  #stopController = new AbortController();
  #running = false;

  constructor(init: DiscoveryInit) {
    this.#init = init;
  }

  /** Starts bootstrapping (in the background) and the discovery timer. */
  start(_options: AbortOptions = {}): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#running = true;
    this.#stopController = new AbortController();
    this.#init.libp2p.addEventListener("peer:discovery", this.#onPeerDiscovery);
    this.#timer = setInterval(() => void this.#discover(), this.#init.config.DiscoveryInterval);
    void this.#bootstrap();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    this.#running = false;
    this.#stopController.abort(new DOMException("network stopped", "AbortError"));
    clearInterval(this.#timer);
    this.#init.libp2p.removeEventListener("peer:discovery", this.#onPeerDiscovery);
    return Promise.resolve();
  }

  /** Dials up to `count` of the best remembered peers we are not connected to. */
  async dialRemembered(count: number): Promise<void> {
    const { libp2p, peers, log } = this.#init;
    const connected = new Set(peers.connectedPeers().map((p) => p.peerId));
    const candidates = peers.book.best(count * 2).filter((r) => !connected.has(r.peerId))
      .slice(0, count);
    await Promise.all(candidates.map(async (record) => {
      const peer = peerIdFromString(record.peerId);
      log(`dialing remembered peer ${record.peerId}`);
      await libp2p.peerStore.merge(peer, { multiaddrs: record.addrs.map((a) => multiaddr(a)) })
        .catch(() => {});
      await this.#dial(peer).catch(() => {});
    }));
  }

  /** A dial bounded by {@link DIAL_TIMEOUT_MS}, the caller's signal and `stop()`. */
  dial(target: Multiaddr | Libp2pPeerId, options: AbortOptions = {}): Promise<Connection> {
    return this.#dial(target, options);
  }

  #onPeerDiscovery = (evt: PeerDiscoveryEvents["peer"]): void => {
    void this.#dialDiscovered(evt.detail.id, evt.detail.multiaddrs);
  };

  async #bootstrap(): Promise<void> {
    // Remembered good peers first: they are what we knew worked.
    await this.dialRemembered(REMEMBERED_PEER_DIALS);
    await this.#dialBootnodes(false);
    await this.#discover();
  }

  /** Dials up to MAX_BOOTNODE_DIALS bootnodes chosen at random (a retry: remembered peers too). */
  async #dialBootnodes(retry: boolean): Promise<void> {
    if (!this.#running) return;
    const { peers, config, log } = this.#init;
    if (retry) await this.dialRemembered(REMEMBERED_PEER_DIALS);
    const bootnodes = shuffle([...config.Bootstrappers]).slice(0, MAX_BOOTNODE_DIALS);
    await Promise.all(bootnodes.map(async (text) => {
      try {
        const addr = multiaddr(text);
        const id = addr.getPeerId();
        if (id) peers.markBootnode(id);
        if (id && peers.bans.isBanned({ peerId: id })) return;
        log(`${retry ? "redialing" : "dialing"} bootnode ${text}`);
        await this.#dial(addr);
      } catch (err) {
        log(`bootnode ${text}: ${(err as Error).message}`);
      }
    }));
  }

  /**
   * Random walks on the DHT while below the peer floor: each finds new peers to dial. With no
   * peer at all a walk has no one to ask, so the bootnodes (and remembered peers) are dialled
   * again instead.
   */
  async #discover(): Promise<void> {
    const { libp2p, peers, config } = this.#init;
    const connected = peers.connectedPeers().length;
    if (!this.#running || connected >= config.MinPeers) return;
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
      for await (const event of libp2p.services.dht.getClosestPeers(key, { signal })) {
        if (event.name === "FINAL_PEER") {
          void this.#dialDiscovered(event.peer.id, event.peer.multiaddrs);
        }
      }
    } catch {
      // A walk that finds nothing, or is cut short by stop, is not an error.
    }
  }

  async #dialDiscovered(id: Libp2pPeerId, addrs: Multiaddr[]): Promise<void> {
    const { libp2p, peers, config } = this.#init;
    const text = id.toString();
    if (!this.#running || this.#dialing.size >= MAX_DISCOVERY_DIALS || this.#dialing.has(text)) {
      return;
    }
    // Discovery fills the node up to its peer floor and no further: above it, slots fill from
    // inbound peers and the prune timer's small refill, so a small network does not end up fully
    // meshed (measured: a 20-node devnet had every node dial every other, 19 links each, when
    // discovery dialled up to the outbound limit).
    const connected = peers.connectedPeers();
    const wanted = Math.min(config.MinPeers, peers.outboundLimit);
    if (
      connected.length + this.#dialing.size >= wanted || connected.some((p) => p.peerId === text)
    ) return;
    if (id.equals(libp2p.peerId) || peers.bans.isBanned({ peerId: text })) return;
    this.#dialing.add(text);
    try {
      if (addrs.length) await libp2p.peerStore.merge(id, { multiaddrs: addrs }).catch(() => {});
      await this.#dial(id);
    } catch {
      // Unreachable peers are common; discovery moves on.
    } finally {
      this.#dialing.delete(text);
    }
  }

  async #dial(target: Multiaddr | Libp2pPeerId, options: AbortOptions = {}): Promise<Connection> {
    const signal = AbortSignal.any([
      this.#stopController.signal,
      AbortSignal.timeout(DIAL_TIMEOUT_MS),
      ...(options.signal ? [options.signal] : []),
    ]);
    return await this.#init.libp2p.dial(target, { signal });
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
