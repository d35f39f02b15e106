/**
 * The network slice of the control API: the `NetApi` interface the libp2p network system
 * implements, the Lotus JSON shapes it speaks, and the method table that serves it over
 * JSON-RPC (`src/api/rpc.ts`).
 *
 * Lotus's method names and shapes are kept wherever Lotus has the method (from Lotus
 * `api/api_net.go`, `api/api_common.go` and `api/types.go`), so existing Filecoin clients work;
 * what Lotus has no method for (our reputation, connection direction, latency, timed bans) is
 * under `Filnode.*`, in the same PascalCase style.
 *
 * | method                       | params                       | result             | NetApi call        |
 * | ---------------------------- | ---------------------------- | ------------------ | ------------------ |
 * | `Filecoin.Version`           | —                            | `APIVersion`       | (VersionInfo)      |
 * | `Filecoin.ID`                | —                            | peer ID            | `id`               |
 * | `Filecoin.NetAddrsListen`    | —                            | `AddrInfo`         | `addrsListen`      |
 * | `Filecoin.NetListening`      | —                            | boolean            | `addrsListen`      |
 * | `Filecoin.NetPeers`          | —                            | `AddrInfo[]`       | `peers`            |
 * | `Filecoin.NetPeerInfo`       | peer ID                      | `ExtendedPeerInfo` | `peerInfo`         |
 * | `Filecoin.NetAgentVersion`   | peer ID                      | string             | `peerInfo`         |
 * | `Filecoin.NetConnectedness`  | peer ID                      | 0 or 1             | `peers`            |
 * | `Filecoin.NetConnect`        | `AddrInfo`                   | null               | `connect`          |
 * | `Filecoin.NetDisconnect`     | peer ID                      | null               | `disconnect`       |
 * | `Filecoin.NetPubsubScores`   | —                            | `PubsubScore[]`    | `pubsubScores`     |
 * | `Filecoin.NetBlockAdd`       | `NetBlockList`               | null               | `ban` (permanent)  |
 * | `Filecoin.NetBlockRemove`    | `NetBlockList`               | null               | `unban`            |
 * | `Filecoin.NetBlockList`      | —                            | `NetBlockList`     | `bans`             |
 * | `Filnode.NetPeersDetailed`   | —                            | `PeerDetail[]`     | `peersDetailed`    |
 * | `Filnode.NetScores`          | —                            | `PeerScore[]`      | `scores`           |
 * | `Filnode.NetBan`             | target, seconds or null      | `BanEntry`         | `ban`              |
 * | `Filnode.NetUnban`           | target                       | boolean (was it)   | `unban`            |
 * | `Filnode.NetBans`            | —                            | `BanEntry[]`       | `bans`             |
 * | `Filnode.GossipPublish`      | "blocks"/"msgs", base64 data | message ID (hex)   | `gossipPublish`    |
 * | `Filnode.GossipStats`        | —                            | `GossipStatsResult`| `gossipStats`      |
 *
 * A ban target is written as `src/net/ban_target.ts` defines (the grammar the CLI and the ban
 * list use too): a peer ID, an IP+port (`1.2.3.4:4001`, `[2001:db8::1]:4001`, timed only), an IP
 * address (`1.2.3.4`, `2001:db8::1`) or a subnet in CIDR form (`10.0.0.0/8`). Lotus's block list
 * and our bans are one list: `NetBlockAdd` adds permanent bans (IP-wide ones are capped by the
 * ban list), and `NetBlockList` shows every ban in force, timed ones included, except IP+port
 * bans, which Lotus's shape has no place for (`Filnode.NetBans` lists them).
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import {
  type BanKind,
  type BanTarget,
  BanTargetError,
  checkBanDuration,
  parseBanTarget,
} from "../net/ban_target.ts";
import { parseIp as parseAddress } from "../net/ip_address.ts";
import { parsePeerId } from "../net/peer_id_text.ts";
import {
  decodeObject,
  decodeString,
  decodeStringArray,
  defineMethod,
  field,
  InvalidParamsError,
  type MethodTable,
  type ParamSpec,
} from "./rpc.ts";

// The ban-target grammar and the peer ID parser live with the ban list (`src/net/`), so the CLI,
// this API and the connection gater read targets one way; re-exported for the API's clients.
export { type BanKind, type BanTarget, parseBanTarget, parsePeerId };

// ---------------------------------------------------------------------------------------------
// Constants

/**
 * The Lotus full-node API version whose method shapes we follow: v1 API 2.3.0, encoded as
 * Lotus's `newVer(major, minor, patch)` = major<<16 | minor<<8 | patch (131840). Clients
 * compare the major part; we serve a subset of that API, with the same shapes.
 */
export const LOTUS_API_VERSION = (2 << 16) | (3 << 8) | 0;

/** Longest timed ban: ten years. Longer is a permanent ban: give no duration. */
export const MAX_BAN_SECONDS = 10 * 365 * 24 * 3600;

/** Lotus's `network.Connectedness` values that we report. */
export const Connectedness = { NotConnected: 0, Connected: 1 } as const;

/** The method names, for the CLI and other clients. */
export const NetMethod = {
  Version: "Filecoin.Version",
  ID: "Filecoin.ID",
  NetAddrsListen: "Filecoin.NetAddrsListen",
  NetListening: "Filecoin.NetListening",
  NetPeers: "Filecoin.NetPeers",
  NetPeerInfo: "Filecoin.NetPeerInfo",
  NetAgentVersion: "Filecoin.NetAgentVersion",
  NetConnectedness: "Filecoin.NetConnectedness",
  NetConnect: "Filecoin.NetConnect",
  NetDisconnect: "Filecoin.NetDisconnect",
  NetPubsubScores: "Filecoin.NetPubsubScores",
  NetBlockAdd: "Filecoin.NetBlockAdd",
  NetBlockRemove: "Filecoin.NetBlockRemove",
  NetBlockList: "Filecoin.NetBlockList",
  PeersDetailed: "Filnode.NetPeersDetailed",
  Scores: "Filnode.NetScores",
  Ban: "Filnode.NetBan",
  Unban: "Filnode.NetUnban",
  Bans: "Filnode.NetBans",
  GossipPublish: "Filnode.GossipPublish",
  GossipStats: "Filnode.GossipStats",
} as const;

/** Most addresses accepted in one `AddrInfo` or block list: far above any real peer's. */
const MAX_ADDRS = 64;

/** A multiaddr string is short; anything longer is not one we would dial. */
const MAX_MULTIADDR_LENGTH = 1024;

// ---------------------------------------------------------------------------------------------
// Lotus shapes

/** A libp2p peer ID in its usual base58btc text form (`12D3KooW...`, `Qm...`). */
export type PeerId = string;

/** Lotus `peer.AddrInfo`: a peer and the multiaddrs it is reached at (without `/p2p/<id>`). */
export interface AddrInfo {
  ID: PeerId;
  Addrs: string[];
}

/** Lotus `api.APIVersion`, the answer of `Filecoin.Version`. */
export interface APIVersion {
  /** Node software version, e.g. `0.1.0+filnode`. */
  Version: string;
  /** {@link LOTUS_API_VERSION}. */
  APIVersion: number;
  /** Seconds between epochs. */
  BlockDelay: number;
  /** libp2p agent string, e.g. `filnode/0.1.0`. */
  Agent: string;
}

/** Lotus `api.ConnMgrInfo`: the connection manager's view of a peer. */
export interface ConnMgrInfo {
  /** RFC 3339 time. */
  FirstSeen: string;
  Value: number;
  Tags: Record<string, number>;
  /** Connection id to RFC 3339 opening time. */
  Conns: Record<string, string>;
}

/** Lotus `api.ExtendedPeerInfo`, the answer of `Filecoin.NetPeerInfo`. */
export interface ExtendedPeerInfo {
  ID: PeerId;
  Agent: string;
  Addrs: string[];
  Protocols: string[];
  ConnMgrMeta: ConnMgrInfo | null;
}

/** Lotus `api.NetBlockList`: the connection gater's block lists. */
export interface NetBlockList {
  Peers: PeerId[];
  IPAddrs: string[];
  IPSubnets: string[];
}

/** go-libp2p-pubsub `TopicScoreSnapshot`. */
export interface TopicScoreSnapshot {
  /** Nanoseconds, as Go's time.Duration. */
  TimeInMesh: number;
  FirstMessageDeliveries: number;
  MeshMessageDeliveries: number;
  InvalidMessageDeliveries: number;
}

/** go-libp2p-pubsub `PeerScoreSnapshot`. */
export interface PeerScoreSnapshot {
  Score: number;
  Topics: Record<string, TopicScoreSnapshot>;
  AppSpecificScore: number;
  IPColocationFactor: number;
  BehaviourPenalty: number;
}

/** Lotus `api.PubsubScore`, one entry of `Filecoin.NetPubsubScores`. */
export interface PubsubScore {
  ID: PeerId;
  Score: PeerScoreSnapshot;
}

// ---------------------------------------------------------------------------------------------
// Filnode shapes

/** Who opened the connection. */
export type Direction = "inbound" | "outbound";

/** One connected peer as `filnode net peers` shows it (`Filnode.NetPeersDetailed`). */
export interface PeerDetail {
  ID: PeerId;
  /** Remote multiaddr of the connection (the first one, if there are several). */
  Addr: string;
  Direction: Direction;
  /** Last measured round trip in milliseconds; null before the first ping. */
  LatencyMs: number | null;
  /** The peer manager's reputation: higher is better, on the peer manager's own scale. */
  Reputation: number;
  /** Protocols the peer announced (identify), e.g. `/fil/hello/1.0.0`. */
  Protocols: string[];
  /** The peer's agent string from identify; "" if unknown. */
  Agent: string;
}

/** A peer's scores (`Filnode.NetScores`): connected peers and recently seen ones. */
export interface PeerScore {
  ID: PeerId;
  Reputation: number;
  /** gossipsub score; null when the peer is not in gossipsub. */
  GossipScore: number | null;
  Connected: boolean;
}

/** One ban in force (`Filnode.NetBans`, `Filnode.NetBan`). */
export interface BanEntry {
  Kind: BanKind;
  Target: string;
  /** RFC 3339 end of the ban; null for a permanent ban. */
  Expires: string | null;
  /** Why: "manual" for a ban by the operator, or the peer manager's reason. */
  Reason: string;
}

/** Options of {@link NetApi.ban}. */
export interface BanOptions extends AbortOptions {
  /** Milliseconds the ban lasts; null or absent for a permanent ban. */
  durationMs?: number | null;
  /** Shown in `bans`; "manual" when the operator banned. */
  reason?: string;
}

// ---------------------------------------------------------------------------------------------
// The interface the network system implements

/**
 * What the control API needs from the network system. Every method may throw a `UserError`
 * for something the caller can fix (the client sees its message, JSON-RPC code 1); anything
 * else is reported as an internal error (-32603). Inputs are already validated: peer IDs and
 * ban targets are canonical, multiaddrs are non-empty strings starting with `/`.
 */
export interface NetApi {
  /** This node's peer ID. */
  id(options?: AbortOptions): Promise<PeerId>;
  /** This node's ID and the multiaddrs it listens on (Lotus `NetAddrsListen`). */
  addrsListen(options?: AbortOptions): Promise<AddrInfo>;
  /** Connected peers (Lotus `NetPeers`). */
  peers(options?: AbortOptions): Promise<AddrInfo[]>;
  /** Identify details of a connected peer; a `UserError` if it is not connected. */
  peerInfo(peer: PeerId, options?: AbortOptions): Promise<ExtendedPeerInfo>;
  /**
   * Dials the peer (at `info.Addrs`, or addresses the peer store knows when empty) and
   * resolves once connected. A `UserError` if it is banned or cannot be reached.
   */
  connect(info: AddrInfo, options?: AbortOptions): Promise<void>;
  /** Closes every connection to the peer; a `UserError` if it is not connected. */
  disconnect(peer: PeerId, options?: AbortOptions): Promise<void>;
  /** gossipsub scores (Lotus `NetPubsubScores`). */
  pubsubScores(options?: AbortOptions): Promise<PubsubScore[]>;
  /** Connected peers with direction, latency, reputation and protocols. */
  peersDetailed(options?: AbortOptions): Promise<PeerDetail[]>;
  /** Reputation and gossip scores of known peers. */
  scores(options?: AbortOptions): Promise<PeerScore[]>;
  /**
   * Bans a peer, IP+port, IP or subnet: closes matching connections and refuses new ones until
   * the ban ends. Banning again replaces the earlier ban's end. Returns the ban now in force.
   * An IP+port target always comes with a duration (the method table checks it).
   */
  ban(target: BanTarget, options?: BanOptions): Promise<BanEntry>;
  /** Lifts a ban; false if there was none for exactly this target. */
  unban(target: BanTarget, options?: AbortOptions): Promise<boolean>;
  /** Bans in force (expired ones are gone), permanent and timed. */
  bans(options?: AbortOptions): Promise<BanEntry[]>;
  /** Publishes `data` on the blocks or messages topic; returns the message ID (hex). */
  gossipPublish(kind: GossipKind, data: Uint8Array, options?: AbortOptions): Promise<string>;
  /** Messages seen on the Filecoin topics. */
  gossipStats(options?: AbortOptions): Promise<GossipStatsResult>;
}

/** The Filecoin gossip topics by kind: `/fil/blocks/<net>` and `/fil/msgs/<net>`. */
export type GossipKind = "blocks" | "msgs";

/** `Filnode.GossipStats`: counts per topic and the latest accepted message IDs. */
export interface GossipStatsResult {
  received: Record<GossipKind, number>;
  rejected: Record<GossipKind, number>;
  recent: string[];
}

/** What `Filecoin.Version` reports, besides the API version. */
export interface VersionInfo {
  /** Node software version, e.g. `0.1.0`. */
  version: string;
  /** libp2p agent string, e.g. `filnode/0.1.0`. */
  agent: string;
  /** Chain.BlockDelay in milliseconds (reported in seconds, as Lotus does). */
  blockDelayMs: number;
}

// ---------------------------------------------------------------------------------------------
// Validation shared by the server and the CLI

/**
 * Splits a dialable multiaddr ending in `/p2p/<peer ID>` (or the older `/ipfs/`) into a Lotus
 * `AddrInfo`, as `lotus net connect` does. A bare `/p2p/<peer ID>` gives no address: the
 * network system then uses what its peer store knows.
 *
 * @throws RangeError saying what is wrong.
 */
export function parsePeerMultiaddr(text: string): AddrInfo {
  const trimmed = text.trim();
  checkMultiaddrText(trimmed);
  const parts = trimmed.split("/");
  const [proto, id] = parts.slice(-2);
  if (parts.length < 3 || (proto !== "p2p" && proto !== "ipfs")) {
    throw new RangeError(
      "the multiaddr must end with /p2p/<peer ID>, e.g. /ip4/192.0.2.1/tcp/1347/p2p/12D3KooW...",
    );
  }
  const peer = parsePeerId(id);
  const addr = parts.slice(0, -2).join("/");
  return { ID: peer, Addrs: addr === "" ? [] : [addr] };
}

/** Light shape check of a multiaddr string; the network system parses it for real. */
function checkMultiaddrText(text: string): void {
  if (text.length > MAX_MULTIADDR_LENGTH) throw new RangeError("multiaddr too long");
  if (!text.startsWith("/")) {
    throw new RangeError(`not a multiaddr: ${JSON.stringify(text)} (it starts with /)`);
  }
  if (text.length === 1 || text.endsWith("/") || text.includes("//") || /\s/.test(text)) {
    throw new RangeError(`not a multiaddr: ${JSON.stringify(text)}`);
  }
}

/**
 * Canonical text of an IPv4 or IPv6 address, or undefined if `text` is neither: the ban list's
 * parser, so the API and the gater agree on what an address is (IPv4-mapped IPv6 is IPv4).
 */
export function parseIp(text: string): string | undefined {
  return parseAddress(text)?.text;
}

// ---------------------------------------------------------------------------------------------
// Param decoders

function peerIdParam(name = "peer"): ParamSpec<PeerId> {
  return { name, decode: (v) => parsePeerId(decodeString(v)) };
}

function banTargetParam(): ParamSpec<BanTarget> {
  return { name: "target", decode: (v) => parseBanTarget(decodeString(v)) };
}

function decodeAddrInfo(value: unknown): AddrInfo {
  const object = decodeObject(value);
  const id = field(object, "ID");
  if (id === undefined) throw new TypeError("missing ID");
  const addrs = decodeStringArray(field(object, "Addrs"), MAX_ADDRS).map((a) => {
    checkMultiaddrText(a);
    return a;
  });
  return { ID: parsePeerId(decodeString(id)), Addrs: addrs };
}

function decodeBlockList(value: unknown): BanTarget[] {
  const object = decodeObject(value);
  const targets: BanTarget[] = [];
  for (const p of decodeStringArray(field(object, "Peers"), MAX_ADDRS)) {
    targets.push({ kind: "peer", value: parsePeerId(p) });
  }
  for (const a of decodeStringArray(field(object, "IPAddrs"), MAX_ADDRS)) {
    const ip = parseIp(a);
    if (!ip) throw new RangeError(`IPAddrs: not an IP address: ${JSON.stringify(a)}`);
    targets.push({ kind: "ip", value: ip });
  }
  for (const s of decodeStringArray(field(object, "IPSubnets"), MAX_ADDRS)) {
    const target = parseBanTarget(s);
    if (target.kind !== "subnet") throw new RangeError(`IPSubnets: not a subnet: ${s}`);
    targets.push(target);
  }
  return targets;
}

function decodeGossipKind(value: unknown): GossipKind {
  if (value === "blocks" || value === "msgs") return value;
  throw new TypeError('expected "blocks" or "msgs"');
}

/** Most gossip payload accepted from the API: the blocks topic's cap. */
const MAX_GOSSIP_BASE64 = Math.ceil((1 << 20) / 3) * 4;

function decodeBase64(value: unknown): Uint8Array {
  if (typeof value !== "string" || value.length > MAX_GOSSIP_BASE64) {
    throw new TypeError("expected base64 data of at most 1 MiB");
  }
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    throw new TypeError("expected base64 data");
  }
}

function decodeBanSeconds(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError("expected a number of seconds, or null for a permanent ban");
  }
  if (value <= 0 || value > MAX_BAN_SECONDS) {
    throw new RangeError(`must be more than 0 and at most ${MAX_BAN_SECONDS} seconds`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The method table

/** What {@link netApiMethods} serves. */
export interface NetApiMethodsOptions {
  net: NetApi;
  version: VersionInfo;
}

/** The `Filecoin.*` and `Filnode.*` network methods, ready for `createDispatcher`. */
export function netApiMethods({ net, version }: NetApiMethodsOptions): MethodTable {
  const none = [] as const;
  const sv = (options: AbortOptions) => ({ signal: options.signal });
  return {
    [NetMethod.Version]: defineMethod(none, () =>
      Promise.resolve<APIVersion>({
        Version: version.version,
        APIVersion: LOTUS_API_VERSION,
        BlockDelay: Math.round(version.blockDelayMs / 1000),
        Agent: version.agent,
      })),
    [NetMethod.ID]: defineMethod(none, (_, o) => net.id(sv(o))),
    [NetMethod.NetAddrsListen]: defineMethod(none, (_, o) => net.addrsListen(sv(o))),
    [NetMethod.NetListening]: defineMethod(
      none,
      async (_, o) => (await net.addrsListen(sv(o))).Addrs.length > 0,
    ),
    [NetMethod.NetPeers]: defineMethod(none, (_, o) => net.peers(sv(o))),
    [NetMethod.NetPeerInfo]: defineMethod([peerIdParam()], ([p], o) => net.peerInfo(p, sv(o))),
    [NetMethod.NetAgentVersion]: defineMethod(
      [peerIdParam()],
      async ([p], o) => (await net.peerInfo(p, sv(o))).Agent,
    ),
    [NetMethod.NetConnectedness]: defineMethod([peerIdParam()], async ([p], o) => {
      const peers = await net.peers(sv(o));
      return peers.some((x) => x.ID === p) ? Connectedness.Connected : Connectedness.NotConnected;
    }),
    [NetMethod.NetConnect]: defineMethod(
      [{ name: "addrInfo", decode: decodeAddrInfo }],
      async ([info], o) => void await net.connect(info, sv(o)),
    ),
    [NetMethod.NetDisconnect]: defineMethod(
      [peerIdParam()],
      async ([p], o) => void await net.disconnect(p, sv(o)),
    ),
    [NetMethod.NetPubsubScores]: defineMethod(none, (_, o) => net.pubsubScores(sv(o))),
    [NetMethod.NetBlockAdd]: defineMethod(
      [{ name: "blockList", decode: decodeBlockList }],
      async ([targets], o) => {
        // Every entry was validated before the first ban: a bad entry changes nothing.
        for (const t of targets) {
          await net.ban(t, { durationMs: null, reason: "manual", signal: o.signal });
        }
      },
    ),
    [NetMethod.NetBlockRemove]: defineMethod(
      [{ name: "blockList", decode: decodeBlockList }],
      async ([targets], o) => {
        for (const t of targets) await net.unban(t, sv(o));
      },
    ),
    [NetMethod.NetBlockList]: defineMethod(none, async (_, o) => {
      const list: NetBlockList = { Peers: [], IPAddrs: [], IPSubnets: [] };
      const keys = { peer: "Peers", ip: "IPAddrs", subnet: "IPSubnets" } as const;
      for (const ban of await net.bans(sv(o))) {
        // An `ip:port` is not an IP address: a Lotus client would misread it in IPAddrs.
        if (ban.Kind !== "addr") list[keys[ban.Kind]].push(ban.Target);
      }
      return list;
    }),
    [NetMethod.PeersDetailed]: defineMethod(none, (_, o) => net.peersDetailed(sv(o))),
    [NetMethod.Scores]: defineMethod(none, (_, o) => net.scores(sv(o))),
    [NetMethod.Ban]: defineMethod(
      [banTargetParam(), { name: "durationSeconds", decode: decodeBanSeconds, optional: true }],
      ([target, seconds], o) => {
        const durationMs = seconds === undefined ? null : Math.round(seconds * 1000);
        try {
          checkBanDuration(target, durationMs);
        } catch (err) {
          if (!(err instanceof BanTargetError)) throw err;
          throw new InvalidParamsError(`param 2 (durationSeconds): ${err.message}`);
        }
        return net.ban(target, { durationMs, reason: "manual", signal: o.signal });
      },
    ),
    [NetMethod.Unban]: defineMethod([banTargetParam()], ([t], o) => net.unban(t, sv(o))),
    [NetMethod.Bans]: defineMethod(none, (_, o) => net.bans(sv(o))),
    [NetMethod.GossipPublish]: defineMethod(
      [{ name: "kind", decode: decodeGossipKind }, { name: "data", decode: decodeBase64 }],
      ([kind, data], o) => net.gossipPublish(kind, data, sv(o)),
    ),
    [NetMethod.GossipStats]: defineMethod(none, (_, o) => net.gossipStats(sv(o))),
  };
}
