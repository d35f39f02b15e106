/**
 * `BanList`: who may not connect, and until when. Four kinds of ban (written as
 * `src/net/ban_target.ts` defines):
 *
 * - `peer`: by peer ID, timed or indefinite;
 * - `addr`: by IP and port, timed (one node behind a shared IP);
 * - `ip`: by IP, timed and at most `maxIpBanMs` (an IP is often shared: NAT, CGNAT, VPN exits);
 * - `subnet`: by CIDR range, an operator's ban only, timed and at most `maxIpBanMs` like an IP.
 *
 * {@link BanList.isBanned} is what the connection gater calls before any handshake work, so it
 * is three `Map` lookups, plus a scan of the (few, operator-made) subnet bans when there are any.
 * Expired bans are ignored and dropped as they are met, and swept from disk by
 * {@link BanList.prune} and at load.
 *
 * IP-wide bans (IP and subnet) never cover loopback (127.0.0.0/8, ::1: local tools and test nodes)
 * nor the operator's allowlisted CIDR ranges. Offenders escalate, widening the ban only as
 * distinct peer IDs offend from one IP: see {@link BanList.banOffender}.
 *
 * Persistence: one KV record per ban (`src/net/ban_record.ts`), each change one atomic commit,
 * so bans survive restarts. A corrupt record is skipped and deleted at load, never thrown on.
 * Offence history (for escalation, `src/net/offence_history.ts`) stays in memory: after a restart
 * an offender starts over at the first rung, while the bans it earned stay in force.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";
import { UsageError, UserError } from "../errors.ts";
import {
  type Ban,
  BAN_KEY_PREFIX,
  banKey,
  type BanSource,
  cleanReason,
  decodeBanRecord,
  deleteBanRecords,
  encodeBanRecord,
} from "./ban_record.ts";
import {
  addrBanTarget,
  BAN_KINDS,
  type BanKind,
  type BanTarget,
  canonicalBanTarget,
  checkBanDuration,
  parseBanTarget,
} from "./ban_target.ts";
import { canonicalIp, formatHostPort, isPort, parseIp } from "./ip_address.ts";
import { type Cidr, cidrContains, cidrsOverlap, LOOPBACK_RANGES, parseCidr } from "./ip_range.ts";
import {
  ADDR_BAN_MIN_OFFENDERS,
  DEFAULT_ESCALATION,
  escalate,
  type EscalationRung,
  IP_BAN_MIN_OFFENDERS,
  OFFENCE_BAN_KINDS,
} from "./escalation.ts";
import { OffenceHistory } from "./offence_history.ts";
import { parsePeerId } from "./peer_id_text.ts";

export type { Ban, BanKind, BanSource, BanTarget, EscalationRung };
export { ADDR_BAN_MIN_OFFENDERS, DEFAULT_ESCALATION, IP_BAN_MIN_OFFENDERS };

const HOUR = 60 * 60_000;

/**
 * Longest IP-wide ban by default: an IP is often shared (NAT, CGNAT, cloud egress), so a
 * permanent IP ban would shut out innocent neighbours long after the offender moved on.
 */
export const DEFAULT_MAX_IP_BAN_MS = 24 * HOUR;
/** Offences older than this are forgiven when deciding the next rung of escalation. */
export const DEFAULT_OFFENCE_WINDOW_MS = 24 * HOUR;
/**
 * Subnet bans in force at once: the gater scans them on every connection, and they are typed by
 * an operator, so a few dozen is already a lot.
 */
const MAX_SUBNET_BANS = 256;
/** Deno KV `list` page: records read per round trip at load. */
const LIST_BATCH = 500;

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
   * How long (ms). Omitted or null: indefinite for a peer-ID ban, the maximum for an IP or
   * subnet ban; required for an IP+port ban.
   */
  durationMs?: number | null;
  /** Default `"manual"`. */
  source?: BanSource;
}

/** What {@link BanList.ban} did. */
export interface BanResult {
  readonly ban: Ban;
  /** True when an IP or subnet ban's duration was cut to the maximum; `notice` then says so. */
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
  /**
   * The rung reached: the offender's offences within the window, or the distinct peer IDs that
   * offended from its IP, whichever is more (1 for a first offence).
   */
  readonly level: number;
  /** Bans now in force because of this offence (an existing longer ban is kept as is). */
  readonly bans: readonly Ban[];
  /** Set when the rung's breadth was not applied: why the ban is narrower. */
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
 * Bans by peer ID, IP+port, IP and subnet, persisted in Deno KV.
 *
 * @example
 * ```ts ignore
 * const bans = await BanList.load(kv, { allowlist: ["10.0.0.0/8"] });
 * if (bans.isBanned({ peerId, ip, port })) return false; // connection gater: refuse early
 * await bans.banOffender({ peerId, ip, port }, "genesis mismatch");
 * await bans.ban(parseBanTarget("192.0.2.0/24"), { reason: "operator", durationMs: HOUR });
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
    subnet: new Map(),
  };
  /** The parsed range of each subnet ban, by its target text: the gater's scan reads these. */
  readonly #subnets = new Map<string, Cidr>();
  readonly #offences: OffenceHistory;

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
    this.#offences = new OffenceHistory(this.offenceWindowMs);
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
        OFFENCE_BAN_KINDS.includes(r.kind) && Number.isFinite(r.durationMs) &&
        r.durationMs > 0
      )
    ) {
      throw new UserError(
        "escalation needs at least one rung, each a kind (peer, addr, ip) and a positive duration",
      );
    }

    const now = (options.time ?? systemTime).now();
    const loaded: Ban[] = [];
    const doomed: Deno.KvKey[] = [];
    let expired = 0;
    let corrupt = 0;
    for await (const entry of kv.list({ prefix: BAN_KEY_PREFIX }, { batchSize: LIST_BATCH })) {
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
    await deleteBanRecords(kv, doomed, options);
    const list = new BanList(kv, options, spared, { loaded: loaded.length, expired, corrupt });
    for (const ban of loaded) list.#hold(ban);
    return list;
  }

  /**
   * The ban that stops a connection from `peerId` at `ip`:`port`, or undefined. Checks the peer
   * ID, then IP+port, then IP, then subnets; expired bans found on the way are dropped from
   * memory. O(1), plus O(subnet bans) when there are any.
   */
  isBanned(who: { peerId?: string; ip?: string; port?: number }): Ban | undefined {
    const now = this.#time.now();
    if (who.peerId !== undefined) {
      const ban = this.#live("peer", who.peerId, now);
      if (ban) return ban;
    }
    if (
      who.ip === undefined ||
      (this.#maps.addr.size === 0 && this.#maps.ip.size === 0 && this.#subnets.size === 0)
    ) {
      return undefined;
    }
    const ip = canonicalIp(who.ip);
    if (ip === undefined) return undefined;
    if (who.port !== undefined) {
      const ban = this.#live("addr", formatHostPort(ip, who.port), now);
      if (ban) return ban;
    }
    const ban = this.#live("ip", ip, now);
    if (ban || this.#subnets.size === 0) return ban;
    const parsed = parseIp(ip)!;
    for (const [target, cidr] of this.#subnets) {
      if (cidrContains(cidr, parsed)) {
        const ban = this.#live("subnet", target, now);
        if (ban) return ban;
      }
    }
    return undefined;
  }

  /**
   * Bans `target` and persists it. The ban holds in memory at once; if the KV write then fails,
   * the error propagates and the ban holds until the node restarts.
   *
   * Throws {@link UsageError} ({@link BanTargetError}) for a malformed target or duration, and
   * {@link UserError} when asked to IP-ban a loopback or allowlisted address or a subnet that
   * overlaps one. An IP or subnet ban longer than `maxIpBanMs` (or without a duration) is clamped,
   * and the result says so.
   */
  async ban(target: BanTarget, options: BanOptions): Promise<BanResult> {
    const { kind, value: key } = canonicalBanTarget(target);
    const now = this.#time.now();
    let durationMs = options.durationMs ?? null;
    checkBanDuration({ kind, value: key }, durationMs);
    let clamped = false;
    let notice: string | undefined;
    if (kind === "ip" || kind === "subnet") {
      this.#refuseSpared(kind, key);
      if (durationMs === null || durationMs > this.maxIpBanMs) {
        clamped = true;
        const what = kind === "ip" ? "IP" : "subnet";
        notice = `${what} bans last at most ${formatDuration(this.maxIpBanMs)}; ${key} is ` +
          `banned for ${formatDuration(this.maxIpBanMs)} instead of ${
            durationMs === null ? "indefinitely" : formatDuration(durationMs)
          }`;
        durationMs = this.maxIpBanMs;
      }
    }
    if (
      kind === "subnet" && !this.#subnets.has(key) && this.#subnets.size >= MAX_SUBNET_BANS
    ) {
      throw new UserError(
        `${MAX_SUBNET_BANS} subnet bans are in force already; unban some, or ban a wider subnet`,
      );
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
   * Bans a misbehaving peer, escalating with its record. Two counts over `offenceWindowMs` decide
   * the ban (see `OffenceHistory`):
   *
   * - the level: this peer ID's offences, or the distinct peer IDs that offended from its IP,
   *   whichever is more. Rung `level` of the ladder gives the duration (past the end: the last
   *   rung, doubled per extra offence) and the widest kind the ban may take;
   * - the breadth actually applied: the peer ID only, until {@link ADDR_BAN_MIN_OFFENDERS}
   *   distinct peer IDs offended from the IP (then IP+port), and {@link IP_BAN_MIN_OFFENDERS}
   *   (then the whole IP). So one peer ID re-offending, however often, never gets its IP banned.
   *
   * Loopback and allowlisted IPs count nothing by IP (unrelated peers share them) and are never
   * widened to; an offender with no IP known (relayed) is banned by peer ID only. Every ban
   * includes the peer ID for the rung's (unclamped) duration, so the offender cannot just move
   * to another address; IP bans are clamped to `maxIpBanMs`. An existing longer ban is never
   * shortened. `notice` says why a ban is narrower than its rung.
   */
  async banOffender(
    offender: Offender,
    reason: string,
    options: AbortOptions = {},
  ): Promise<OffenceResult> {
    let peerId: string;
    try {
      peerId = parsePeerId(offender.peerId);
    } catch {
      throw new UsageError(`not a peer ID: ${JSON.stringify(offender.peerId)}`);
    }
    const ip = offender.ip === undefined ? undefined : parseIp(offender.ip)?.text;
    const port = offender.port !== undefined && isPort(offender.port) ? offender.port : undefined;
    const now = this.#time.now();

    const spared = ip === undefined ? undefined : this.sparedBy(ip);
    // A spared IP counts nothing by IP: unrelated peers share it (see OffenceHistory).
    const counted = this.#offences.record(peerId, spared === undefined ? ip : undefined, now);
    const step = escalate(this.escalation, counted, { peerId, ip, port, spared });
    const { level, kind, notice } = step;
    // Peer IDs are not shared, so their bans grow unclamped; IP-wide bans stop at the maximum.
    const peerDurationMs = step.durationMs;
    const wanted: Ban[] = [];
    const clean = cleanReason(reason);
    const make = (k: BanKind, target: string, durationMs: number): Ban => ({
      kind: k,
      target,
      reason: clean,
      createdAt: now,
      expires: now + durationMs,
      source: "automatic",
    });
    wanted.push(make("peer", peerId, peerDurationMs));
    if (kind === "addr") {
      wanted.push(make("addr", addrBanTarget(ip!, port!).value, peerDurationMs));
    }
    if (kind === "ip") wanted.push(make("ip", ip!, Math.min(peerDurationMs, this.maxIpBanMs)));

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
   * Lifts the ban on `target`: a {@link BanTarget}, or its text (a peer ID, `ip:port`,
   * `[ipv6]:port`, an IP or a subnet). Also forgets the target's offence history. Returns the ban
   * lifted, or undefined when there was none. Throws {@link BanTargetError} (a
   * {@link UsageError}) for a target that is none of these.
   */
  async unban(target: BanTarget | string, options: AbortOptions = {}): Promise<Ban | undefined> {
    const { kind, value: key } = typeof target === "string"
      ? parseBanTarget(target)
      : canonicalBanTarget(target);
    options.signal?.throwIfAborted();
    const result = await this.#kv.atomic().delete(banKey(kind, key)).commit();
    if (!result.ok) throw new Error(`KV refused to delete ban ${kind} ${key}`);
    const ban = this.#live(kind, key, this.#time.now());
    this.#drop(kind, key);
    if (kind === "peer") this.#offences.forgetPeer(key);
    if (kind === "ip") this.#offences.forgetIp(key);
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
    return BAN_KINDS.reduce((n, kind) => n + this.#maps[kind].size, 0);
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
    this.#offences.prune(now);
    const doomed: Deno.KvKey[] = [];
    for await (
      const entry of this.#kv.list({ prefix: BAN_KEY_PREFIX }, { batchSize: LIST_BATCH })
    ) {
      options.signal?.throwIfAborted();
      const ban = decodeBanRecord(entry.key, entry.value);
      if (ban === undefined || (ban.expires !== null && ban.expires <= now)) {
        doomed.push(entry.key);
      }
    }
    await deleteBanRecords(this.#kv, doomed, options);
    return doomed.length;
  }

  /** The spared range (`loopback 127.0.0.0/8`, `allowlist 10.0.0.0/8`) holding `ip`, if any. */
  sparedBy(ip: string): string | undefined {
    const parsed = parseIp(ip);
    if (parsed === undefined) return undefined;
    for (const [i, cidr] of this.#spared.entries()) {
      if (cidrContains(cidr, parsed)) return this.#sparedName(i, cidr);
    }
    return undefined;
  }

  #sparedName(index: number, cidr: Cidr): string {
    return `${index < LOOPBACK_RANGES.length ? "loopback" : "allowlisted"} range ${cidr.text}`;
  }

  /** Throws a {@link UserError} when the IP or subnet `key` touches a spared range. */
  #refuseSpared(kind: "ip" | "subnet", key: string): void {
    if (kind === "ip") {
      const sparedBy = this.sparedBy(key);
      if (sparedBy === undefined) return;
      throw new UserError(
        `refusing to ban IP ${key}: it is in ${sparedBy}, which is never IP-banned; ` +
          `ban the peer ID or ${key.includes(":") ? `[${key}]` : key}:<port> instead`,
      );
    }
    const range = parseCidr(key)!;
    for (const [i, cidr] of this.#spared.entries()) {
      if (cidrsOverlap(cidr, range)) {
        throw new UserError(
          `refusing to ban subnet ${key}: it overlaps the ${this.#sparedName(i, cidr)}, which ` +
            `is never IP-banned; ban a narrower subnet, the IPs or the peer IDs instead`,
        );
      }
    }
  }

  /** Applies `bans` in memory, then writes them in one atomic commit. */
  async #put(bans: readonly Ban[], options: AbortOptions): Promise<void> {
    if (bans.length === 0) return;
    options.signal?.throwIfAborted();
    for (const ban of bans) this.#hold(ban);
    const op = this.#kv.atomic();
    for (const ban of bans) op.set(banKey(ban.kind, ban.target), encodeBanRecord(ban));
    const result = await op.commit();
    if (!result.ok) throw new Error("KV refused to store a ban");
  }

  /** Holds `ban` in memory (replacing a ban on the same target). */
  #hold(ban: Ban): void {
    this.#maps[ban.kind].set(ban.target, ban);
    if (ban.kind === "subnet") this.#subnets.set(ban.target, parseCidr(ban.target)!);
  }

  #drop(kind: BanKind, target: string): void {
    this.#maps[kind].delete(target);
    if (kind === "subnet") this.#subnets.delete(target);
  }

  /** The ban on `kind`/`target` if in force; an expired one is dropped from memory. */
  #live(kind: BanKind, target: string, now: number): Ban | undefined {
    const ban = this.#maps[kind].get(target);
    if (ban === undefined) return undefined;
    if (ban.expires !== null && ban.expires <= now) {
      this.#drop(kind, target);
      return undefined;
    }
    return ban;
  }
}

function formatDuration(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
