/**
 * Config values: the kinds a key can hold, durations, reading a value from the CLI's string or
 * from parsed TOML, checking it against its schema entry's rules, and writing it back as TOML or
 * for people. Everything here works on one value of one {@link ConfigEntry}; whole files are
 * `config.ts`'s business.
 *
 * @module
 */
import { stringify as stringifyToml } from "smol-toml";
import { ConfigError, showValue } from "./config_errors.ts";
import type { ConfigEntry } from "./config_schema.ts";

/** Duration units, largest first as {@link formatDuration} writes them, in milliseconds. */
const DURATION_UNITS = [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const;
const MS_PER_UNIT: Readonly<Record<string, number>> = Object.fromEntries(DURATION_UNITS);

/**
 * Multiaddr protocols we expect in config and how many values follow each. A light syntax check
 * so typos fail at load; the libp2p layer does the full parse when it dials or listens.
 */
const MULTIADDR_PROTOCOLS: Readonly<Record<string, 0 | 1 | "rest">> = {
  ip4: 1,
  ip6: 1,
  dns: 1,
  dns4: 1,
  dns6: 1,
  dnsaddr: 1,
  tcp: 1,
  udp: 1,
  p2p: 1,
  ipfs: 1,
  sni: 1,
  certhash: 1,
  quic: 0,
  "quic-v1": 0,
  ws: 0,
  wss: 0,
  tls: 0,
  noise: 0,
  http: 0,
  https: 0,
  webtransport: 0,
  webrtc: 0,
  "webrtc-direct": 0,
  "p2p-circuit": 0,
  unix: "rest",
};

/** The kinds of value a config key can hold. Durations are strings in TOML, milliseconds here. */
export type ValueType =
  | "string"
  | "integer"
  | "number"
  | "boolean"
  | "duration"
  | "string[]"
  | "multiaddr"
  | "multiaddr[]";

/** The JavaScript type of a parsed value of each {@link ValueType}. */
export type ValueOfType<T extends ValueType> = T extends "string" | "multiaddr" ? string
  : T extends "integer" | "number" | "duration" ? number
  : T extends "boolean" ? boolean
  : T extends "string[]" | "multiaddr[]" ? string[]
  : never;

/** Returned by the `valueFrom*` readers for a value of the wrong type. */
export const INVALID = Symbol("invalid");

// ---------------------------------------------------------------------------------------------
// Durations

/**
 * Parses a duration like `"30s"`, `"5m"`, `"1h"`, `"1m30s"`, `"250ms"` or `"-2s"` to
 * milliseconds. `"0"` is zero. Units: ms, s, m, h.
 *
 * @throws {RangeError} on anything else, or on a result that is not whole milliseconds.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0" || s === "-0" || s === "+0") return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d+)?(?:ms|s|m|h))+)$/.exec(s);
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(text)}`);
  let ms = 0;
  for (const part of m[2].matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(part[1]) * MS_PER_UNIT[part[2]];
  }
  // Float sums like 0.1h + ... may carry rounding noise; anything not close to whole ms is an error.
  const rounded = Math.round(ms);
  if (Math.abs(ms - rounded) > 1e-6 || !Number.isSafeInteger(rounded)) {
    throw new RangeError(`duration ${JSON.stringify(text)} is not a whole number of milliseconds`);
  }
  return m[1] === "-" && rounded !== 0 ? -rounded : rounded;
}

/** Formats milliseconds as a duration string `parseDuration` reads back: `1m30s`, `-2s`, `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.abs(ms);
  let out = ms < 0 ? "-" : "";
  for (const [unit, size] of DURATION_UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

function durationOrInvalid(text: string): number | typeof INVALID {
  try {
    return parseDuration(text);
  } catch {
    return INVALID;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading and checking one value

/**
 * Parses a value as the CLI gives it (`"30s"`, `"true"`, `'["a","b"]'` or `"a,b"`) for `entry`'s
 * type and checks the entry's own rules (not cross-field rules).
 *
 * @throws {ConfigError} naming the key, the value and what was expected.
 */
export function parseConfigValue(entry: ConfigEntry, text: string): unknown {
  const value = valueFromCliText(entry, text);
  if (value === INVALID) throw badValueError(entry.key, text, describeExpected(entry));
  const problem = checkEntryRules(entry, value);
  if (problem !== undefined) throw badValueError(entry.key, text, problem);
  return value;
}

/** Converts the CLI's string form to the entry's type, or INVALID; rules are not checked. */
function valueFromCliText(entry: ConfigEntry, text: string): unknown {
  switch (entry.type) {
    case "string":
    case "multiaddr":
      return text;
    case "integer": {
      const t = text.trim();
      if (!/^[+-]?\d+(?:_\d+)*$/.test(t)) return INVALID;
      const n = Number(t.replaceAll("_", ""));
      return Number.isSafeInteger(n) ? n : INVALID;
    }
    case "number": {
      const t = text.trim();
      const n = t === "" ? NaN : Number(t);
      return Number.isFinite(n) ? n : INVALID;
    }
    case "boolean": {
      const t = text.trim().toLowerCase();
      return t === "true" ? true : t === "false" ? false : INVALID;
    }
    case "duration":
      return durationOrInvalid(text);
    case "string[]":
    case "multiaddr[]": {
      const t = text.trim();
      if (t.startsWith("[")) {
        try {
          const arr: unknown = JSON.parse(t);
          return isStringArray(arr) ? arr : INVALID;
        } catch {
          return INVALID;
        }
      }
      return t.split(",").map((x) => x.trim()).filter((x) => x !== "");
    }
  }
}

/** Converts a value as smol-toml parsed it to the entry's type, or INVALID; rules are not checked. */
export function valueFromToml(entry: ConfigEntry, raw: unknown): unknown {
  switch (entry.type) {
    case "string":
    case "multiaddr":
      return typeof raw === "string" ? raw : INVALID;
    case "integer":
      return typeof raw === "number" && Number.isSafeInteger(raw) ? raw : INVALID;
    case "number":
      return typeof raw === "number" && Number.isFinite(raw) ? raw : INVALID;
    case "boolean":
      return typeof raw === "boolean" ? raw : INVALID;
    case "duration":
      return typeof raw === "string" ? durationOrInvalid(raw) : INVALID;
    case "string[]":
    case "multiaddr[]":
      return isStringArray(raw) ? [...raw] : INVALID;
  }
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** The entry's own rules on an already typed value; returns what was expected when broken. */
export function checkEntryRules(entry: ConfigEntry, value: unknown): string | undefined {
  if (entry.enum && !(entry.enum as readonly unknown[]).includes(value)) {
    return describeExpected(entry);
  }
  if (typeof value === "number") {
    if (entry.min !== undefined && value < entry.min) return describeExpected(entry);
    if (entry.max !== undefined && value > entry.max) return describeExpected(entry);
  }
  if (entry.type === "multiaddr" && typeof value === "string") {
    const bad = checkMultiaddr(value);
    if (bad) return `a multiaddr (${bad})`;
  }
  if (entry.type === "multiaddr[]" && Array.isArray(value)) {
    for (const a of value as string[]) {
      const bad = checkMultiaddr(a);
      if (bad) return `an array of multiaddrs (${JSON.stringify(a)}: ${bad})`;
    }
  }
  return entry.check?.(value as ValueOfType<ValueType>);
}

/** What a valid value for `entry` looks like, for error messages and `config keys`. */
export function describeExpected(entry: ConfigEntry): string {
  if (entry.enum) return `one of ${entry.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  const show = (n: number) =>
    entry.type === "duration" ? JSON.stringify(formatDuration(n)) : `${n}`;
  const range = entry.min !== undefined && entry.max !== undefined
    ? ` from ${show(entry.min)} to ${show(entry.max)}`
    : entry.min !== undefined
    ? ` >= ${show(entry.min)}`
    : entry.max !== undefined
    ? ` <= ${show(entry.max)}`
    : "";
  switch (entry.type) {
    case "string":
      return "a string";
    case "multiaddr":
      return "a multiaddr string";
    case "integer":
      return `an integer${range}`;
    case "number":
      return `a number${range}`;
    case "boolean":
      return "true or false";
    case "duration":
      return `a duration like "30s", "5m", "1h" or "-2s" (units ms, s, m, h)${range}`;
    case "string[]":
      return "an array of strings";
    case "multiaddr[]":
      return "an array of multiaddr strings";
  }
}

function badValueError(key: string, text: string, expected: string): ConfigError {
  return new ConfigError(`invalid ${key}: got ${showValue(text)}, expected ${expected}`, key);
}

// ---------------------------------------------------------------------------------------------
// Writing one value

/** The TOML literal for a typed value of `entry` (durations as strings). */
export function toTomlLiteral(entry: ConfigEntry, value: unknown): string {
  return stringifyToml({ v: toTomlValue(entry, value) }).replace(/^v = /, "").trim();
}

/** The value as written in TOML (durations as strings), also used for `--json` output. */
export function toTomlValue(
  entry: ConfigEntry,
  value: unknown,
): string | number | boolean | string[] {
  if (entry.type === "duration") return formatDuration(value as number);
  return value as string | number | boolean | string[];
}

/** One value for people: strings bare, durations as `30s`, arrays as JSON. */
export function formatConfigValue(entry: ConfigEntry, value: unknown): string {
  const v = toTomlValue(entry, value);
  return typeof v === "string" ? v : JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** True for `localhost`, `::1` (bracketed or not) and any 127.x.x.x address. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const ip4 = parseIp4(h);
  return ip4 !== undefined && ip4[0] === 127;
}

function parseIp4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const nums = parts.map((p) => /^\d{1,3}$/.test(p) ? Number(p) : NaN);
  return nums.every((n) => n >= 0 && n <= 255) ? nums : undefined;
}

/** Returns what is wrong with a multiaddr string, or undefined. */
function checkMultiaddr(addr: string): string | undefined {
  if (!addr.startsWith("/")) return "must start with /";
  const parts = addr.slice(1).split("/");
  for (let i = 0; i < parts.length; i++) {
    const proto = parts[i];
    const arity = MULTIADDR_PROTOCOLS[proto];
    if (arity === undefined) return proto === "" ? "empty component" : `unknown protocol ${proto}`;
    if (arity === "rest") return i + 1 < parts.length ? undefined : `${proto} needs a value`;
    if (arity === 0) continue;
    const value = parts[++i];
    if (value === undefined || value === "") return `${proto} needs a value`;
    if (proto === "ip4" && !parseIp4(value)) return `bad ip4 address ${value}`;
    if (proto === "ip6" && !/^[0-9a-f:.]+$/i.test(value)) return `bad ip6 address ${value}`;
    if ((proto === "tcp" || proto === "udp") && !(/^\d{1,5}$/.test(value) && +value <= 65535)) {
      return `bad ${proto} port ${value}`;
    }
  }
  return undefined;
}
