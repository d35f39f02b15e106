/**
 * IP addresses as the connection gater and ban targets read them: IPv4 and IPv6 text (no DNS,
 * no zones), canonical forms (RFC 5952 for IPv6; IPv4-mapped IPv6 is the IPv4 peer it is), ports,
 * `ip:port` / `[ipv6]:port`, and the IP and port of a TCP/UDP multiaddr.
 *
 * Deliberately minimal and allocation-light: the gater parses every inbound connection's address
 * before any handshake work.
 *
 * @module
 */

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
export function canonicalIp(text: string): string | undefined {
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
export function formatIpv6(groups: readonly number[]): string {
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

/** True for a TCP/UDP port number a peer can listen on (1-65535). */
export function isPort(port: unknown): port is number {
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
