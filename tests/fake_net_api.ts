/**
 * An in-memory {@link NetApi} for tests of the API server, the client and the CLI: peers are
 * rows a test adds, "connecting" adds one, bans expire by a clock the test controls. It keeps
 * the contract's rules (banned peers cannot connect, a ban closes matching connections,
 * disconnecting an unknown peer is a UserError) so tests of callers see real behaviour.
 *
 * @example
 * ```ts
 * import { FakeNetApi, fakePeerId } from "./fake_net_api.ts";
 * const net = new FakeNetApi();
 * net.addPeer({ ID: fakePeerId(1), Addr: "/ip4/192.0.2.1/tcp/1347" });
 * console.log((await net.peers()).length); // 1
 * ```
 *
 * @module
 */
import { base58btc } from "multiformats/bases/base58";
import type { AbortOptions } from "../src/abort.ts";
import { UserError } from "../src/errors.ts";
import {
  type AddrInfo,
  type BanEntry,
  type BanOptions,
  type BanTarget,
  type ExtendedPeerInfo,
  type GossipKind,
  type GossipStatsResult,
  type NetApi,
  parseIp,
  type PeerDetail,
  type PeerId,
  type PeerScore,
  type PubsubScore,
} from "../src/api/net_api.ts";

/**
 * A valid Ed25519-style peer ID (`12D3KooW...`) made from `seed`: an identity multihash of a
 * protobuf-framed 32-byte "key" whose bytes are all derived from the seed.
 */
export function fakePeerId(seed: number): PeerId {
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = (seed * 31 + i * 7 + (seed >>> 8)) & 0xff;
  // identity multihash (0x00), length 36: protobuf { Type: Ed25519 (0x08 0x01), Data (0x12 0x20) }
  const bytes = new Uint8Array([0x00, 36, 0x08, 0x01, 0x12, 0x20, ...key]);
  return base58btc.baseEncode(bytes);
}

/** One recorded call, for tests that check what reached the network system. */
export interface FakeNetCall {
  method: keyof NetApi;
  args: unknown[];
}

/** Options for {@link FakeNetApi}. */
export interface FakeNetApiOptions {
  /** Own peer ID; `fakePeerId(0)` by default. */
  id?: PeerId;
  /** Listen addresses; one loopback TCP address by default. */
  listenAddrs?: string[];
  /** Milliseconds since the epoch; `Date.now` by default. Tests pass a settable clock. */
  now?: () => number;
}

interface StoredBan {
  target: BanTarget;
  expiresAt: number | null;
  reason: string;
}

/** In-memory NetApi: see the module doc. */
export class FakeNetApi implements NetApi {
  readonly calls: FakeNetCall[] = [];
  /** Thrown by the next call of any method (then cleared), to test error paths. */
  failNext?: Error;
  readonly #id: PeerId;
  readonly #listenAddrs: string[];
  readonly #now: () => number;
  readonly #peers = new Map<PeerId, PeerDetail>();
  readonly #bans = new Map<string, StoredBan>();
  readonly #gossip = new Map<PeerId, number>();

  constructor(options: FakeNetApiOptions = {}) {
    this.#id = options.id ?? fakePeerId(0);
    this.#listenAddrs = options.listenAddrs ?? ["/ip4/127.0.0.1/tcp/40001"];
    this.#now = options.now ?? Date.now;
  }

  /** Adds a connected peer; fields not given get plain defaults (inbound, reputation 0). */
  addPeer(peer: Partial<PeerDetail> & { ID: PeerId }): PeerDetail {
    const detail: PeerDetail = {
      Addr: "/ip4/192.0.2.1/tcp/1347",
      Direction: "inbound",
      LatencyMs: null,
      Reputation: 0,
      Protocols: ["/fil/hello/1.0.0"],
      Agent: "lotus-1.28.0",
      ...peer,
    };
    this.#peers.set(detail.ID, detail);
    return detail;
  }

  /** Sets a peer's gossipsub score (shown by `pubsubScores` and `scores`). */
  setGossipScore(peer: PeerId, score: number): void {
    this.#gossip.set(peer, score);
  }

  id(options?: AbortOptions): Promise<PeerId> {
    return this.#run("id", [], options, () => this.#id);
  }

  addrsListen(options?: AbortOptions): Promise<AddrInfo> {
    return this.#run("addrsListen", [], options, () => ({
      ID: this.#id,
      Addrs: [...this.#listenAddrs],
    }));
  }

  peers(options?: AbortOptions): Promise<AddrInfo[]> {
    return this.#run(
      "peers",
      [],
      options,
      () => [...this.#peers.values()].map((p) => ({ ID: p.ID, Addrs: [p.Addr] })),
    );
  }

  peerInfo(peer: PeerId, options?: AbortOptions): Promise<ExtendedPeerInfo> {
    return this.#run("peerInfo", [peer], options, () => {
      const p = this.#connected(peer);
      return {
        ID: p.ID,
        Agent: p.Agent,
        Addrs: [p.Addr],
        Protocols: p.Protocols,
        ConnMgrMeta: null,
      };
    });
  }

  connect(info: AddrInfo, options?: AbortOptions): Promise<void> {
    return this.#run("connect", [info], options, () => {
      const addr = info.Addrs[0];
      if (this.#bannedBy(info.ID, addr)) throw new UserError(`peer ${info.ID} is banned`);
      if (info.ID === this.#id) throw new UserError("cannot connect to self");
      if (this.#peers.has(info.ID)) return;
      if (addr === undefined) throw new UserError(`no known address for peer ${info.ID}`);
      this.addPeer({ ID: info.ID, Addr: addr, Direction: "outbound" });
    });
  }

  disconnect(peer: PeerId, options?: AbortOptions): Promise<void> {
    return this.#run("disconnect", [peer], options, () => {
      this.#connected(peer);
      this.#peers.delete(peer);
    });
  }

  pubsubScores(options?: AbortOptions): Promise<PubsubScore[]> {
    return this.#run("pubsubScores", [], options, () =>
      [...this.#gossip].map(([ID, score]) => ({
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

  peersDetailed(options?: AbortOptions): Promise<PeerDetail[]> {
    return this.#run(
      "peersDetailed",
      [],
      options,
      () => [...this.#peers.values()].map((p) => ({ ...p, Protocols: [...p.Protocols] })),
    );
  }

  scores(options?: AbortOptions): Promise<PeerScore[]> {
    return this.#run("scores", [], options, () =>
      [...this.#peers.values()].map((p) => ({
        ID: p.ID,
        Reputation: p.Reputation,
        GossipScore: this.#gossip.get(p.ID) ?? null,
        Connected: true,
      })));
  }

  ban(target: BanTarget, options: BanOptions = {}): Promise<BanEntry> {
    return this.#run("ban", [target, options.durationMs ?? null], options, () => {
      const duration = options.durationMs ?? null;
      const stored: StoredBan = {
        target,
        expiresAt: duration === null ? null : this.#now() + duration,
        reason: options.reason ?? "manual",
      };
      this.#bans.set(banKey(target), stored);
      // A ban closes the connections it matches, as the real gater does.
      for (const p of [...this.#peers.values()]) {
        if (this.#bannedBy(p.ID, p.Addr)) this.#peers.delete(p.ID);
      }
      return toEntry(stored);
    });
  }

  unban(target: BanTarget, options?: AbortOptions): Promise<boolean> {
    return this.#run("unban", [target], options, () => {
      this.#expire();
      return this.#bans.delete(banKey(target));
    });
  }

  bans(options?: AbortOptions): Promise<BanEntry[]> {
    return this.#run("bans", [], options, () => {
      this.#expire();
      return [...this.#bans.values()].map(toEntry);
    });
  }

  /** Published payloads, in order. */
  readonly published: { kind: GossipKind; data: Uint8Array }[] = [];

  gossipPublish(kind: GossipKind, data: Uint8Array, options?: AbortOptions): Promise<string> {
    return this.#run("gossipPublish", [kind, data], options, () => {
      this.published.push({ kind, data });
      return String(this.published.length).padStart(64, "0");
    });
  }

  gossipStats(options?: AbortOptions): Promise<GossipStatsResult> {
    return this.#run("gossipStats", [], options, () => ({
      received: { blocks: 0, msgs: 0 },
      rejected: { blocks: 0, msgs: 0 },
      recent: [],
    }));
  }

  /** Records the call, honours `failNext` and the signal, then runs `fn`. */
  #run<T>(
    method: keyof NetApi,
    args: unknown[],
    options: AbortOptions | undefined,
    fn: () => T,
  ): Promise<T> {
    this.calls.push({ method, args });
    try {
      options?.signal?.throwIfAborted();
      const failure = this.failNext;
      if (failure) {
        this.failNext = undefined;
        throw failure;
      }
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #connected(peer: PeerId): PeerDetail {
    const p = this.#peers.get(peer);
    if (!p) throw new UserError(`peer ${peer} is not connected`);
    return p;
  }

  #expire(): void {
    const now = this.#now();
    for (const [key, ban] of this.#bans) {
      if (ban.expiresAt !== null && ban.expiresAt <= now) this.#bans.delete(key);
    }
  }

  /** True when a ban in force matches the peer ID or the IP in its multiaddr. */
  #bannedBy(peer: PeerId, addr: string | undefined): boolean {
    this.#expire();
    const ip = addr && ipOfMultiaddr(addr);
    for (const { target } of this.#bans.values()) {
      if (target.kind === "peer" && target.value === peer) return true;
      if (target.kind === "ip" && target.value === ip) return true;
      if (target.kind === "subnet" && ip && inSubnet4(ip, target.value)) return true;
    }
    return false;
  }
}

function banKey(target: BanTarget): string {
  return `${target.kind}:${target.value}`;
}

function toEntry(ban: StoredBan): BanEntry {
  return {
    Kind: ban.target.kind,
    Target: ban.target.value,
    Expires: ban.expiresAt === null ? null : new Date(ban.expiresAt).toISOString(),
    Reason: ban.reason,
  };
}

function ipOfMultiaddr(addr: string): string | undefined {
  const m = /^\/ip[46]\/([^/]+)/.exec(addr);
  return m ? parseIp(m[1]) : undefined;
}

/** IPv4 subnet membership (enough for tests; IPv6 subnets never match in the fake). */
function inSubnet4(ip: string, subnet: string): boolean {
  const [base, prefixText] = subnet.split("/");
  const toInt = (s: string) => s.split(".").reduce((n, part) => (n * 256) + Number(part), 0);
  if (ip.includes(":") || base.includes(":")) return false;
  const prefix = Number(prefixText);
  const size = 2 ** (32 - prefix);
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
}
