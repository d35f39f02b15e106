/**
 * `PeerSlots`: the connection slot policy, as pure decisions the host acts on. It never touches a
 * connection: the host asks {@link PeerSlots.admit} when a peer connects or before it dials, and
 * runs {@link PeerSlots.prunePlan} on a timer to rotate the weakest peers out.
 *
 * Ranking: a peer flagged with a MUST violation ranks lowest; then lower score ranks lower; at
 * equal score an inbound peer ranks below an outbound one (peers we chose ourselves are harder for
 * an attacker to plant, the eclipse-attack argument lodestar's peer manager also makes); then the
 * peer ID, for a stable order.
 *
 * @module
 */

/**
 * Default slot count: Lotus' connection manager keeps 150-180 libp2p connections, of which it
 * aims at 12-32 Filecoin peers; a full node that also serves sync gets more, so 50 (the
 * `Network.MaxPeers` default).
 */
export const DEFAULT_MAX_PEERS = 50;
/** Default floor (`Network.MinPeers`): below it the host dials more and prunes none for score. */
export const DEFAULT_MIN_PEERS = 25;
/** Share of slots kept free for inbound peers, so that new nodes can always join the network. */
export const DEFAULT_INBOUND_RESERVE = 0.05;
/** Share of slots the periodic prune frees from the lowest-ranked peers, to make room for better. */
export const DEFAULT_PRUNE_SHARE = 0.1;
/** Share of slots the periodic prune asks the host to fill from discovered peers. */
export const DEFAULT_FILL_SHARE = 0.05;

/** Which side opened the connection. */
export type Direction = "inbound" | "outbound";

/** A peer that is connected, or wants to be. */
export interface SlotPeer {
  readonly peerId: string;
  /** Current reputation score. */
  readonly score: number;
  readonly direction: Direction;
  /** Broke a MUST rule lately (see `Reputation.mustViolation`). */
  readonly mustViolation?: boolean;
}

/** Answer of {@link PeerSlots.admit}. */
export type AdmitDecision =
  | { readonly accept: true; readonly evict?: undefined }
  | { readonly accept: true; readonly evict: string }
  | { readonly accept: false; readonly reason: string };

/** Why a peer is in a prune plan. */
export type DropReason = "must-violation" | "over-capacity" | "low-rank";

/** Answer of {@link PeerSlots.prunePlan}. */
export interface PrunePlan {
  /** Peers to disconnect, in the order given by `reasons`. */
  readonly drop: readonly string[];
  /** Why each dropped peer is dropped. */
  readonly reasons: ReadonlyMap<string, DropReason>;
  /** How many discovered peers to dial next. */
  readonly fill: number;
}

/** Options of {@link PeerSlots}. */
export interface PeerSlotsOptions {
  /** Most connected peers. Default {@link DEFAULT_MAX_PEERS}. */
  maxPeers?: number;
  /** Floor the prune keeps (save MUST violators). Default {@link DEFAULT_MIN_PEERS}. */
  minPeers?: number;
  /** Share of slots reserved for inbound. Default {@link DEFAULT_INBOUND_RESERVE}. */
  inboundReserve?: number;
  /** Share of slots rotated out per prune. Default {@link DEFAULT_PRUNE_SHARE}. */
  pruneShare?: number;
  /** Share of slots to fill per prune. Default {@link DEFAULT_FILL_SHARE}. */
  fillShare?: number;
}

/**
 * Slot policy: admission with replacement, an inbound reserve, periodic rotation.
 *
 * @example
 * ```ts
 * import { PeerSlots } from "./peer_slots.ts";
 *
 * const slots = new PeerSlots({ maxPeers: 2, minPeers: 1 });
 * const connected = [
 *   { peerId: "a", score: 5, direction: "outbound" as const },
 *   { peerId: "b", score: -50, direction: "inbound" as const },
 * ];
 * slots.admit({ peerId: "c", score: 0, direction: "inbound" }, connected);
 * // { accept: true, evict: "b" }
 * ```
 */
export class PeerSlots {
  readonly maxPeers: number;
  readonly minPeers: number;
  /** Slots only inbound peers may take: `ceil(maxPeers · inboundReserve)`. */
  readonly inboundReserved: number;
  /** Peers the periodic prune rotates out: `ceil(maxPeers · pruneShare)`. */
  readonly rotateCount: number;
  /** Peers the periodic prune asks to dial: `ceil(maxPeers · fillShare)`. */
  readonly fillCount: number;

  constructor(options: PeerSlotsOptions = {}) {
    this.maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.minPeers = options.minPeers ?? DEFAULT_MIN_PEERS;
    if (!Number.isInteger(this.maxPeers) || this.maxPeers < 1) {
      throw new RangeError(`maxPeers must be an integer >= 1, got ${this.maxPeers}`);
    }
    if (!Number.isInteger(this.minPeers) || this.minPeers < 0 || this.minPeers > this.maxPeers) {
      throw new RangeError(
        `minPeers must be an integer in [0, maxPeers=${this.maxPeers}], got ${this.minPeers}`,
      );
    }
    const share = (name: string, v: number) => {
      if (!(v >= 0 && v < 1)) throw new RangeError(`${name} must be in [0, 1), got ${v}`);
      return Math.ceil(this.maxPeers * v);
    };
    this.inboundReserved = Math.min(
      this.maxPeers - 1,
      share("inboundReserve", options.inboundReserve ?? DEFAULT_INBOUND_RESERVE),
    );
    this.rotateCount = share("pruneShare", options.pruneShare ?? DEFAULT_PRUNE_SHARE);
    this.fillCount = share("fillShare", options.fillShare ?? DEFAULT_FILL_SHARE);
  }

  /** Slots outbound dials may fill: `maxPeers - inboundReserved`. */
  get outboundLimit(): number {
    return this.maxPeers - this.inboundReserved;
  }

  /**
   * Whether `candidate` may take a slot, given who is `connected` (one entry per peer; an entry
   * for the candidate itself is a second connection to a peer already counted, accepted as is).
   *
   * Outbound: accepted while fewer than {@link outboundLimit} slots are used, refused after, so
   * the reserve stays free for inbound. Inbound: accepted while a slot is free; when all are
   * taken, accepted with `evict` naming the lowest-ranked connected peer if the candidate ranks
   * higher, refused otherwise. A candidate flagged with a MUST violation is always refused.
   */
  admit(candidate: SlotPeer, connected: readonly SlotPeer[]): AdmitDecision {
    if (candidate.mustViolation) {
      return { accept: false, reason: "peer broke a MUST rule of the protocol lately" };
    }
    if (connected.some((p) => p.peerId === candidate.peerId)) return { accept: true };
    const used = new Set(connected.map((p) => p.peerId)).size;
    if (candidate.direction === "outbound") {
      if (used < this.outboundLimit) return { accept: true };
      return {
        accept: false,
        reason: `outbound slots full: ${used} of ${this.maxPeers} used, ` +
          `${this.inboundReserved} kept for inbound`,
      };
    }
    if (used < this.maxPeers) return { accept: true };
    const lowest = lowestRanked(connected);
    // Strictly higher on standing alone: the peer-ID tie-break must not churn equal peers.
    if (lowest !== undefined && compareStanding(candidate, lowest) > 0) {
      return { accept: true, evict: lowest.peerId };
    }
    return {
      accept: false,
      reason: `all ${this.maxPeers} slots taken by peers ranking at least as high ` +
        `(lowest score ${lowest?.score ?? "n/a"}, candidate ${candidate.score})`,
    };
  }

  /**
   * Which peers to disconnect now and how many to dial. Drops, in this order: every peer with a
   * MUST violation; peers beyond `maxPeers` (lowest-ranked first); then the lowest-ranked peers
   * up to {@link rotateCount}, but only while more than `minPeers` remain. `fill` is
   * {@link fillCount}, raised to reach `minPeers` and capped so as not to eat the inbound reserve.
   */
  prunePlan(connected: readonly SlotPeer[]): PrunePlan {
    const reasons = new Map<string, DropReason>();
    const rest: SlotPeer[] = [];
    for (const p of connected) {
      if (reasons.has(p.peerId)) continue;
      if (p.mustViolation) reasons.set(p.peerId, "must-violation");
      else rest.push(p);
    }
    const byRank = dedupe(rest).sort(compareRank);
    const over = Math.max(0, byRank.length - this.maxPeers);
    const rotate = Math.min(this.rotateCount, Math.max(0, byRank.length - over - this.minPeers));
    byRank.slice(0, over).forEach((p) => reasons.set(p.peerId, "over-capacity"));
    byRank.slice(over, over + rotate).forEach((p) => reasons.set(p.peerId, "low-rank"));
    const remaining = byRank.length - over - rotate;
    const room = Math.max(0, this.outboundLimit - remaining);
    const fill = Math.min(room, Math.max(this.fillCount, this.minPeers - remaining));
    return { drop: [...reasons.keys()], reasons, fill };
  }
}

/**
 * Rank order, lowest first: MUST violators, then by score, then inbound before outbound, then by
 * peer ID. Positive when `a` ranks higher than `b`.
 */
export function compareRank(a: SlotPeer, b: SlotPeer): number {
  const standing = compareStanding(a, b);
  if (standing !== 0) return standing;
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0;
}

/** {@link compareRank} without the peer-ID tie-break: 0 when neither ranks higher on merit. */
function compareStanding(a: SlotPeer, b: SlotPeer): number {
  const av = a.mustViolation ? 1 : 0;
  const bv = b.mustViolation ? 1 : 0;
  if (av !== bv) return bv - av;
  if (a.score !== b.score) return a.score - b.score;
  if (a.direction !== b.direction) return a.direction === "inbound" ? -1 : 1;
  return 0;
}

function lowestRanked(peers: readonly SlotPeer[]): SlotPeer | undefined {
  let lowest: SlotPeer | undefined;
  for (const p of peers) if (lowest === undefined || compareRank(p, lowest) < 0) lowest = p;
  return lowest;
}

/** One entry per peer ID (the first), so a peer with two connections is counted once. */
function dedupe(peers: readonly SlotPeer[]): SlotPeer[] {
  const seen = new Set<string>();
  return peers.filter((p) => !seen.has(p.peerId) && seen.add(p.peerId));
}
