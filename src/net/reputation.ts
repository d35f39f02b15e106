/**
 * `Reputation`: one number per peer that says how useful or harmful it has been lately.
 *
 * Protocols report what a peer did as a {@link ReputationEventKind} (an invalid block, a timeout,
 * a useful answer); each kind has a default delta. Scores decay exponentially toward 0 with a
 * half-life, so old sins and old favours fade: the decay is computed lazily from the time of the
 * last update, no timers run. Crossing the disconnect or ban threshold downward is announced as a
 * typed `threshold` event; the host reacts (closes the connection, asks the ban list).
 *
 * Scale and thresholds follow gossipsub's peer score conventions (gossip threshold -500, publish
 * -1000, graylist -2500 in Lotus' `node/modules/lp2p/pubsub.go`, with roughly -100 per invalid
 * message), so that one node's numbers read the same in logs as the libp2p ones.
 *
 * Pure in-memory logic: persistence is `snapshot()` / `restore()` (plain data), and the peer book
 * keeps the scores of remembered peers across restarts.
 *
 * @module
 */
import { TypedEventTarget } from "../events.ts";
import { systemTime, type TimeSource } from "../clock/time_source.ts";

/** Lowest score: far enough below the ban threshold that a flood of penalties takes days to fade. */
export const SCORE_MIN = -10_000;
/**
 * Highest score: capped low so that goodwill banked over days cannot outweigh one MUST violation
 * (-1000) plus a few invalid messages.
 */
export const SCORE_MAX = 1_000;
/** Default half-life of a score: a -1000 ban-level score is back above -500 after 10 minutes. */
export const DEFAULT_HALF_LIFE_MS = 10 * 60_000;
/**
 * Default disconnect threshold, as gossipsub's gossip threshold (-500) in Lotus: five invalid
 * messages in quick succession.
 */
export const DEFAULT_DISCONNECT_BELOW = -500;
/** Default ban threshold, as gossipsub's publish threshold (-1000) in Lotus. */
export const DEFAULT_BAN_BELOW = -1_000;
/**
 * How long a MUST violation keeps a peer flagged (`mustViolation`), whatever its score: Forest
 * bans a peer for one hour on genesis mismatch, and a peer that has since fixed itself deserves a
 * fresh start after that.
 */
export const DEFAULT_MUST_VIOLATION_TTL_MS = 60 * 60_000;
/** Most peers tracked at once; beyond it the entry nearest 0 is dropped (it carries least news). */
export const DEFAULT_MAX_TRACKED_PEERS = 10_000;
/** A decayed score this close to 0 is dropped from memory: it no longer says anything. */
const FORGET_BELOW_ABS = 0.01;
/** Version tag of {@link ReputationSnapshot}. */
const SNAPSHOT_VERSION = 1;

/** What a peer did, as protocols report it. */
export type ReputationEventKind =
  | "invalid-message"
  | "malformed-message"
  | "protocol-violation"
  | "genesis-mismatch"
  | "timeout"
  | "duplicate-message"
  | "useless-message"
  | "useful-block"
  | "useful-answer"
  | "hello-ok";

/** The default effect of one event kind. */
export interface ReputationEventRule {
  /** Score change. */
  readonly delta: number;
  /** The peer broke a MUST rule of a spec: it is flagged and dropped regardless of its score. */
  readonly mustViolation: boolean;
}

/** Default deltas. Penalties are large and rewards small, so that misbehaviour is not bought off. */
export const REPUTATION_EVENTS: Readonly<Record<ReputationEventKind, ReputationEventRule>> = {
  // A message that decodes but fails validation (bad signature, bad block): gossipsub's
  // invalid-message penalty is about -100 per message at Lotus' weights.
  "invalid-message": { delta: -100, mustViolation: false },
  // Bytes that do not even decode: as bad as an invalid message.
  "malformed-message": { delta: -100, mustViolation: false },
  // Broke a MUST rule of a protocol (wrong stream sequence, oversized frame): ban level at once.
  "protocol-violation": { delta: -1_000, mustViolation: true },
  // Another chain: nothing this peer says is useful (Forest bans it for one hour).
  "genesis-mismatch": { delta: -1_000, mustViolation: true },
  // Slow or silent: could be the network, so a mild penalty.
  "timeout": { delta: -10, mustViolation: false },
  // Gossip duplicates are normal in a mesh; only many of them matter.
  "duplicate-message": { delta: -2, mustViolation: false },
  "useless-message": { delta: -1, mustViolation: false },
  "useful-block": { delta: 10, mustViolation: false },
  "useful-answer": { delta: 5, mustViolation: false },
  "hello-ok": { delta: 1, mustViolation: false },
};

/** Every event kind, for validation and CLI listings. */
export const REPUTATION_EVENT_KINDS: readonly ReputationEventKind[] = Object.keys(
  REPUTATION_EVENTS,
) as ReputationEventKind[];

/** Which threshold a score fell below. */
export type ThresholdName = "disconnect" | "ban";

/** Detail of a `threshold` event. */
export interface ThresholdCrossing {
  readonly peerId: string;
  /** Score after the event. */
  readonly score: number;
  /** The most severe threshold crossed (`"ban"` implies disconnect too). */
  readonly crossed: ThresholdName;
  /** The event that caused it. */
  readonly event: ReputationEventKind;
  /** True when the cause is a MUST violation: always reported as `"ban"`, whatever the score. */
  readonly mustViolation: boolean;
}

/** Events of {@link Reputation}. */
export type ReputationEventMap = {
  threshold: CustomEvent<ThresholdCrossing>;
};

/** One peer's standing, as {@link Reputation.get} reports it (score already decayed to now). */
export interface PeerStanding {
  readonly peerId: string;
  readonly score: number;
  /** Flagged by a MUST violation within the last `mustViolationTtlMs`. */
  readonly mustViolation: boolean;
}

/** Plain, structured-clone-safe form of the table, for persistence. */
export interface ReputationSnapshot {
  readonly version: 1;
  readonly peers: readonly {
    readonly peerId: string;
    /** Score at `updatedAt`, not decayed. */
    readonly score: number;
    readonly updatedAt: number;
    /** When the MUST-violation flag lapses, or null when not flagged. */
    readonly mustViolationUntil: number | null;
  }[];
}

/** Options of {@link Reputation}. */
export interface ReputationOptions {
  /** Where "now" comes from; the system clock by default. */
  time?: TimeSource;
  /** Half-life of the exponential decay toward 0 (ms). Default {@link DEFAULT_HALF_LIFE_MS}. */
  halfLifeMs?: number;
  /** Scores below this ask for a disconnect. Default {@link DEFAULT_DISCONNECT_BELOW}. */
  disconnectBelow?: number;
  /** Scores below this ask for a ban. Default {@link DEFAULT_BAN_BELOW}. */
  banBelow?: number;
  /** How long a MUST violation flags a peer. Default {@link DEFAULT_MUST_VIOLATION_TTL_MS}. */
  mustViolationTtlMs?: number;
  /** Most peers tracked. Default {@link DEFAULT_MAX_TRACKED_PEERS}. */
  maxTrackedPeers?: number;
  /** Overrides of the default deltas, per kind. */
  deltas?: Partial<Record<ReputationEventKind, number>>;
}

/** Options of one {@link Reputation.record} call. */
export interface RecordOptions {
  /** Use this delta instead of the kind's default (e.g. a penalty scaled by message size). */
  delta?: number;
}

interface Entry {
  score: number;
  updatedAt: number;
  mustViolationUntil: number | null;
}

/**
 * Peer scores with lazy exponential decay and threshold events.
 *
 * @example
 * ```ts
 * import { FakeTimeSource } from "../clock/time_source.ts";
 * import { Reputation } from "./reputation.ts";
 *
 * const time = new FakeTimeSource(0);
 * const reputation = new Reputation({ time });
 * reputation.addEventListener("threshold", (e) => console.log(e.detail.crossed));
 * reputation.record("QmPeer", "invalid-message"); // -100
 * time.advance(10 * 60_000);
 * reputation.score("QmPeer"); // -50: one half-life later
 * ```
 */
export class Reputation extends TypedEventTarget<ReputationEventMap> {
  readonly halfLifeMs: number;
  readonly disconnectBelow: number;
  readonly banBelow: number;
  readonly mustViolationTtlMs: number;
  readonly maxTrackedPeers: number;
  readonly #time: TimeSource;
  readonly #deltas: Readonly<Record<ReputationEventKind, number>>;
  readonly #peers = new Map<string, Entry>();

  constructor(options: ReputationOptions = {}) {
    super();
    this.#time = options.time ?? systemTime;
    this.halfLifeMs = positive("halfLifeMs", options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS);
    this.mustViolationTtlMs = positive(
      "mustViolationTtlMs",
      options.mustViolationTtlMs ?? DEFAULT_MUST_VIOLATION_TTL_MS,
    );
    this.maxTrackedPeers = positive(
      "maxTrackedPeers",
      options.maxTrackedPeers ?? DEFAULT_MAX_TRACKED_PEERS,
    );
    this.disconnectBelow = options.disconnectBelow ?? DEFAULT_DISCONNECT_BELOW;
    this.banBelow = options.banBelow ?? DEFAULT_BAN_BELOW;
    if (
      !Number.isFinite(this.disconnectBelow) || !Number.isFinite(this.banBelow) ||
      !(this.banBelow < this.disconnectBelow) || this.disconnectBelow > 0 ||
      this.banBelow <= SCORE_MIN
    ) {
      throw new RangeError(
        `reputation thresholds need ${SCORE_MIN} < banBelow < disconnectBelow <= 0, got ` +
          `banBelow ${this.banBelow}, disconnectBelow ${this.disconnectBelow}`,
      );
    }
    const deltas = {} as Record<ReputationEventKind, number>;
    for (const kind of REPUTATION_EVENT_KINDS) {
      const delta = options.deltas?.[kind] ?? REPUTATION_EVENTS[kind].delta;
      if (!Number.isFinite(delta)) throw new RangeError(`delta of ${kind} must be finite`);
      deltas[kind] = delta;
    }
    this.#deltas = deltas;
  }

  /**
   * Applies `event` to `peerId` and returns its new score (decayed to now, plus the delta,
   * clamped to [{@link SCORE_MIN}, {@link SCORE_MAX}]). Dispatches `threshold` when the score
   * falls below a threshold it was not below before, and always (as `"ban"`) on a MUST violation.
   */
  record(peerId: string, event: ReputationEventKind, options: RecordOptions = {}): number {
    const rule = REPUTATION_EVENTS[event];
    if (rule === undefined) throw new RangeError(`unknown reputation event: ${String(event)}`);
    const delta = options.delta ?? this.#deltas[event];
    if (!Number.isFinite(delta)) throw new RangeError("delta must be finite");
    const now = this.#time.now();
    const entry = this.#peers.get(peerId);
    const before = entry === undefined ? 0 : this.#decayed(entry, now);
    const after = clamp(before + delta);
    let mustViolationUntil = entry?.mustViolationUntil ?? null;
    if (mustViolationUntil !== null && mustViolationUntil <= now) mustViolationUntil = null;
    if (rule.mustViolation) mustViolationUntil = now + this.mustViolationTtlMs;
    if (entry === undefined) this.#makeRoom();
    this.#peers.set(peerId, { score: after, updatedAt: now, mustViolationUntil });

    let crossed: ThresholdName | undefined;
    if (rule.mustViolation || (before >= this.banBelow && after < this.banBelow)) crossed = "ban";
    else if (before >= this.disconnectBelow && after < this.disconnectBelow) crossed = "disconnect";
    if (crossed !== undefined) {
      this.dispatchEvent(
        new CustomEvent<ThresholdCrossing>("threshold", {
          detail: { peerId, score: after, crossed, event, mustViolation: rule.mustViolation },
        }),
      );
    }
    return after;
  }

  /** Current (decayed) score of `peerId`; 0 for a peer never seen. */
  score(peerId: string): number {
    const entry = this.#peers.get(peerId);
    return entry === undefined ? 0 : this.#decayed(entry, this.#time.now());
  }

  /** Score and MUST-violation flag of `peerId` (a peer never seen stands at 0, unflagged). */
  get(peerId: string): PeerStanding {
    const entry = this.#peers.get(peerId);
    if (entry === undefined) return { peerId, score: 0, mustViolation: false };
    const now = this.#time.now();
    return { peerId, score: this.#decayed(entry, now), mustViolation: this.#flagged(entry, now) };
  }

  /** True while `peerId` is flagged by a MUST violation. */
  mustViolation(peerId: string): boolean {
    const entry = this.#peers.get(peerId);
    return entry !== undefined && this.#flagged(entry, this.#time.now());
  }

  /** Every tracked peer, worst first (ascending score, then peer ID for a stable order). */
  ranked(): PeerStanding[] {
    const now = this.#time.now();
    const out: PeerStanding[] = [];
    for (const [peerId, entry] of this.#peers) {
      const score = this.#decayed(entry, now);
      const mustViolation = this.#flagged(entry, now);
      if (Math.abs(score) < FORGET_BELOW_ABS && !mustViolation) {
        this.#peers.delete(peerId); // faded to nothing: deleting during Map iteration is safe
        continue;
      }
      out.push({ peerId, score, mustViolation });
    }
    return out.sort((a, b) => a.score - b.score || compareIds(a.peerId, b.peerId));
  }

  /** Peers whose score is strictly below `threshold`, worst first. */
  below(threshold: number): PeerStanding[] {
    return this.ranked().filter((p) => p.score < threshold);
  }

  /** Drops everything known about `peerId`. Returns whether it was tracked. */
  forget(peerId: string): boolean {
    return this.#peers.delete(peerId);
  }

  /** Number of peers tracked. */
  get size(): number {
    return this.#peers.size;
  }

  /** The table as plain data (scores as last stored; decay resumes from `updatedAt`). */
  snapshot(): ReputationSnapshot {
    const now = this.#time.now();
    const peers = [];
    for (const [peerId, e] of this.#peers) {
      const flag = e.mustViolationUntil !== null && e.mustViolationUntil > now
        ? e.mustViolationUntil
        : null;
      peers.push({ peerId, score: e.score, updatedAt: e.updatedAt, mustViolationUntil: flag });
    }
    return { version: SNAPSHOT_VERSION, peers };
  }

  /**
   * Loads a snapshot over the current table (an entry in both is replaced). Invalid entries
   * (wrong types, non-finite numbers, times in the future) are skipped, never thrown on: a
   * snapshot comes from disk. Returns how many entries were taken and skipped.
   */
  restore(snapshot: unknown): { restored: number; skipped: number } {
    let restored = 0;
    let skipped = 0;
    const peers = isRecord(snapshot) && snapshot.version === SNAPSHOT_VERSION &&
        Array.isArray(snapshot.peers)
      ? snapshot.peers as unknown[]
      : undefined;
    if (peers === undefined) return { restored, skipped: 1 };
    const now = this.#time.now();
    for (const p of peers) {
      if (
        !isRecord(p) || typeof p.peerId !== "string" || p.peerId.length === 0 ||
        typeof p.score !== "number" || !Number.isFinite(p.score) ||
        typeof p.updatedAt !== "number" || !Number.isFinite(p.updatedAt) || p.updatedAt > now ||
        !(p.mustViolationUntil === null ||
          (typeof p.mustViolationUntil === "number" && Number.isFinite(p.mustViolationUntil)))
      ) {
        skipped++;
        continue;
      }
      if (!this.#peers.has(p.peerId)) this.#makeRoom();
      this.#peers.set(p.peerId, {
        score: clamp(p.score),
        updatedAt: p.updatedAt,
        mustViolationUntil: p.mustViolationUntil as number | null,
      });
      restored++;
    }
    return { restored, skipped };
  }

  /** `score · 2^(-Δt / halfLife)`: halves every half-life, exact at any Δt. */
  #decayed(entry: Entry, now: number): number {
    const dt = Math.max(0, now - entry.updatedAt);
    return dt === 0 ? entry.score : entry.score * Math.pow(2, -dt / this.halfLifeMs);
  }

  #flagged(entry: Entry, now: number): boolean {
    return entry.mustViolationUntil !== null && entry.mustViolationUntil > now;
  }

  /**
   * Keeps the table within `maxTrackedPeers` before a new entry goes in: drops faded entries, and
   * if none faded, the unflagged entry nearest 0. A scan, but only when full (rare: a Sybil flood).
   */
  #makeRoom(): void {
    if (this.#peers.size < this.maxTrackedPeers) return;
    const now = this.#time.now();
    let victim: string | undefined;
    let victimAbs = Infinity;
    for (const [peerId, entry] of this.#peers) {
      if (this.#flagged(entry, now)) continue;
      const abs = Math.abs(this.#decayed(entry, now));
      if (abs < FORGET_BELOW_ABS) this.#peers.delete(peerId);
      else if (abs < victimAbs) {
        victim = peerId;
        victimAbs = abs;
      }
    }
    if (this.#peers.size >= this.maxTrackedPeers && victim !== undefined) {
      this.#peers.delete(victim);
    }
  }
}

function clamp(score: number): number {
  return Math.min(SCORE_MAX, Math.max(SCORE_MIN, score));
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
