/**
 * The ban list's records in Deno KV: one record per ban, key `["bans", kind, target]`, value a
 * versioned plain object (`v: 1`). Decoding validates everything, so a corrupt or foreign
 * record is reported (and then deleted by the ban list) rather than trusted or thrown on.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import { BAN_KINDS, type BanKind, canonicalBanTarget } from "./ban_target.ts";

/** Version tag of stored records. */
const RECORD_VERSION = 1;
/** Reasons are operator-facing one-liners; a longer one (e.g. a peer's error text) is cut. */
export const MAX_REASON_CHARS = 200;
/** Deletes per atomic commit when sweeping (Deno KV allows 1000 mutations per atomic). */
const DELETE_BATCH = 500;

/** The KV key prefix every ban record lives under. */
export const BAN_KEY_PREFIX: Deno.KvKey = ["bans"];

/** Who asked for a ban: the operator (`net ban`) or the node itself (misbehaviour). */
export type BanSource = "manual" | "automatic";

/** One ban, as listed and stored. */
export interface Ban {
  readonly kind: BanKind;
  /** Peer ID, `ip:port` (`[ip]:port` for IPv6), IP or `ip/prefix`, in canonical form. */
  readonly target: string;
  readonly reason: string;
  /** When the ban was made (ms since the epoch). */
  readonly createdAt: number;
  /** When it lapses (ms since the epoch), or null for an indefinite ban. */
  readonly expires: number | null;
  readonly source: BanSource;
}

interface BanRecord {
  v: number;
  kind: BanKind;
  target: string;
  reason: string;
  createdAt: number;
  expires: number | null;
  source: BanSource;
}

/** The KV key of `ban`. */
export function banKey(kind: BanKind, target: string): Deno.KvKey {
  return [...BAN_KEY_PREFIX, kind, target];
}

/** The stored value of `ban`. */
export function encodeBanRecord(ban: Ban): BanRecord {
  return { v: RECORD_VERSION, ...ban };
}

/** The ban a stored record holds, or undefined when key or value do not validate. */
export function decodeBanRecord(key: Deno.KvKey, value: unknown): Ban | undefined {
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
  try {
    canonical = canonicalBanTarget({ kind, value: target }).value;
  } catch {
    return;
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

/** Deletes `keys` in atomic batches. */
export async function deleteBanRecords(
  kv: Deno.Kv,
  keys: readonly Deno.KvKey[],
  options: AbortOptions = {},
): Promise<void> {
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    options.signal?.throwIfAborted();
    const op = kv.atomic();
    for (const key of keys.slice(i, i + DELETE_BATCH)) op.delete(key);
    const result = await op.commit();
    if (!result.ok) throw new Error("KV refused to delete ban records");
  }
}

/** A reason as stored: one line (reasons may quote a peer's error text), bounded. */
export function cleanReason(reason: string): string {
  // deno-lint-ignore no-control-regex
  const line = String(reason).replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}
