/**
 * `OffenceHistory`: who offended recently, as the ban list's escalation reads it. Two questions,
 * both over a sliding window:
 *
 * - how many times has this peer ID offended? (how long its next ban lasts);
 * - how many distinct peer IDs have offended from this IP? (how wide the next ban may be).
 *
 * The second is counted by distinct peer IDs, never by offences: many honest peers share an IP
 * (NAT, CGNAT, a devnet on loopback), and one of them re-offending again and again is one
 * offender, who must not get its neighbours banned.
 *
 * Kept in memory only and bounded: under a flood of offenders the oldest histories are forgotten.
 *
 * @module
 */

/** Peer IDs and IPs with a history; beyond this the least recently offending is forgotten. */
const MAX_OFFENDER_KEYS = 10_000;
/**
 * Distinct offenders remembered per IP. Escalation needs only a few (see the ban list's
 * thresholds); a cap keeps one IP cycling through peer IDs from growing a map without bound.
 */
const MAX_PEERS_PER_IP = 64;

/** What one offence adds up to, this offence included. */
export interface OffenceCount {
  /** Offences by this peer ID within the window. */
  readonly byPeer: number;
  /** Distinct peer IDs that offended from this IP within the window; 0 when no IP counts. */
  readonly distinctPeersFromIp: number;
}

/** Offences per peer ID and offenders per IP over a sliding window. */
export class OffenceHistory {
  readonly windowMs: number;
  /** Offence times per peer ID, oldest first; Map order runs least to most recently offending. */
  readonly #byPeer = new Map<string, number[]>();
  /** Per IP: each offending peer ID and when it last offended from there. */
  readonly #byIp = new Map<string, Map<string, number>>();

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /**
   * Notes an offence by `peerId` at `now`, from `ip` when given (pass no IP where an IP says
   * nothing about who offended: relayed connections, loopback and allowlisted ranges).
   */
  record(peerId: string, ip: string | undefined, now: number): OffenceCount {
    const times = this.#recentByPeer(peerId, now) ?? [];
    times.push(now);
    touch(this.#byPeer, peerId, times);
    let distinctPeersFromIp = 0;
    if (ip !== undefined) {
      const peers = this.#recentByIp(ip, now) ?? new Map<string, number>();
      peers.delete(peerId);
      peers.set(peerId, now);
      if (peers.size > MAX_PEERS_PER_IP) peers.delete(peers.keys().next().value!);
      touch(this.#byIp, ip, peers);
      distinctPeersFromIp = peers.size;
    }
    return { byPeer: times.length, distinctPeersFromIp };
  }

  /** Forgets the offences of `peerId` (an operator lifted its ban). */
  forgetPeer(peerId: string): void {
    this.#byPeer.delete(peerId);
  }

  /** Forgets who offended from `ip` (an operator lifted its ban). */
  forgetIp(ip: string): void {
    this.#byIp.delete(ip);
  }

  /** Drops every history that has left the window. */
  prune(now: number): void {
    for (const peerId of [...this.#byPeer.keys()]) this.#recentByPeer(peerId, now);
    for (const ip of [...this.#byIp.keys()]) this.#recentByIp(ip, now);
  }

  /** Number of peer IDs and IPs with a history. */
  get size(): number {
    return this.#byPeer.size + this.#byIp.size;
  }

  /** The offence times of `peerId` still in the window, or undefined (and forgotten) if none. */
  #recentByPeer(peerId: string, now: number): number[] | undefined {
    const times = this.#byPeer.get(peerId);
    if (times === undefined) return undefined;
    const recent = times.filter((t) => now - t < this.windowMs);
    if (recent.length === 0) {
      this.#byPeer.delete(peerId);
      return undefined;
    }
    if (recent.length !== times.length) this.#byPeer.set(peerId, recent);
    return recent;
  }

  /** The peers that offended from `ip` within the window, or undefined (and forgotten). */
  #recentByIp(ip: string, now: number): Map<string, number> | undefined {
    const peers = this.#byIp.get(ip);
    if (peers === undefined) return undefined;
    for (const [peerId, last] of peers) if (now - last >= this.windowMs) peers.delete(peerId);
    if (peers.size === 0) {
      this.#byIp.delete(ip);
      return undefined;
    }
    return peers;
  }
}

/** Re-inserts `key` so Map order runs least to most recent, then bounds the map. */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_OFFENDER_KEYS) map.delete(map.keys().next().value!);
}
