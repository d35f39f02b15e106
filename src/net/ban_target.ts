/**
 * What can be banned, and how it is written: the one grammar the CLI (`net ban`, `net unban`),
 * the control API (`Filnode.NetBan`, `Filecoin.NetBlockAdd`) and the ban list share, so every
 * entry point accepts the same text, refuses the same text with the same message, and keys a
 * ban by the same canonical form.
 *
 * | kind     | written as                              | canonical form           |
 * | -------- | --------------------------------------- | ------------------------ |
 * | `peer`   | `12D3KooW…`, `Qm…`, `bafz…` (libp2p-key) | base58btc                |
 * | `addr`   | `192.0.2.7:4001`, `[2001:db8::7]:4001`  | `ip:port`, `[ipv6]:port` |
 * | `ip`     | `192.0.2.7`, `2001:DB8::7`              | RFC 5952, mapped = IPv4  |
 * | `subnet` | `10.0.0.0/8`, `2001:db8::/32`           | base address, host bits 0 |
 *
 * A subnet needs a prefix of at least 1 (a `/0` would ban every address). Names (DNS) are not
 * targets: a ban must not depend on what a resolver answers.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { formatHostPort, isPort, parseHostPort, parseIp } from "./ip_address.ts";
import { parseCidr } from "./ip_range.ts";
import { parsePeerId } from "./peer_id_text.ts";

/** What a ban covers: one peer ID, one IP and port, one IP, or an IP range. */
export type BanKind = "peer" | "addr" | "ip" | "subnet";

/** Every kind, narrowest first (the order `net bans` lists them in). */
export const BAN_KINDS: readonly BanKind[] = ["peer", "addr", "ip", "subnet"];

/** A ban target in canonical text: what {@link parseBanTarget} returns. */
export interface BanTarget {
  readonly kind: BanKind;
  /** Peer ID, `ip:port` (`[ipv6]:port`), IP or `ip/prefix`, canonical (see the module doc). */
  readonly value: string;
}

/**
 * Text that is not a ban target, or a target its kind does not fit. A {@link UsageError}: the
 * operator can fix it, the CLI exits 1, and the API answers -32602 (invalid params).
 */
export class BanTargetError extends UsageError {}

/** Examples quoted by every refusal, so each entry point explains the grammar the same way. */
const EXAMPLES = "e.g. 12D3KooW…, 192.0.2.7, 192.0.2.7:4001, [2001:db8::7]:4001, 10.0.0.0/8";

/**
 * Parses what a user types as a ban target: a subnet when it has a `/`, else `ip:port`, an IP,
 * or a peer ID. Surrounding blanks are ignored; the value comes back canonical, so the same
 * target always has the same text.
 *
 * @example
 * ```ts
 * import { parseBanTarget } from "./ban_target.ts";
 * parseBanTarget("[2001:DB8::7]:4001"); // { kind: "addr", value: "[2001:db8::7]:4001" }
 * ```
 *
 * @throws {BanTargetError} saying what was expected.
 */
export function parseBanTarget(text: string): BanTarget {
  const s = String(text).trim();
  if (s.length === 0) throw new BanTargetError(`empty ban target (${EXAMPLES})`);
  const slash = s.indexOf("/");
  if (slash >= 0) return { kind: "subnet", value: parseSubnet(s, slash) };
  const hp = parseHostPort(s);
  if (hp) return { kind: "addr", value: formatHostPort(hp.ip, hp.port) };
  const ip = parseIp(s);
  if (ip) return { kind: "ip", value: ip.text };
  try {
    return { kind: "peer", value: parsePeerId(s) };
  } catch {
    throw new BanTargetError(
      `${JSON.stringify(s)} is neither a peer ID, an IP address nor a subnet, nor an ip:port ` +
        `(${EXAMPLES})`,
    );
  }
}

/**
 * The canonical form of a target given as kind and value (from code, or a JSON-RPC client that
 * sent both): the value must parse as that kind.
 *
 * @throws {BanTargetError} for an unknown kind or a value of another kind.
 */
export function canonicalBanTarget(target: BanTarget): BanTarget {
  const kind = (target as { kind: unknown }).kind;
  if (!BAN_KINDS.includes(kind as BanKind)) {
    throw new BanTargetError(`unknown ban kind: ${JSON.stringify(kind)}`);
  }
  const parsed = parseBanTarget(target.value);
  if (parsed.kind !== kind) {
    throw new BanTargetError(
      `${JSON.stringify(target.value)} is ${describeKind(parsed.kind)}, not ${
        describeKind(kind as BanKind)
      }`,
    );
  }
  return parsed;
}

/** An IP+port target from its parts, checked; e.g. an offender's connection address. */
export function addrBanTarget(ip: string, port: number): BanTarget {
  const parsed = parseIp(ip);
  if (parsed === undefined) throw new BanTargetError(`not an IP address: ${ip}`);
  if (!isPort(port)) throw new BanTargetError(`not a port (1-65535): ${port}`);
  return { kind: "addr", value: formatHostPort(parsed.text, port) };
}

/**
 * Checks that a ban of `target` may last `durationMs` (null: indefinitely). IP+port bans must be
 * timed: the port of an address is reused by other nodes long after the offender left.
 *
 * @throws {BanTargetError} for an untimed IP+port ban or a duration that is not positive.
 */
export function checkBanDuration(target: BanTarget, durationMs: number | null): void {
  if (durationMs !== null && !(Number.isFinite(durationMs) && durationMs > 0)) {
    throw new BanTargetError("ban duration must be a positive number of milliseconds");
  }
  if (target.kind === "addr" && durationMs === null) {
    throw new BanTargetError(`an IP+port ban needs a duration (ban ${target.value})`);
  }
}

/** "a peer ID", "an IP+port", "an IP address", "a subnet": for messages. */
export function describeKind(kind: BanKind): string {
  switch (kind) {
    case "peer":
      return "a peer ID";
    case "addr":
      return "an IP+port";
    case "ip":
      return "an IP address";
    case "subnet":
      return "a subnet";
  }
}

/** Canonical `ip/prefix` of the subnet `s` (with its first `/` at `slash`). */
function parseSubnet(s: string, slash: number): string {
  const ip = parseIp(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) {
    throw new BanTargetError(`not a subnet: ${JSON.stringify(s)} (want e.g. 10.0.0.0/8)`);
  }
  const max = ip.family === 4 ? 32 : 128;
  const cidr = parseCidr(s);
  if (!cidr || cidr.prefix < 1) {
    throw new BanTargetError(
      `subnet prefix must be 1 to ${max}, got ${prefixText} (a /0 would ban every address)`,
    );
  }
  return cidr.text;
}
