/**
 * IP ranges in CIDR form (`10.0.0.0/8`, `fd00::/8`): parsing to a canonical base address,
 * membership, overlap, and the loopback ranges a node never IP-bans.
 *
 * @module
 */
import { formatIpv6, type ParsedIp, parseIp } from "./ip_address.ts";

/** Ranges never IP-banned: a node's own tools and local test networks live there. */
export const LOOPBACK_RANGES: readonly string[] = ["127.0.0.0/8", "::1/128"];

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

/**
 * True when the two ranges share an address: CIDR ranges nest or are disjoint, so one of them
 * holds the other's base address.
 */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** True for 127.0.0.0/8 and ::1 (and their IPv4-mapped forms). */
export function isLoopback(ip: string): boolean {
  const parsed = parseIp(ip);
  return parsed !== undefined &&
    LOOPBACK_RANGES.some((r) => cidrContains(parseCidr(r)!, parsed));
}
