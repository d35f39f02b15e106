/**
 * How a ban on a misbehaving peer escalates: the ladder of rungs (how long, and at most how
 * wide), and the rule that widens a ban past the peer ID only as distinct peer IDs offend from
 * one IP. Pure policy: `BanList.banOffender` counts offences (`OffenceHistory`), asks
 * {@link escalate} what to ban, and applies it.
 *
 * @module
 */
import type { OffenceCount } from "./offence_history.ts";

const HOUR = 60 * 60_000;

/** The kinds a ban on an offender can take, narrowest first. */
export type OffenceBanKind = "peer" | "addr" | "ip";
/** Every {@link OffenceBanKind}, narrowest first. */
export const OFFENCE_BAN_KINDS: readonly OffenceBanKind[] = ["peer", "addr", "ip"];

/** One rung of the escalation ladder: the widest a ban may be at that rung, and how long. */
export interface EscalationRung {
  readonly kind: OffenceBanKind;
  readonly durationMs: number;
}

/**
 * The escalation ladder: rung n is reached at level n (see {@link escalate}). The first rung is
 * Forest's one-hour peer ban on genesis mismatch; each later rung lengthens the ban and may widen
 * it (port, then whole IP), as far as the distinct offenders seen from the IP allow (below).
 * Levels past the last rung repeat it with the duration doubled each time (IP-wide bans are then
 * clamped to the ban list's maximum).
 */
export const DEFAULT_ESCALATION: readonly EscalationRung[] = [
  { kind: "peer", durationMs: 1 * HOUR },
  { kind: "addr", durationMs: 6 * HOUR },
  { kind: "ip", durationMs: 24 * HOUR },
];

/**
 * Distinct offending peer IDs from one IP, within the window, before a ban may cover that IP and
 * port, and then the whole IP. Many honest peers share an IP (NAT, CGNAT, one host running
 * several nodes), so one peer ID re-offending stays a peer-ID ban however often it offends; the
 * net widens only when several identities offend from the same place, which is what an
 * offender cycling peer IDs looks like. The spec asks for bans "in increasing order" of breadth;
 * Lighthouse likewise bans an IP only once more than 5 banned peers share it
 * (`BANNED_PEERS_PER_IP_THRESHOLD`, lighthouse_network `peer_manager/peerdb.rs`); ours are lower
 * because our first widening is only to one port, and every rung is timed.
 */
export const ADDR_BAN_MIN_OFFENDERS = 2;
/** See {@link ADDR_BAN_MIN_OFFENDERS}. */
export const IP_BAN_MIN_OFFENDERS = 3;

/** Where an offender was, as far as escalation cares. */
export interface OffenderPlace {
  readonly peerId: string;
  /** Canonical IP; absent for relayed connections or an unparsable address. */
  readonly ip?: string;
  readonly port?: number;
  /** The spared range holding `ip` (loopback, allowlist), if any: never widened to. */
  readonly spared?: string;
}

/** What {@link escalate} decides. */
export interface EscalationStep {
  /** Offences by the peer ID, or distinct offenders from its IP, whichever is more. */
  readonly level: number;
  /** How wide the ban is. */
  readonly kind: OffenceBanKind;
  /** How long the ban lasts, before any clamp of IP-wide bans. */
  readonly durationMs: number;
  /** Why the ban is narrower than its rung, if it is. */
  readonly notice?: string;
}

/**
 * The ban an offence earns. The level (the peer ID's offences, or the distinct peer IDs that
 * offended from its IP, whichever is more) picks the rung: its duration (past the end: the last
 * rung, doubled per extra level) and the widest kind the ban may take. The kind applied is the
 * peer ID only until {@link ADDR_BAN_MIN_OFFENDERS} distinct peer IDs offended from the IP (then
 * IP+port, given a port), and {@link IP_BAN_MIN_OFFENDERS} (then the whole IP); never wider for a
 * spared IP or an unknown address.
 *
 * @example
 * ```ts
 * import { DEFAULT_ESCALATION, escalate } from "./escalation.ts";
 * const place = { peerId: "Qm…", ip: "203.0.113.7", port: 4001 };
 * // The same peer ID offending a third time: a longer ban, still by peer ID only.
 * escalate(DEFAULT_ESCALATION, { byPeer: 3, distinctPeersFromIp: 1 }, place).kind; // "peer"
 * ```
 */
export function escalate(
  ladder: readonly EscalationRung[],
  count: OffenceCount,
  place: OffenderPlace,
): EscalationStep {
  const level = Math.max(count.byPeer, count.distinctPeersFromIp);
  const last = ladder.length - 1;
  const rung = ladder[Math.min(level - 1, last)];
  const extra = Math.max(0, level - 1 - last);
  const durationMs = rung.durationMs * 2 ** Math.min(extra, 30);
  return { level, durationMs, ...breadth(rung.kind, count.distinctPeersFromIp, place) };
}

/**
 * How wide a ban at a rung of kind `widest` is: never wider than the distinct offenders from the
 * IP allow, nor than what is known of the address; and why, if narrower.
 */
function breadth(
  widest: OffenceBanKind,
  offenders: number,
  { peerId, ip, port, spared }: OffenderPlace,
): { kind: OffenceBanKind; notice?: string } {
  if (widest === "peer") return { kind: "peer" };
  if (ip === undefined) {
    const known = widest === "ip" ? "IP" : "IP and port";
    return { kind: "peer", notice: `no ${known} known for ${peerId}: banned by peer ID only` };
  }
  if (spared !== undefined) {
    return {
      kind: "peer",
      notice: `${ip} is in ${spared}, never IP-banned: banned ${peerId} by peer ID only`,
    };
  }
  const allowed: OffenceBanKind = offenders >= IP_BAN_MIN_OFFENDERS
    ? "ip"
    : offenders >= ADDR_BAN_MIN_OFFENDERS
    ? "addr"
    : "peer";
  let kind = OFFENCE_BAN_KINDS.indexOf(allowed) < OFFENCE_BAN_KINDS.indexOf(widest)
    ? allowed
    : widest;
  let notice: string | undefined;
  if (kind !== widest) {
    notice = `${offenders} peer ID${offenders === 1 ? "" : "s"} offended from ${ip}: ` +
      `${kind === "peer" ? `banned ${peerId} by peer ID only` : "banned IP+port, not the IP"} ` +
      `(IP+port from ${ADDR_BAN_MIN_OFFENDERS} offenders, the whole IP from ` +
      `${IP_BAN_MIN_OFFENDERS})`;
  }
  if (kind === "addr" && port === undefined) {
    kind = "peer";
    notice = `no port known for ${peerId}: banned by peer ID only`;
  }
  return notice === undefined ? { kind } : { kind, notice };
}
