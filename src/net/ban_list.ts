/**
 * `BanList`: who may not connect, and until when. Three kinds of ban:
 *
 * - `peer`: by peer ID, timed or indefinite;
 * - `addr`: by IP and port, timed (one node behind a shared IP);
 * - `ip`: by IP, timed and at most `maxIpBanMs` (an IP is often shared: NAT, CGNAT, VPN exits).
 *
 * {@link BanList.isBanned} is what the connection gater calls before any handshake work, so it
 * is three `Map` lookups and nothing else. Expired bans are ignored and dropped as they are met,
 * and swept from disk by {@link BanList.prune} and at load.
 *
 * IP-wide bans never cover loopback (127.0.0.0/8, ::1: local tools and test nodes) nor the
 * operator's allowlisted CIDR ranges. Repeat offenders escalate: see {@link BanList.banOffender}.
 *
 * Persistence: one KV record per ban, key `["bans", kind, target]`, each change one atomic commit,
 * so bans survive restarts. A corrupt record is skipped and deleted at load, never thrown on.
 * Offence history (for escalation) stays in memory: after a restart an offender starts over at
 * the first rung, while the bans it earned stay in force.
 *
 * The address helpers here (`parseIp`, `parseHostPort`, `parseMultiaddrAddr`, `parseCidr`,
 * `isPeerIdString`) are deliberately minimal: TCP/UDP over IPv4/IPv6 and libp2p peer IDs, no DNS.
 *
 * @module
 */
import { base58btc } from "multiformats/bases/base58";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import type { AbortOptions } from "../abort.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";
import { UsageError, UserError } from "../errors.ts";

const HOUR = 60 * 60_000;

/**
 * Longest IP-wide ban by default: an IP is often shared (NAT, CGNAT, cloud egress), so a
 * permanent IP ban would shut out innocent neighbours long after the offender moved on.
 */
export const DEFAULT_MAX_IP_BAN_MS = 24 * HOUR;
/** Offences older than this are forgiven when deciding the next rung of escalation. */
export const DEFAULT_OFFENCE_WINDOW_MS = 24 * HOUR;
/**
 * The escalation ladder of {@link BanList.banOffender}: rung n is the n-th offence within the
 * window. The first rung is Forest's one-hour peer ban on genesis mismatch; each later rung
 * widens the net (port, then whole IP) and lengthens the ban. Offences past the last rung repeat
 * it with the duration doubled each time, clamped to the IP maximum.
 */
export const DEFAULT_ESCALATION: readonly EscalationRung[] = [
  { kind: "peer", durationMs: 1 * HOUR },
  { kind: "addr", durationMs: 6 * HOUR },
  { kind: "ip", durationMs: 24 * HOUR },
];
/** Ranges never IP-banned: a node's own tools and local test networks live there. */
const LOOPBACK_RANGES = ["127.0.0.0/8", "::1/128"];
/** Reasons are operator-facing one-liners; a longer one (e.g. a peer's error text) is cut. */
const MAX_REASON_CHARS = 200;
/** Longest peer ID string accepted: identity-hashed secp256k1 keys are 53 characters. */
const MAX_PEER_ID_CHARS = 128;
/** Longest identity-multihash peer ID (public key bytes inline); libp2p inlines keys ≤ 42 bytes. */
const MAX_IDENTITY_DIGEST_BYTES = 64;
/** Multicodec codes of a peer ID: identity and sha2-256 multihashes, libp2p-key CIDs. */
const IDENTITY = 0x00;
const SHA2_256 = 0x12;
const LIBP2P_KEY = 0x72;
/** Offence histories kept in memory; the oldest is forgotten beyond this (bounded under floods). */
const MAX_OFFENDER_KEYS = 10_000;
/** Version tag of stored records. */
const RECORD_VERSION = 1;
/** Deno KV `list` page: records read per round trip at load. */
const LIST_BATCH = 500;
/** Deletes per atomic commit when sweeping (Deno KV allows 1000 mutations per atomic). */
const DELETE_BATCH = 500;

/** What a ban covers. */
export type BanKind = "peer" | "addr" | "ip";
const BAN_KINDS: readonly BanKind[] = ["peer", "addr", "ip"];

/** Who asked for a ban: the operator (`net ban`) or the node itself (misbehaviour). */
export type BanSource = "manual" | "automatic";

/** One ban, as listed and stored. */
export interface Ban {
  readonly kind: BanKind;
  /** Peer ID, `ip:port` (`[ip]:port` for IPv6) or IP, in canonical form. */
  readonly target: string;
  readonly reason: string;
  /** When the ban was made (ms since the epoch). */
  readonly createdAt: number;
  /** When it lapses (ms since the epoch), or null for an indefinite peer-ID ban. */
  readonly expires: number | null;
  readonly source: BanSource;
}

/** What to ban. IPs may be in any valid textual form; they are stored canonically. */
export type BanTarget =
  | { readonly kind: "peer"; readonly peerId: string }
  | { readonly kind: "addr"; readonly ip: string; readonly port: number }
  | { readonly kind: "ip"; readonly ip: string };

/** One rung of the escalation ladder. */
export interface EscalationRung {
  readonly kind: BanKind;
  readonly durationMs: number;
}

/** Options of {@link BanList.load}. */
export interface BanListOptions extends AbortOptions {
  /** Where "now" comes from; the system clock by default. */
  time?: TimeSource;
  /** CIDR ranges never IP-banned (`10.0.0.0/8`, `fd00::/8`), on top of loopback. */
  allowlist?: readonly string[];
  /** Longest IP-wide ban (ms). Default {@link DEFAULT_MAX_IP_BAN_MS}. */
  maxIpBanMs?: number;
  /** Window over which offences count toward escalation (ms). */
  offenceWindowMs?: number;
  /** Escalation ladder. Default {@link DEFAULT_ESCALATION}. */
  escalation?: readonly EscalationRung[];
}

/** Options of {@link BanList.ban}. */
export interface BanOptions extends AbortOptions {
  reason: string;
  /**
   * How long (ms). Omitted or null: indefinite for a peer-ID ban, the maximum for an IP ban;
   * required for an IP+port ban.
   */
  durationMs?: number | null;
  /** Default `"manual"`. */
  source?: BanSource;
}

/** What {@link BanList.ban} did. */
export interface BanResult {
  readonly ban: Ban;
  /** True when an IP ban's duration was cut to the maximum; `notice` then says so. */
  readonly clamped: boolean;
  /** One line for the operator when the request was not applied as asked. */
  readonly notice?: string;
}

/** Who offended, as the host knows it. `ip`/`port` are absent for relayed connections. */
export interface Offender {
  readonly peerId: string;
  readonly ip?: string;
  readonly port?: number;
}

/** What {@link BanList.banOffender} did. */
export interface OffenceResult {
  /** 1 for a first offence within the window, 2 for the second, and so on. */
  readonly level: number;
  /** Bans now in force because of this offence (an existing longer ban is kept as is). */
  readonly bans: readonly Ban[];
  /** Set when an IP-wide ban was spared (loopback/allowlist) or impossible (no IP known). */
  readonly notice?: string;
}

/** What {@link BanList.load} found on disk. */
export interface BanLoadReport {
  readonly loaded: number;
  /** Records that were already expired: deleted. */
  readonly expired: number;
  /** Records that did not validate: deleted. */
  readonly corrupt: number;
}

/**
 * Bans by peer ID, IP+port and IP, persisted in Deno KV.
 *
 * @example
 * ```ts ignore
 * const bans = await BanList.load(kv, { allowlist: ["10.0.0.0/8"] });
 * if (bans.isBanned({ peerId, ip, port })) return false; // connection gater: refuse early
 * await bans.banOffender({ peerId, ip, port }, "genesis mismatch");
 * ```
 */
export class BanList {
  readonly maxIpBanMs: number;
  readonly offenceWindowMs: number;
  readonly escalation: readonly EscalationRung[];
  /** What the load found. */
  readonly loadReport: BanLoadReport;
  readonly #kv: Deno.Kv;
  readonly #time: TimeSource;
  readonly #spared: readonly Cidr[];
  readonly #maps: Record<BanKind, Map<string, Ban>> = {
    peer: new Map(),
    addr: new Map(),
    ip: new Map(),
  };
  /** Offence times per `peer:<id>` / `ip:<ip>` key, oldest first. */
  readonly #offences = new Map<string, number[]>();

  private constructor(
    kv: Deno.Kv,
    options: BanListOptions,
    spared: readonly Cidr[],
    report: BanLoadReport,
  ) {
    this.#kv = kv;
    this.#time = options.time ?? systemTime;
    this.#spared = spared;
    this.maxIpBanMs = options.maxIpBanMs ?? DEFAULT_MAX_IP_BAN_MS;
    this.offenceWindowMs = options.offenceWindowMs ?? DEFAULT_OFFENCE_WINDOW_MS;
    this.escalation = options.escalation ?? DEFAULT_ESCALATION;
    this.loadReport = report;
  }

  /**
   * Reads every ban under `["bans"]`, deleting expired and corrupt records. Throws a
   * {@link UserError} for a malformed allowlist entry or a bad duration option.
   */
  static async load(kv: Deno.Kv, options: BanListOptions = {}): Promise<BanList> {
    const spared = [...LOOPBACK_RANGES, ...(options.allowlist ?? [])].map((text) => {
      const cidr = parseCidr(text);
      if (cidr === undefined) {
        throw new UserError(
          `allowlist entry "${text}" is not a CIDR range like 10.0.0.0/8 or fd00::/8`,
        );
      }
      return cidr;
    });
    for (
      const [name, v] of [["maxIpBanMs", options.maxIpBanMs], [
        "offenceWindowMs",
        options.offenceWindowMs,
      ]] as const
    ) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new UserError(`${name} must be a positive number of milliseconds, got ${v}`);
      }
    }
    const ladder = options.escalation ?? DEFAULT_ESCALATION;
    if (
      ladder.length === 0 ||
      !ladder.every((r) =>
        BAN_KINDS.includes(r.kind) && Number.isFinite(r.durationMs) &&
        r.durationMs > 0
      )
    ) {
      throw new UserError(
        "escalation needs at least one rung, each a kind and a positive duration",
      );
    }

    const now = (options.time ?? systemTime).now();
    const loaded: Ban[] = [];
    const doomed: Deno.KvKey[] = [];
    let expired = 0;
    let corrupt = 0;
    for await (const entry of kv.list({ prefix: ["bans"] }, { batchSize: LIST_BATCH })) {
      options.signal?.throwIfAborted();
      const ban = decodeBanRecord(entry.key, entry.value);
      if (ban === undefined) {
        corrupt++;
        doomed.push(entry.key);
      } else if (ban.expires !== null && ban.expires <= now) {
        expired++;
        doomed.push(entry.key);
      } else loaded.push(ban);
    }
    await deleteKeys(kv, doomed, options);
    const list = new BanList(kv, options, spared, { loaded: loaded.length, expired, corrupt });
    for (const ban of loaded) list.#maps[ban.kind].set(ban.target, ban);
    return list;
  }

  /**
   * The ban that stops a connection from `peerId` at `ip`:`port`, or undefined. Checks the peer
   * ID, then IP+port, then IP; expired bans found on the way are dropped from memory. O(1).
   */
  isBanned(who: { peerId?: string; ip?: string; port?: number }): Ban | undefined {
    const now = this.#time.now();
    if (who.peerId !== undefined) {
      const ban = this.#live("peer", who.peerId, now);
      if (ban) return ban;
    }
    if (who.ip === undefined || (this.#maps.addr.size === 0 && this.#maps.ip.size === 0)) {
      return undefined;
    }
    const ip = canonicalIp(who.ip);
    if (ip === undefined) return undefined;
    if (who.port !== undefined) {
      const ban = this.#live("addr", formatHostPort(ip, who.port), now);
      if (ban) return ban;
    }
    return this.#live("ip", ip, now);
  }

  /**
   * Bans `target` and persists it. The ban holds in memory at once; if the KV write then fails,
   * the error propagates and the ban holds until the node restarts.
   *
   * Throws {@link UsageError} for a malformed target or duration, and {@link UserError} when asked
   * to IP-ban a loopback or allowlisted address. An IP ban longer than `maxIpBanMs` (or without
   * a duration) is clamped, and the result says so.
   */
  async ban(target: BanTarget, options: BanOptions): Promise<BanResult> {
    const { kind, key } = this.#canonical(target);
    const now = this.#time.now();
    let durationMs = options.durationMs ?? null;
    if (durationMs !== null && !(Number.isFinite(durationMs) && durationMs > 0)) {
      throw new UsageError(`ban duration must be a positive number of milliseconds`);
    }
    if (kind === "addr" && durationMs === null) {
      throw new UsageError(`an IP+port ban needs a duration (ban ${key})`);
    }
    let clamped = false;
    let notice: string | undefined;
    if (kind === "ip") {
      const sparedBy = this.sparedBy(key);
      if (sparedBy !== undefined) {
        throw new UserError(
          `refusing to ban IP ${key}: it is in ${sparedBy}, which is never IP-banned; ` +
            `ban the peer ID or ${key.includes(":") ? `[${key}]` : key}:<port> instead`,
        );
      }
      if (durationMs === null || durationMs > this.maxIpBanMs) {
        clamped = true;
        notice = `IP bans last at most ${formatDuration(this.maxIpBanMs)}; ${key} is banned ` +
          `for ${formatDuration(this.maxIpBanMs)} instead of ${
            durationMs === null ? "indefinitely" : formatDuration(durationMs)
          }`;
        durationMs = this.maxIpBanMs;
      }
    }
    const ban: Ban = {
      kind,
      target: key,
      reason: cleanReason(options.reason),
      createdAt: now,
      expires: durationMs === null ? null : now + durationMs,
      source: options.source ?? "manual",
    };
    await this.#put([ban], options);
    return notice === undefined ? { ban, clamped } : { ban, clamped, notice };
  }

  /**
   * Bans a misbehaving peer, escalating with its record: the n-th offence within
   * `offenceWindowMs` (counted by peer ID and by IP, whichever has more; by peer ID only on
   * loopback and allowlisted IPs, which unrelated peers share) applies rung n of the
   * ladder (past the end: the last rung, duration doubled per extra offence, IP bans clamped to
   * `maxIpBanMs`). Every rung also bans the peer ID for the rung's (unclamped) duration, so the
   * offender cannot just move to another address.
   *
   * An IP-wide rung on a loopback/allowlisted IP, or with no IP known, is downgraded to the peer
   * ID ban (an IP+port rung without a port likewise). An existing longer ban is never shortened.
   */
  async banOffender(
    offender: Offender,
    reason: string,
    options: AbortOptions = {},
  ): Promise<OffenceResult> {
    const peerId = offender.peerId;
    if (!isPeerIdString(peerId)) throw new UsageError(`not a peer ID: ${JSON.stringify(peerId)}`);
    const ip = offender.ip === undefined ? undefined : parseIp(offender.ip)?.text;
    const port = offender.port !== undefined && isPort(offender.port) ? offender.port : undefined;
    const now = this.#time.now();

    // Offences count by IP too (an offender that changes peer ID still climbs the ladder), except
    // on loopback and allowlisted ranges: every peer of a devnet, or behind one NAT, shares that
    // IP, and one peer's offence must not put an unrelated neighbour on a higher rung.
    const countByIp = ip !== undefined && this.sparedBy(ip) === undefined;
    const keys = [`peer:${peerId}`, ...(countByIp ? [`ip:${ip}`] : [])];
    const level = 1 + Math.max(...keys.map((k) => this.#offenceCount(k, now)));
    for (const k of keys) this.#noteOffence(k, now);

    const last = this.escalation.length - 1;
    const rung = this.escalation[Math.min(level - 1, last)];
    const extra = Math.max(0, level - 1 - last);
    // Peer IDs are not shared, so their bans grow unclamped; IP-wide bans stop at the maximum.
    const peerDurationMs = rung.durationMs * 2 ** Math.min(extra, 30);
    let durationMs = peerDurationMs;
    let kind = rung.kind;
    let notice: string | undefined;
    if (kind === "ip") {
      const spared = ip === undefined ? undefined : this.sparedBy(ip);
      if (ip === undefined || spared !== undefined) {
        notice = ip === undefined
          ? `no IP known for ${peerId}: banned by peer ID only`
          : `${ip} is in ${spared}, never IP-banned: banned ${peerId} by peer ID only`;
        kind = "peer";
      } else durationMs = Math.min(durationMs, this.maxIpBanMs);
    } else if (kind === "addr" && (ip === undefined || port === undefined)) {
      notice = `no IP and port known for ${peerId}: banned by peer ID only`;
      kind = "peer";
    }

    const wanted: Ban[] = [];
    const clean = cleanReason(reason);
    const make = (k: BanKind, target: string): Ban => ({
      kind: k,
      target,
      reason: clean,
      createdAt: now,
      expires: now + (k === "peer" ? peerDurationMs : durationMs),
      source: "automatic",
    });
    wanted.push(make("peer", peerId));
    if (kind === "addr") wanted.push(make("addr", formatHostPort(ip!, port!)));
    if (kind === "ip") wanted.push(make("ip", ip!));

    const inForce: Ban[] = [];
    const toWrite: Ban[] = [];
    for (const ban of wanted) {
      const existing = this.#live(ban.kind, ban.target, now);
      if (existing && (existing.expires === null || existing.expires >= ban.expires!)) {
        inForce.push(existing);
      } else {
        inForce.push(ban);
        toWrite.push(ban);
      }
    }
    await this.#put(toWrite, options);
    return notice === undefined ? { level, bans: inForce } : { level, bans: inForce, notice };
  }

  /**
   * Lifts the ban on `target`: a peer ID, `ip:port`, `[ipv6]:port` or an IP. Also forgets the
   * target's offence history. Returns the ban lifted, or undefined when there was none. Throws
   * {@link UsageError} for a target that is none of these.
   */
  async unban(target: string, options: AbortOptions = {}): Promise<Ban | undefined> {
    const { kind, key } = this.#canonical(parseBanTarget(target));
    options.signal?.throwIfAborted();
    const result = await this.#kv.atomic().delete(["bans", kind, key]).commit();
    if (!result.ok) throw new Error(`KV refused to delete ban ${kind} ${key}`);
    const ban = this.#live(kind, key, this.#time.now());
    this.#maps[kind].delete(key);
    if (kind === "peer") this.#offences.delete(`peer:${key}`);
    if (kind === "ip") this.#offences.delete(`ip:${key}`);
    return ban;
  }

  /** Every ban in force, oldest first: what `net bans` prints. */
  list(): Ban[] {
    const now = this.#time.now();
    const out: Ban[] = [];
    for (const kind of BAN_KINDS) {
      for (const target of [...this.#maps[kind].keys()]) {
        const ban = this.#live(kind, target, now);
        if (ban) out.push(ban);
      }
    }
    return out.sort((a, b) =>
      a.createdAt - b.createdAt || a.kind.localeCompare(b.kind) ||
      a.target.localeCompare(b.target)
    );
  }

  /** Number of bans held in memory (expired ones not yet met included). */
  get size(): number {
    return this.#maps.peer.size + this.#maps.addr.size + this.#maps.ip.size;
  }

  /**
   * Drops every expired ban from memory and from KV (records the lazy path already dropped from
   * memory included), plus offence histories past the window. Returns how many records it deleted.
   */
  async prune(options: AbortOptions = {}): Promise<number> {
    const now = this.#time.now();
    for (const kind of BAN_KINDS) {
      for (const target of [...this.#maps[kind].keys()]) this.#live(kind, target, now);
    }
    for (const key of [...this.#offences.keys()]) this.#offenceCount(key, now);
    const doomed: Deno.KvKey[] = [];
    for await (const entry of this.#kv.list({ prefix: ["bans"] }, { batchSize: LIST_BATCH })) {
      options.signal?.throwIfAborted();
      const ban = decodeBanRecord(entry.key, entry.value);
      if (ban === undefined || (ban.expires !== null && ban.expires <= now)) {
        doomed.push(entry.key);
      }
    }
    await deleteKeys(this.#kv, doomed, options);
    return doomed.length;
  }

  /** The spared range (`loopback 127.0.0.0/8`, `allowlist 10.0.0.0/8`) holding `ip`, if any. */
  sparedBy(ip: string): string | undefined {
    const parsed = parseIp(ip);
    if (parsed === undefined) return undefined;
    for (const [i, cidr] of this.#spared.entries()) {
      if (cidrContains(cidr, parsed)) {
        return `${i < LOOPBACK_RANGES.length ? "loopback" : "allowlisted"} range ${cidr.text}`;
      }
    }
    return undefined;
  }

  /** The ban on `kind`/`target` if in force; an expired one is dropped from memory. */
  #live(kind: BanKind, target: string, now: number): Ban | undefined {
    const map = this.#maps[kind];
    const ban = map.get(target);
    if (ban === undefined) return undefined;
    if (ban.expires !== null && ban.expires <= now) {
      map.delete(target);
      return undefined;
    }
    return ban;
  }

  #canonical(target: BanTarget): { kind: BanKind; key: string } {
    switch (target.kind) {
      case "peer":
        if (!isPeerIdString(target.peerId)) {
          throw new UsageError(`not a peer ID: ${JSON.stringify(target.peerId)}`);
        }
        return { kind: "peer", key: target.peerId };
      case "addr": {
        const ip = parseIp(target.ip);
        if (ip === undefined) throw new UsageError(`not an IP address: ${target.ip}`);
        if (!isPort(target.port)) {
          throw new UsageError(`not a port (1-65535): ${target.port}`);
        }
        return { kind: "addr", key: formatHostPort(ip.text, target.port) };
      }
      case "ip": {
        const ip = parseIp(target.ip);
        if (ip === undefined) throw new UsageError(`not an IP address: ${target.ip}`);
        return { kind: "ip", key: ip.text };
      }
      default:
        throw new UsageError(`unknown ban kind: ${(target as { kind: unknown }).kind}`);
    }
  }

  /** Applies `bans` in memory, then writes them in one atomic commit. */
  async #put(bans: readonly Ban[], options: AbortOptions): Promise<void> {
    if (bans.length === 0) return;
    options.signal?.throwIfAborted();
    for (const ban of bans) this.#maps[ban.kind].set(ban.target, ban);
    const op = this.#kv.atomic();
    for (const ban of bans) op.set(["bans", ban.kind, ban.target], encodeBanRecord(ban));
    const result = await op.commit();
    if (!result.ok) throw new Error("KV refused to store a ban");
  }

  #offenceCount(key: string, now: number): number {
    const times = this.#offences.get(key);
    if (times === undefined) return 0;
    const recent = times.filter((t) => now - t < this.offenceWindowMs);
    if (recent.length === 0) this.#offences.delete(key);
    else if (recent.length !== times.length) this.#offences.set(key, recent);
    return recent.length;
  }

  #noteOffence(key: string, now: number): void {
    const times = this.#offences.get(key) ?? [];
    times.push(now);
    this.#offences.delete(key); // re-insert: Map order then runs from least to most recent
    this.#offences.set(key, times);
    while (this.#offences.size > MAX_OFFENDER_KEYS) {
      this.#offences.delete(this.#offences.keys().next().value!);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Stored records

interface BanRecord {
  v: number;
  kind: BanKind;
  target: string;
  reason: string;
  createdAt: number;
  expires: number | null;
  source: BanSource;
}

function encodeBanRecord(ban: Ban): BanRecord {
  return { v: RECORD_VERSION, ...ban };
}

/** The ban a stored record holds, or undefined when key or value do not validate. */
function decodeBanRecord(key: Deno.KvKey, value: unknown): Ban | undefined {
  if (key.length !== 3 || typeof key[1] !== "string" || typeof key[2] !== "string") return;
  if (typeof value !== "object" || value === null) return;
  const r = value as Partial<Record<keyof BanRecord, unknown>>;
  if (r.v !== RECORD_VERSION || r.kind !== key[1] || r.target !== key[2]) return;
  if (!BAN_KINDS.includes(r.kind as BanKind)) return;
  if (typeof r.reason !== "string" || r.reason.length > MAX_REASON_CHARS) return;
  if (typeof r.createdAt !== "number" || !Number.isFinite(r.createdAt)) return;
  if (!(r.expires === null || (typeof r.expires === "number" && Number.isFinite(r.expires)))) {
    return;
  }
  if (r.source !== "manual" && r.source !== "automatic") return;
  const kind = r.kind as BanKind;
  const target = r.target as string;
  // The target must already be canonical, or lookups (which canonicalize) would never find it.
  let canonical: string | undefined;
  if (kind === "peer") canonical = isPeerIdString(target) ? target : undefined;
  else if (kind === "ip") canonical = parseIp(target)?.text;
  else {
    const hp = parseHostPort(target);
    canonical = hp && formatHostPort(hp.ip, hp.port);
  }
  if (canonical !== target) return;
  if (kind === "addr" && r.expires === null) return; // IP+port bans are always timed
  return {
    kind,
    target,
    reason: r.reason,
    createdAt: r.createdAt,
    expires: r.expires as number | null,
    source: r.source,
  };
}

async function deleteKeys(
  kv: Deno.Kv,
  keys: readonly Deno.KvKey[],
  options: AbortOptions,
): Promise<void> {
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    options.signal?.throwIfAborted();
    const op = kv.atomic();
    for (const key of keys.slice(i, i + DELETE_BATCH)) op.delete(key);
    const result = await op.commit();
    if (!result.ok) throw new Error("KV refused to delete ban records");
  }
}

function cleanReason(reason: string): string {
  // One line, bounded: reasons may quote a peer's error text.
  // deno-lint-ignore no-control-regex
  const line = String(reason).replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}

function formatDuration(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

// ---------------------------------------------------------------------------------------------
// Targets and addresses

/**
 * Parses what an operator types after `net ban` / `net unban`: `1.2.3.4:4001`, `[::1]:4001`,
 * an IP, or a peer ID. Throws {@link UsageError} saying what was expected.
 */
export function parseBanTarget(text: string): BanTarget {
  const s = text.trim();
  if (s.length === 0) throw new UsageError("empty ban target: give a peer ID, ip:port or ip");
  const hp = parseHostPort(s);
  if (hp) return { kind: "addr", ip: hp.ip, port: hp.port };
  const ip = parseIp(s);
  if (ip) return { kind: "ip", ip: ip.text };
  if (isPeerIdString(s)) return { kind: "peer", peerId: s };
  throw new UsageError(
    `"${s}" is not a ban target: expected a peer ID (12D3KooW…, Qm…), ip:port ` +
      `(1.2.3.4:4001, [::1]:4001) or an IP (1.2.3.4, 2001:db8::1)`,
  );
}

/** True for a libp2p peer ID string: base58btc multihash (identity or sha2-256) or a CIDv1. */
export function isPeerIdString(text: string): boolean {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_PEER_ID_CHARS) {
    return false;
  }
  try {
    if (text.startsWith("Qm") || text.startsWith("1")) {
      const digest = Digest.decode(base58btc.baseDecode(text));
      if (digest.code === SHA2_256) return digest.digest.length === 32;
      return digest.code === IDENTITY && digest.digest.length > 0 &&
        digest.digest.length <= MAX_IDENTITY_DIGEST_BYTES;
    }
    const cid = CID.parse(text);
    return cid.version === 1 && cid.code === LIBP2P_KEY &&
      (cid.multihash.code === SHA2_256 || cid.multihash.code === IDENTITY);
  } catch {
    return false;
  }
}

/** A parsed IP: `text` is its canonical form (RFC 5952 for IPv6; IPv4-mapped IPv6 as IPv4). */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly text: string;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 address (no brackets, no zone), or returns undefined. */
export function parseIp(text: string): ParsedIp | undefined {
  if (typeof text !== "string" || text.length > 45) return undefined;
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, text, bytes: new Uint8Array(v4) };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  // IPv4-mapped (::ffff:a.b.c.d) is an IPv4 peer seen through a dual-stack socket: one identity.
  if (v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff) {
    const b = [v6[6] >> 8, v6[6] & 0xff, v6[7] >> 8, v6[7] & 0xff];
    return { family: 4, text: b.join("."), bytes: new Uint8Array(b) };
  }
  const bytes = new Uint8Array(16);
  v6.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { family: 6, text: formatIpv6(v6), bytes };
}

/**
 * The four octets of a dotted-quad IPv4 address, or undefined. A hand-rolled scan rather than
 * split + regex: the connection gater runs it for every inbound connection. Leading zeros are
 * refused ("010" is octal to some parsers and decimal to others), so a valid input is canonical.
 */
function parseIpv4(text: string): number[] | undefined {
  const out: number[] = [];
  let acc = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual "." ends the last octet
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && acc === 0) return undefined;
      acc = acc * 10 + (c - 0x30);
      if (++digits > 3 || acc > 255) return undefined;
    } else if (c === 0x2e) {
      if (digits === 0 || out.length === 4) return undefined;
      out.push(acc);
      acc = 0;
      digits = 0;
    } else return undefined;
  }
  return out.length === 4 ? out : undefined;
}

/** The canonical text of an IP (as `parseIp(text)?.text`), cheaper for the common IPv4 case. */
function canonicalIp(text: string): string | undefined {
  if (typeof text !== "string") return undefined;
  return parseIpv4(text) !== undefined ? text : parseIp(text)?.text;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a trailing dotted quad allowed). */
function parseIpv6(text: string): number[] | undefined {
  const n = text.length;
  if (n < 2) return undefined;
  const groups: number[] = [];
  let gap = -1; // where "::" stands, as an index into `groups`
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let value = 0;
    for (; j < n; j++) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
    }
    if (j < n && text.charCodeAt(j) === 0x2e) { // a dotted quad: the last 32 bits
      const v4 = parseIpv4(text.slice(i));
      if (v4 === undefined) return undefined;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      break;
    }
    if (j === i || j - i > 4 || groups.length === 8) return undefined;
    groups.push(value);
    if (j === n) break;
    if (text.charCodeAt(j) !== 0x3a) return undefined; // zones (%eth0) and junk end here
    j++;
    if (j < n && text.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      j++;
    } else if (j === n) return undefined; // a lone trailing ":"
    i = j;
  }
  if (gap < 0) return groups.length === 8 ? groups : undefined;
  if (groups.length > 7) return undefined;
  return [
    ...groups.slice(0, gap),
    ...new Array<number>(8 - groups.length).fill(0),
    ...groups.slice(gap),
  ];
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

function isPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** `1.2.3.4:4001` or `[2001:db8::1]:4001` for a canonical IP. */
export function formatHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Parses `1.2.3.4:4001` or `[::1]:4001` into a canonical IP and a port (1-65535). */
export function parseHostPort(text: string): { ip: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(text) ?? /^([0-9.]+):([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIp(m[1]);
  const port = Number(m[2]);
  if (!ip || !isPort(port)) return undefined;
  return { ip: ip.text, port };
}

/**
 * The IP and port of a multiaddr such as `/ip4/1.2.3.4/tcp/4001` or `/ip6/::1/udp/4001/quic-v1`
 * (anything after the port, `/p2p/<id>` included, is ignored), or undefined.
 */
export function parseMultiaddrAddr(addr: string): { ip: string; port: number } | undefined {
  const m = /^\/(ip4|ip6)\/([^/]+)\/(tcp|udp)\/([0-9]{1,5})(\/.*)?$/.exec(addr);
  if (!m) return undefined;
  const ip = parseIp(m[2]);
  const port = Number(m[4]);
  if (!ip || !isPort(port) || (ip.family === 4) !== (m[1] === "ip4")) return undefined;
  return { ip: ip.text, port };
}

/** A parsed CIDR range. */
export interface Cidr {
  readonly family: 4 | 6;
  /** Canonical form, e.g. `10.0.0.0/8`. */
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Parses `10.0.0.0/8` or `fd00::/8` (a bare IP is a one-address range), or undefined. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(ipText.trim());
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  // An IPv4-mapped address with an IPv6 prefix length: re-base the prefix on the IPv4 part.
  const mapped = ip.family === 4 && ipText.includes(":");
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim();
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    prefix = Number(p) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > max) return undefined;
  }
  const bytes = ip.bytes.slice();
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  const base = parseIp(
    ip.family === 4 ? Array.from(bytes).join(".") : formatIpv6(
      Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]),
    ),
  )!;
  return { family: ip.family, text: `${base.text}/${prefix}`, bytes, prefix };
}

/** True when `ip` lies inside `cidr` (families must match; IPv4-mapped IPv6 counts as IPv4). */
export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (cidr.bytes[full] & mask) === (ip.bytes[full] & mask);
}

/** True for 127.0.0.0/8 and ::1 (and their IPv4-mapped forms). */
export function isLoopback(ip: string): boolean {
  const parsed = parseIp(ip);
  return parsed !== undefined &&
    LOOPBACK_RANGES.some((r) => cidrContains(parseCidr(r)!, parsed));
}
