/**
 * The node's user config: `<root>/config.toml`, Lotus-style sections with CamelCase keys,
 * addressed as `Section.Key` (`Store.Path`, `Network.MaxPeers`).
 *
 * The schema is one typed table, {@link CONFIG_SCHEMA}: adding a key is adding one entry there, and
 * the {@link Config} type follows from it. Loading never throws a stack trace at the operator:
 * syntax errors name `file:line:column`, bad values name the key, the value, what was expected and
 * the line; unknown keys become warnings so a typo is reported rather than silently ignored.
 *
 * Editing (`config set`) changes only the bytes of the one value it sets, so comments and layout
 * survive, and the result is parsed and validated before it atomically replaces the file.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const { config, warnings } = await loadConfig("/home/me/.filnode/config.toml");
 * for (const w of warnings) console.error(w);
 * console.log(config.Chain.BlockDelay); // 30000 (ms)
 * ```
 */
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import type { AbortOptions } from "../abort.ts";
import { UsageError, UserError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** A config file is a few KiB; refusing anything larger bounds memory before we decode it. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Owner-only: the config may hold a KV Connect URL and other operator-private settings. */
const CONFIG_FILE_MODE = 0o600;

/** Longest rendering of a bad value in an error message, so one line stays one line. */
const MAX_SHOWN_VALUE_CHARS = 60;

/** Comment lines in the default file wrap here, to read well in an 100-column editor. */
const COMMENT_WIDTH = 96;

const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Filecoin's largest block is far below this; 2 MiB is the floor our spec allows. */
const MIN_BLOCK_SIZE = 2 * 1024 * 1024;
const MAX_BLOCK_SIZE = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors

/** The config file or a value for it is wrong; the message is one line naming the key or line. */
export class ConfigError extends UserError {
  constructor(
    message: string,
    /** `Section.Key` the error is about, when it is about one key. */
    readonly key?: string,
    /** 1-based line in the file, when known. */
    readonly line?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A `Section.Key` that the schema does not know; the message lists close matches. */
export class UnknownConfigKeyError extends UsageError {
  constructor(readonly key: string, readonly suggestions: readonly string[]) {
    super(
      `unknown config key ${key}` +
        (suggestions.length > 0
          ? ` (did you mean ${suggestions.join(", ")}?)`
          : " (see `filnode config keys`)"),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Schema

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

/** One key of the config: its type, default, doc and the rules a value must follow. */
export interface ConfigEntry<
  K extends string = string,
  T extends ValueType = ValueType,
  V = ValueOfType<T>,
> {
  /** `Section.Key`, CamelCase as in Lotus. */
  readonly key: K;
  readonly type: T;
  /** Parsed form: durations in milliseconds. */
  readonly default: V;
  /** One line for `config keys` and the comment above the key in a new config file. */
  readonly doc: string;
  /** Further comment lines for the default config file. */
  readonly notes?: readonly string[];
  /** Inclusive bounds for integer, number and duration (milliseconds) values. */
  readonly min?: number;
  readonly max?: number;
  /** The only values allowed. */
  readonly enum?: readonly V[];
  /** Extra rule: returns what was expected when `value` breaks it. */
  check?(value: V): string | undefined;
}

/**
 * Keeps each entry's literal key and type for the derived {@link Config} type. The value type
 * comes from `enum` when there is one, else from `type`: never from `default`, which would make
 * `"devnet"` a literal type.
 */
function entry<const K extends string, const T extends ValueType, const V = ValueOfType<T>>(
  e: Omit<ConfigEntry<K, T, V>, "default" | "check"> & {
    readonly default: NoInfer<V>;
    readonly check?: (value: NoInfer<V>) => string | undefined;
  },
): ConfigEntry<K, T, V> {
  return e;
}

/**
 * Every config key, in the order of the default file. To add a key, add an entry here: types,
 * defaults, parsing, validation, docs and `config get/set/keys` follow from it.
 */
export const CONFIG_SCHEMA = [
  entry({
    key: "Store.Path",
    type: "string",
    default: "kv/store.sqlite",
    doc: "Deno KV database for blocks and chain state: a path relative to the root, absolute, " +
      "or a KV Connect URL",
    notes: [
      "A remote KV Connect URL (https://...) needs DENO_KV_ACCESS_TOKEN in the environment and",
      "an --allow-net grant for its host; plain http:// is accepted only for a loopback host.",
    ],
    check: checkStorePath,
  }),
  entry({
    key: "Store.MaxBlockSize",
    type: "integer",
    default: MIN_BLOCK_SIZE,
    doc: "Largest block in bytes the node stores or accepts from peers (2 MiB to 16 MiB)",
    min: MIN_BLOCK_SIZE,
    max: MAX_BLOCK_SIZE,
  }),
  entry({
    key: "Keystore.Insecure",
    type: "boolean",
    default: false,
    doc: "Store keys unencrypted; only for throwaway devnets",
  }),
  entry({
    key: "Keystore.AddressPrefix",
    type: "string",
    default: "f",
    enum: ["f", "t"],
    doc: 'Address network prefix: "f" for mainnet style, "t" for testnets',
  }),
  entry({
    key: "Chain.Network",
    type: "string",
    default: "devnet",
    doc: "Network name; peers on another network are disconnected",
    check: (v) =>
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) ? undefined : "a name of letters, digits, " +
        "'.', '_' or '-'",
  }),
  entry({
    key: "Chain.BlockDelay",
    type: "duration",
    default: 30_000,
    min: 1000,
    doc: "Time between epochs",
  }),
  entry({
    key: "Chain.GenesisTime",
    type: "integer",
    default: 0,
    min: 0,
    doc: "Genesis timestamp in unix seconds; 0 takes it from the genesis block",
  }),
  entry({
    key: "Clock.Offset",
    type: "duration",
    default: 0,
    doc: 'Correction added to the system clock; may be negative, e.g. "-2s"',
  }),
  entry({
    key: "Clock.MaxDrift",
    type: "duration",
    default: 1000,
    min: 0,
    doc: "How far in the future a block timestamp may be before it is rejected",
    notes: [
      "Lotus tolerates up to about one block delay; a small value catches bad clocks early.",
    ],
  }),
  entry({
    key: "API.ListenAddress",
    type: "string",
    default: "127.0.0.1:1234",
    doc: "host:port of the local control API; must be a loopback address",
    check: checkLoopbackAddress,
  }),
  entry({
    key: "Network.ListenAddresses",
    type: "multiaddr[]",
    default: ["/ip4/127.0.0.1/tcp/0"],
    doc: "libp2p multiaddrs to listen on",
  }),
  entry({
    key: "Network.Bootstrappers",
    type: "multiaddr[]",
    default: [],
    doc: "Peers dialled at start, as multiaddrs ending in /p2p/<peer id> (or /dnsaddr/ names)",
    check: (addrs) =>
      addrs.every((a) => a.includes("/p2p/") || a.startsWith("/dnsaddr/"))
        ? undefined
        : "multiaddrs ending in /p2p/<peer id> or /dnsaddr/<name>",
  }),
  entry({
    key: "Network.MinPeers",
    type: "integer",
    default: 25,
    min: 1,
    doc: "Peer count below which the node dials more peers",
  }),
  entry({
    key: "Network.MaxPeers",
    type: "integer",
    default: 50,
    min: 1,
    doc: "Peer count above which the node prunes connections; at least MinPeers",
  }),
] as const;

type Entries = typeof CONFIG_SCHEMA[number];

/** Every `Section.Key` the schema knows. */
export type ConfigKey = Entries["key"];

type SectionOf<K extends string> = K extends `${infer S}.${string}` ? S : never;

/** The value type of one key, e.g. `ConfigValueOf<"Chain.BlockDelay">` is `number`. */
export type ConfigValueOf<K extends ConfigKey> = Extract<Entries, { key: K }>["default"];

/** The effective config: `config.Section.Key`, durations in milliseconds. */
export type Config = {
  readonly [S in SectionOf<ConfigKey>]: {
    readonly [E in Entries as E["key"] extends `${S}.${infer F}` ? F : never]: E["default"];
  };
};

/**
 * A config-wide rule on several keys; `key` is the one the error names. Returns what was expected
 * when the rule is broken.
 */
interface CrossCheck {
  readonly key: ConfigKey;
  readonly related: readonly ConfigKey[];
  readonly check: (config: Config) => string | undefined;
}

const CROSS_CHECKS: readonly CrossCheck[] = [
  {
    key: "Network.MaxPeers",
    related: ["Network.MinPeers"],
    check: (c) =>
      c.Network.MaxPeers >= c.Network.MinPeers
        ? undefined
        : `an integer >= Network.MinPeers (${c.Network.MinPeers})`,
  },
];

/** Every entry, widened for code that walks the schema generically. */
const ENTRIES: readonly ConfigEntry[] = CONFIG_SCHEMA;
const ENTRY_BY_KEY = new Map(ENTRIES.map((e) => [e.key, e]));
const SECTIONS = [...new Set(ENTRIES.map((e) => sectionOf(e.key)))];

/** The config used when `config.toml` is absent or sets nothing. */
export const DEFAULT_CONFIG: Config = deepFreeze(buildDefaults());

function buildDefaults(): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of ENTRIES) {
    (out[sectionOf(e.key)] ??= {})[fieldOf(e.key)] = structuredClone(e.default);
  }
  return out as unknown as Config;
}

// ---------------------------------------------------------------------------------------------
// Key lookup

/**
 * The schema entry for `key`. An exact match wins; otherwise a unique case-insensitive match
 * (`store.path`), since operators type keys by hand.
 *
 * @throws {UnknownConfigKeyError} listing close matches.
 */
export function findConfigEntry(key: string): ConfigEntry {
  const exact = ENTRY_BY_KEY.get(key);
  if (exact) return exact;
  const folded = ENTRIES.filter((e) => e.key.toLowerCase() === key.toLowerCase());
  if (folded.length === 1) return folded[0];
  throw new UnknownConfigKeyError(key, suggestKeys(key));
}

/** Known keys close to `key` (edit distance, or the same field name in another section). */
export function suggestKeys(key: string, candidates: readonly string[] = [...ENTRY_BY_KEY.keys()]) {
  const want = key.toLowerCase();
  const wantField = want.includes(".") ? want.slice(want.lastIndexOf(".") + 1) : want;
  const scored = candidates.map((k) => {
    const lower = k.toLowerCase();
    const field = lower.slice(lower.lastIndexOf(".") + 1);
    const d = Math.min(editDistance(want, lower), editDistance(wantField, field));
    return { k, d };
  });
  const limit = Math.max(2, Math.floor(wantField.length / 3));
  return scored
    .filter(({ k, d }) => d <= limit || k.toLowerCase().includes(want))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, 4)
    .map(({ k }) => k);
}

/** Typed read of one key from a loaded config. */
export function getConfigValue<K extends ConfigKey>(config: Config, key: K): ConfigValueOf<K> {
  const section = (config as unknown as Record<string, Record<string, unknown>>)[sectionOf(key)];
  return section[fieldOf(key)] as ConfigValueOf<K>;
}

// ---------------------------------------------------------------------------------------------
// Values: durations, parsing CLI strings, validation, TOML rendering

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
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/**
 * Parses a value as the CLI gives it (`"30s"`, `"true"`, `'["a","b"]'` or `"a,b"`) for `entry`'s
 * type and checks the entry's own rules (not cross-field rules).
 *
 * @throws {ConfigError} naming the key, the value and what was expected.
 */
export function parseConfigValue(entry: ConfigEntry, text: string): unknown {
  const value = fromString(entry, text);
  if (value === INVALID) throw badValue(entry.key, text, describeExpected(entry));
  const problem = checkValue(entry, value);
  if (problem !== undefined) throw badValue(entry.key, text, problem);
  return value;
}

const INVALID = Symbol("invalid");

function fromString(entry: ConfigEntry, text: string): unknown {
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
      try {
        return parseDuration(text);
      } catch {
        return INVALID;
      }
    case "string[]":
    case "multiaddr[]": {
      const t = text.trim();
      if (t.startsWith("[")) {
        try {
          const arr: unknown = JSON.parse(t);
          return Array.isArray(arr) && arr.every((x) => typeof x === "string") ? arr : INVALID;
        } catch {
          return INVALID;
        }
      }
      return t.split(",").map((x) => x.trim()).filter((x) => x !== "");
    }
  }
}

/** Converts a value as smol-toml parsed it to the entry's type, or INVALID. */
function fromToml(entry: ConfigEntry, raw: unknown): unknown {
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
      if (typeof raw !== "string") return INVALID;
      try {
        return parseDuration(raw);
      } catch {
        return INVALID;
      }
    case "string[]":
    case "multiaddr[]":
      return Array.isArray(raw) && raw.every((x) => typeof x === "string") ? [...raw] : INVALID;
  }
}

/** The entry's own rules on an already typed value; returns what was expected when broken. */
function checkValue(entry: ConfigEntry, value: unknown): string | undefined {
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

/** The TOML literal for a typed value of `entry` (durations as strings). */
function toTomlLiteral(entry: ConfigEntry, value: unknown): string {
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

function checkStorePath(path: string): string | undefined {
  if (path.trim() === "") return "a non-empty path or KV Connect URL";
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return undefined;
  let url: URL;
  try {
    url = new URL(path);
  } catch {
    return "a path or a valid https:// KV Connect URL";
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return undefined;
  return "a path or an https:// KV Connect URL (http:// only for a loopback host)";
}

/** `host:port` where host is loopback: the control API is for this machine only. */
function checkLoopbackAddress(address: string): string | undefined {
  const expected = "host:port on a loopback host (127.0.0.1, [::1] or localhost), since " +
    "the control API is for this machine only";
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address.trim());
  if (!m) return expected;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return "host:port with a port from 1 to 65535";
  return isLoopbackHost(host) ? undefined : expected;
}

function isLoopbackHost(host: string): boolean {
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

// ---------------------------------------------------------------------------------------------
// Parsing and validating a whole file

/** Options for functions that name the file in their messages. */
export interface ConfigSourceOptions {
  /** Shown in messages; defaults to `config.toml`. */
  path?: string;
}

/** Result of loading: the effective config and any warnings (unknown keys, sections). */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/**
 * Parses and validates config text without touching the disk. Missing keys take defaults.
 *
 * @throws {ConfigError} on a syntax error (naming `file:line:column`) or a bad value (naming
 * `Section.Key`, the value, what was expected and the line).
 */
export function parseConfigText(text: string, options: ConfigSourceOptions = {}): LoadedConfig {
  const path = options.path ?? "config.toml";
  const raw = parseTomlOrThrow(text, path);
  return validateRaw(raw, scanToml(text), path);
}

function parseTomlOrThrow(text: string, path: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      // smol-toml's message carries a code excerpt after the first line; keep one line.
      const reason = err.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      throw new ConfigError(
        `${path}:${err.line}:${err.column}: invalid TOML: ${reason}`,
        undefined,
        err.line,
        { cause: err },
      );
    }
    throw err;
  }
}

function validateRaw(raw: Record<string, unknown>, scan: TomlScan, path: string): LoadedConfig {
  const warnings: string[] = [];
  const config = buildDefaults() as unknown as Record<string, Record<string, unknown>>;
  const where = (line: number | undefined) => line ? `${path} (line ${line})` : path;

  for (const [section, body] of Object.entries(raw)) {
    const sectionLine = scan.lineOf([section]);
    if (!SECTIONS.includes(section)) {
      const isTable = isPlainTable(body) ||
        (Array.isArray(body) && body.length > 0 && body.every(isPlainTable)); // [[Section]]
      // A bare top-level key is most likely a key written outside its section.
      const hint = suggestKeys(section, isTable ? SECTIONS : undefined).slice(0, 1);
      warnings.push(
        `unknown ${isTable ? "section" : "key"} ${section} in ${where(sectionLine)}` +
          (hint.length > 0 ? ` (did you mean ${hint[0]}?)` : ""),
      );
      continue;
    }
    if (!isPlainTable(body)) {
      throw new ConfigError(
        `invalid ${section} in ${where(sectionLine)}: got ${showValue(body)}, expected a table ` +
          `([${section}] section)`,
        section,
        sectionLine,
      );
    }
    for (const [field, value] of Object.entries(body)) {
      const key = `${section}.${field}`;
      const line = scan.lineOf([section, field]) ?? sectionLine;
      const entry = ENTRY_BY_KEY.get(key);
      if (!entry) {
        const hint = suggestKeys(key).slice(0, 1);
        warnings.push(
          `unknown key ${key} in ${where(line)}` +
            (hint.length > 0 ? ` (did you mean ${hint[0]}?)` : ""),
        );
        continue;
      }
      const typed = fromToml(entry, value);
      const problem = typed === INVALID ? describeExpected(entry) : checkValue(entry, typed);
      if (problem !== undefined) {
        throw new ConfigError(
          `invalid ${key} in ${where(line)}: got ${showValue(value)}, expected ${problem}`,
          key,
          line,
        );
      }
      config[section][field] = typed;
    }
  }

  const typedConfig = config as unknown as Config;
  for (const rule of CROSS_CHECKS) {
    const problem = rule.check(typedConfig);
    if (problem === undefined) continue;
    const located = [rule.key, ...rule.related].find((k) => scan.lineOf(splitKey(k)) !== undefined);
    const line = located ? scan.lineOf(splitKey(located)) : undefined;
    const entry = ENTRY_BY_KEY.get(rule.key)!;
    const value = getConfigValue(typedConfig, rule.key);
    const isSet = scan.lineOf(splitKey(rule.key)) !== undefined;
    throw new ConfigError(
      `invalid ${rule.key} in ${where(line)}: got ${formatConfigValue(entry, value)}` +
        `${isSet ? "" : " (default)"}, expected ${problem}`,
      rule.key,
      line,
    );
  }
  return { config: typedConfig, warnings };
}

function isPlainTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function showValue(v: unknown): string {
  let s: string;
  try {
    s = v instanceof Date ? v.toISOString() : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_SHOWN_VALUE_CHARS ? `${s.slice(0, MAX_SHOWN_VALUE_CHARS - 3)}...` : s;
}

function badValue(key: string, text: string, expected: string): ConfigError {
  return new ConfigError(`invalid ${key}: got ${showValue(text)}, expected ${expected}`, key);
}

// ---------------------------------------------------------------------------------------------
// Disk: load, set, write defaults

/**
 * Loads `config.toml`. A missing file gives the defaults; see {@link parseConfigText} for errors.
 */
export async function loadConfig(path: string, options: AbortOptions = {}): Promise<LoadedConfig> {
  const text = await readConfigFile(path, options);
  if (text === undefined) return { config: buildDefaults(), warnings: [] };
  return parseConfigText(text, { path });
}

/** Result of a set: the key as the schema spells it, its new typed value, and load warnings. */
export interface SetConfigResult {
  key: ConfigKey;
  value: unknown;
  warnings: string[];
}

/**
 * Sets one key from its CLI string form and rewrites the file atomically (temp file, fsync,
 * rename, mode 0600), changing only that value's bytes. If the file is missing it is created from
 * the commented default template. The edited text is parsed and fully validated first, so a set
 * never leaves an invalid file behind; on any error the file is untouched.
 *
 * @throws {UnknownConfigKeyError} for a key the schema does not know.
 * @throws {ConfigError} for a bad value, a broken existing file, or a failed write.
 */
export async function setConfigValue(
  path: string,
  key: string,
  value: string,
  options: AbortOptions = {},
): Promise<SetConfigResult> {
  const before = await readConfigFile(path, options) ?? defaultConfigText();
  const edit = editConfigText(before, key, value, { path });
  options.signal?.throwIfAborted();
  await writeFileAtomic(path, edit.text, options);
  return { key: edit.key, value: edit.value, warnings: edit.warnings };
}

/** Result of {@link editConfigText}. */
export interface EditResult extends SetConfigResult {
  text: string;
}

/**
 * Pure half of {@link setConfigValue}: returns `text` with `key` set to `value`, touching only the
 * bytes of that value (or inserting one line). Throws instead of returning invalid text.
 */
export function editConfigText(
  text: string,
  key: string,
  value: string,
  options: ConfigSourceOptions = {},
): EditResult {
  const path = options.path ?? "config.toml";
  const entry = findConfigEntry(key);
  const typed = parseConfigValue(entry, value);
  // A duration keeps the operator's spelling ("90s" stays "90s") once it is known to parse.
  const literal = entry.type === "duration"
    ? JSON.stringify(value.trim())
    : toTomlLiteral(entry, typed);

  const raw = parseTomlOrThrow(text, path);
  const scan = scanToml(text);
  const [section, field] = splitKey(entry.key);
  const newText = spliceValue(text, scan, section, field, literal);

  const newRaw = parseTomlOrThrow(newText, path);
  const result = validateRaw(newRaw, scanToml(newText), path);
  // Guard against a scanner mistake: the edit must change exactly one value.
  // (`raw` is ours to mutate; cloning would turn TomlDate values into plain Dates.)
  const expected = raw as Record<string, Record<string, unknown>>;
  if (!isPlainTable(expected[section])) expected[section] = {};
  expected[section][field] = (parseToml(`v = ${literal}`) as Record<string, unknown>).v;
  if (canonicalJson(expected) !== canonicalJson(newRaw)) {
    throw new Error(`config edit of ${entry.key} would change other values; file left untouched`);
  }
  return { key: entry.key as ConfigKey, value: typed, warnings: result.warnings, text: newText };
}

/** Values for a new config file: `Section.Key` to a typed value or a CLI-style string. */
export type ConfigOverrides = Readonly<Record<string, unknown>>;

/**
 * The default config file: every key under its section with its doc as a comment and its default
 * commented out (so a later release's default applies unless the operator sets one), followed by
 * `overrides` written as live values.
 *
 * @throws {UnknownConfigKeyError | ConfigError} for a bad override.
 */
export function defaultConfigText(overrides: ConfigOverrides = {}): string {
  const set = new Map<string, string>();
  for (const [key, v] of Object.entries(overrides)) {
    const entry = findConfigEntry(key);
    let typed: unknown;
    if (typeof v === "string") {
      typed = parseConfigValue(entry, v);
    } else {
      typed = v;
      const wrongType = entry.type === "duration"
        ? !Number.isSafeInteger(v)
        : fromToml(entry, v) === INVALID;
      const problem = wrongType ? describeExpected(entry) : checkValue(entry, typed);
      if (problem !== undefined) {
        throw new ConfigError(
          `invalid ${entry.key}: got ${showValue(v)}, expected ${problem}`,
          entry.key,
        );
      }
    }
    set.set(entry.key, toTomlLiteral(entry, typed));
  }

  const lines = [
    "# filnode config. Keys are addressed as Section.Key, e.g. `filnode config set Store.Path ...`.",
    "# Commented lines show the defaults; uncomment and edit, or use `filnode config set`.",
    "# Changes take effect when the daemon restarts.",
  ];
  for (const section of SECTIONS) {
    lines.push("", `[${section}]`);
    for (const e of ENTRIES.filter((x) => sectionOf(x.key) === section)) {
      const field = fieldOf(e.key);
      lines.push(...wrapComment(`${e.doc}.`, "  # "));
      for (const note of e.notes ?? []) lines.push(`  # ${note}`);
      lines.push(`  # type: ${e.type}; expected: ${describeExpected(e)}`);
      const live = set.get(e.key);
      lines.push(`  #${field} = ${toTomlLiteral(e, e.default)}`);
      if (live !== undefined) lines.push(`  ${field} = ${live}`);
      lines.push("");
    }
    lines.pop();
  }
  const text = lines.join("\n") + "\n";
  // The template must itself load cleanly, including cross-field rules on the overrides.
  parseConfigText(text, { path: "default config" });
  return text;
}

/** Options for {@link writeDefaultConfig}. */
export interface WriteDefaultOptions extends AbortOptions {
  /** Replace an existing file; without it an existing config is an error. */
  overwrite?: boolean;
}

/**
 * Writes the commented default config (see {@link defaultConfigText}) atomically, for
 * `filnode init`.
 *
 * @throws {ConfigError} if the file exists and `overwrite` is not set, or on a failed write.
 */
export async function writeDefaultConfig(
  path: string,
  overrides: ConfigOverrides = {},
  options: WriteDefaultOptions = {},
): Promise<void> {
  const text = defaultConfigText(overrides);
  if (!options.overwrite) {
    try {
      await Deno.lstat(path);
      throw new ConfigError(`${path} already exists; not overwriting it`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  options.signal?.throwIfAborted();
  await writeFileAtomic(path, text, options);
}

/** The effective config as TOML, every key present, sections in schema order. */
export function configToToml(config: Config): string {
  return stringifyToml(configToTomlValues(config));
}

/** The effective config with values in their TOML form (durations as `"30s"`), for JSON output. */
export function configToTomlValues(config: Config): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of ENTRIES) {
    const value = getConfigValue(config, e.key as ConfigKey);
    (out[sectionOf(e.key)] ??= {})[fieldOf(e.key)] = toTomlValue(e, value);
  }
  return out;
}

/**
 * Where the KV store lives: an absolute path (relative paths are taken from `root`) or the KV
 * Connect URL unchanged.
 */
export function resolveStorePath(root: string, config: Config): string {
  const p = config.Store.Path;
  if (/^https?:\/\//i.test(p) || isAbsolute(p)) return p;
  return join(root, p);
}

async function readConfigFile(path: string, options: AbortOptions): Promise<string | undefined> {
  options.signal?.throwIfAborted();
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new ConfigError(`cannot read config ${path}: not a file`);
    if (info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `cannot read config ${path}: ${info.size} bytes is over the ${MAX_CONFIG_BYTES} limit`,
      );
    }
    bytes = await Deno.readFile(path, { signal: options.signal });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof ConfigError || (err instanceof DOMException && err.name === "AbortError")) {
      throw err;
    }
    throw new ConfigError(`cannot read config ${path}: ${errorText(err)}`, undefined, undefined, {
      cause: err,
    });
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (err) {
    throw new ConfigError(`${path} is not valid UTF-8 text`, undefined, undefined, { cause: err });
  }
}

/** Temp file beside `path`, fsync, rename over it, fsync the folder: old or new, never a mix. */
async function writeFileAtomic(path: string, text: string, options: AbortOptions): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.config.toml.${crypto.randomUUID()}.tmp`);
  try {
    const file = await Deno.open(tmp, {
      write: true,
      createNew: true,
      mode: CONFIG_FILE_MODE,
    });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    // `mode` on open is masked by the umask; set it outright.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, CONFIG_FILE_MODE);
    options.signal?.throwIfAborted();
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ConfigError(`cannot write config ${path}: ${errorText(err)}`, undefined, undefined, {
      cause: err,
    });
  }
  // Make the rename itself durable; best effort where folders cannot be opened (Windows).
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // The new file is in place; only durability across a power cut is weaker here.
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

// ---------------------------------------------------------------------------------------------
// Editing text in place

/** Returns `text` with `section.field = literal`, changing as few bytes as possible. */
function spliceValue(
  text: string,
  scan: TomlScan,
  section: string,
  field: string,
  literal: string,
): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";

  // 1. The key is already there: replace just its value's bytes (comments after it stay).
  const existing = scan.pairs.find((p) => samePath(p.fullPath, [section, field]));
  if (existing) {
    return text.slice(0, existing.valueStart) + literal + text.slice(existing.valueEnd);
  }

  // 2. The section is an inline table `Section = { ... }`: add the key inside it.
  const inline = scan.pairs.find((p) =>
    samePath(p.fullPath, [section]) && text[p.valueStart] === "{"
  );
  if (inline) {
    const close = inline.valueEnd - 1; // the "}"
    let prev = close - 1;
    while (prev > inline.valueStart && /\s/.test(text[prev])) prev--;
    const pair = `${bareOrQuoted(field)} = ${literal}`;
    let insert = text[prev] === "{" || text[prev] === "," ? ` ${pair}` : `, ${pair}`;
    if (prev + 1 === close) insert += " ";
    return text.slice(0, prev + 1) + insert + text.slice(prev + 1);
  }

  // 3. A [Section] header exists: insert after the commented default `#Field = ...` if the
  //    template left one, else after the section's last key, else right after the header.
  const headerIndex = scan.headers.findIndex((h) => !h.array && samePath(h.path, [section]));
  if (headerIndex >= 0) {
    const header = scan.headers[headerIndex];
    const next = scan.headers.find((h) => h.start > header.start);
    const sectionEnd = next ? next.start : text.length;
    const body = text.slice(header.lineEnd, sectionEnd);
    const commentedRe = new RegExp(
      `^([ \\t]*)#[ \\t]*${escapeRegExp(field)}[ \\t]*=[^\\r\\n]*`,
      "gm",
    );
    // A commented line inside a multi-line value (an array spread over lines) is not a place.
    const commented = [...body.matchAll(commentedRe)].find((m) => {
      const at = header.lineEnd + m.index;
      return !scan.pairs.some((p) => p.valueStart <= at && at < p.valueEnd);
    });
    if (commented) {
      const at = header.lineEnd + commented.index + commented[0].length;
      return insertLine(text, at, `${commented[1]}${field} = ${literal}`, eol);
    }
    const last = scan.pairs.filter((p) => p.start > header.start && p.start < sectionEnd).at(-1);
    if (last) {
      return insertLine(
        text,
        last.lineEnd,
        `${indentAt(text, last.start)}${field} = ${literal}`,
        eol,
      );
    }
    return insertLine(text, header.lineEnd, `${field} = ${literal}`, eol);
  }

  // 4. The section exists only as top-level dotted keys (`Store.Path = ...`): add another.
  const dotted = scan.pairs.filter((p) =>
    p.tablePath.length === 0 && p.keyPath.length > 1 && p.keyPath[0] === section
  ).at(-1);
  if (dotted) {
    const line = `${indentAt(text, dotted.start)}${bareOrQuoted(section)}.${
      bareOrQuoted(field)
    } = ${literal}`;
    return insertLine(text, dotted.lineEnd, line, eol);
  }

  // 5. Nothing yet: append a new section.
  const sep = text === "" ? "" : text.endsWith("\n") ? eol : eol + eol;
  return `${text}${sep}[${section}]${eol}${field} = ${literal}${eol}`;
}

/** Inserts `line` as a new line after offset `at` (the end of an existing line). */
function insertLine(text: string, at: number, line: string, eol: string): string {
  if (at >= text.length) {
    return text + (text === "" || text.endsWith("\n") ? "" : eol) + line + eol;
  }
  // `at` is before the existing line break: keep that break, then add ours after the new line.
  return text.slice(0, at) + eol + line + text.slice(at);
}

function indentAt(text: string, start: number): string {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, start))![0];
}

function bareOrQuoted(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** Wraps a comment to {@link COMMENT_WIDTH} columns, each line starting with `prefix`. */
function wrapComment(text: string, prefix: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && prefix.length + line.length + 1 + word.length > COMMENT_WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(prefix + line);
  return lines;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------------------------
// A structural scan of (already valid) TOML: where each table header and key/value pair is.

interface ScannedHeader {
  readonly path: string[];
  readonly array: boolean;
  readonly start: number;
  /** Offset of the end of the header's line, before the line break. */
  readonly lineEnd: number;
  readonly line: number;
}

interface ScannedPair {
  /** Header path the pair sits under. */
  readonly tablePath: string[];
  readonly keyPath: string[];
  readonly fullPath: string[];
  readonly start: number;
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Offset of the end of the pair's last line, before the line break. */
  readonly lineEnd: number;
  readonly line: number;
}

interface TomlScan {
  readonly headers: ScannedHeader[];
  readonly pairs: ScannedPair[];
  /** 1-based line where `path` is defined (a key, a header or a dotted prefix), if any. */
  lineOf(path: readonly string[]): number | undefined;
}

/**
 * Finds the offsets of headers and top-level key/value pairs in TOML that smol-toml has already
 * accepted, so it only needs to know token boundaries (strings, brackets, comments), not semantics.
 */
function scanToml(text: string): TomlScan {
  const headers: ScannedHeader[] = [];
  const pairs: ScannedPair[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const lineAt = (offset: number) => {
    let lo = 0, hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  let i = 0;
  const skipSpace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  /** Skips spaces, line breaks and comments. */
  const skipBlank = () => {
    for (;;) {
      while (i < text.length && /[ \t\r\n]/.test(text[i])) i++;
      if (text[i] === "#") skipToLineEnd();
      else return;
    }
  };
  const skipToLineEnd = () => {
    while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
  };
  /** Offset of the end of the current line after an optional trailing comment. */
  const restOfLine = () => {
    skipSpace();
    if (text[i] === "#") skipToLineEnd();
    skipSpace();
    return i;
  };
  const readBasic = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    try {
      return JSON.parse(text.slice(start, i));
    } catch {
      return text.slice(start + 1, i - 1);
    }
  };
  const readLiteral = (): string => {
    const start = ++i;
    while (i < text.length && text[i] !== "'") i++;
    return text.slice(start, i++);
  };
  const readKey = (): string[] => {
    const path: string[] = [];
    for (;;) {
      skipSpace();
      if (text[i] === '"') path.push(readBasic());
      else if (text[i] === "'") path.push(readLiteral());
      else {
        const start = i;
        while (i < text.length && /[A-Za-z0-9_-]/.test(text[i])) i++;
        path.push(text.slice(start, i));
      }
      skipSpace();
      if (text[i] !== ".") return path;
      i++;
    }
  };
  const skipMultiline = (quote: string, escapes: boolean) => {
    i += 3;
    while (i < text.length) {
      if (escapes && text[i] === "\\") {
        i += 2;
        continue;
      }
      if (text.startsWith(quote.repeat(3), i)) {
        i += 3;
        // Up to two quotes may sit right before the closing delimiter.
        for (let extra = 0; extra < 2 && text[i] === quote; extra++) i++;
        return;
      }
      i++;
    }
  };
  const skipValue = (): void => {
    const c = text[i];
    if (text.startsWith('"""', i)) return skipMultiline('"', true);
    if (text.startsWith("'''", i)) return skipMultiline("'", false);
    if (c === '"') return void readBasic();
    if (c === "'") return void readLiteral();
    if (c === "[") {
      i++;
      for (;;) {
        skipBlank();
        if (text[i] === "]" || i >= text.length) return void i++;
        const before = i;
        skipValue();
        skipBlank();
        if (text[i] === ",") i++;
        if (i === before) i++; // never spin, whatever the input
      }
    }
    if (c === "{") {
      i++;
      for (;;) {
        skipBlank();
        if (text[i] === "}" || i >= text.length) return void i++;
        const before = i;
        readKey();
        skipSpace();
        i++; // "="
        skipSpace();
        skipValue();
        skipBlank();
        if (text[i] === ",") i++;
        if (i === before) i++;
      }
    }
    // Number, boolean, date/time: runs to a delimiter; a date may hold one inner space.
    while (i < text.length && !/[,\]}#\r\n]/.test(text[i])) i++;
    while (i > 0 && (text[i - 1] === " " || text[i - 1] === "\t")) i--;
  };

  let table: string[] = [];
  while (i < text.length) {
    skipBlank();
    if (i >= text.length) break;
    const start = i;
    if (text[i] === "[") {
      const array = text[i + 1] === "[";
      i += array ? 2 : 1;
      const path = readKey();
      i += array ? 2 : 1;
      const lineEnd = restOfLine();
      headers.push({ path, array, start, lineEnd, line: lineAt(start) });
      table = path;
      continue;
    }
    const keyPath = readKey();
    skipSpace();
    i++; // "="
    skipSpace();
    const valueStart = i;
    skipValue();
    const valueEnd = i;
    const lineEnd = restOfLine();
    pairs.push({
      tablePath: table,
      keyPath,
      fullPath: [...table, ...keyPath],
      start,
      valueStart,
      valueEnd,
      lineEnd,
      line: lineAt(start),
    });
  }

  const lineOf = (path: readonly string[]) => {
    const pair = pairs.find((p) => samePath(p.fullPath, path));
    if (pair) return pair.line;
    const header = headers.find((h) => samePath(h.path, path));
    if (header) return header.line;
    // Defined implicitly by a longer dotted key or sub-table header.
    const prefix = pairs.find((p) => startsWithPath(p.fullPath, path)) ??
      headers.find((h) => startsWithPath(h.path, path));
    return prefix?.line;
  };
  return { headers, pairs, lineOf };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function sectionOf(key: string): string {
  return key.slice(0, key.indexOf("."));
}

function fieldOf(key: string): string {
  return key.slice(key.indexOf(".") + 1);
}

function splitKey(key: string): [string, string] {
  return [sectionOf(key), fieldOf(key)];
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

function startsWithPath(a: readonly string[], prefix: readonly string[]): boolean {
  return a.length > prefix.length && prefix.every((x, k) => x === a[k]);
}

/** JSON with sorted keys, so two tables compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (!isPlainTable(v)) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
  });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let x = 1; x <= a.length; x++) {
    const cur = [x];
    for (let y = 1; y <= b.length; y++) {
      cur[y] = Math.min(prev[y] + 1, cur[y - 1] + 1, prev[y - 1] + (a[x - 1] === b[y - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
