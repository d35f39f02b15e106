/**
 * The config schema: one typed table, {@link CONFIG_SCHEMA}, with an entry per `Section.Key`
 * (type, default, doc, rules), the {@link Config} type derived from it, the rules that span
 * several keys, the defaults, and looking a key up by the name an operator typed.
 *
 * @module
 */
import { UnknownConfigKeyError } from "./config_errors.ts";
import { isLoopbackHost, type ValueOfType, type ValueType } from "./config_values.ts";

/** Filecoin's largest block is far below this; 2 MiB is the floor our spec allows. */
const MIN_BLOCK_SIZE = 2 * 1024 * 1024;
const MAX_BLOCK_SIZE = 16 * 1024 * 1024;

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
    key: "Chain.ExchangeTimeout",
    type: "duration",
    default: 60_000,
    min: 1000,
    doc: "Longest wait for one chain exchange answer; a peer that takes longer is skipped and " +
      "loses reputation",
    notes: [
      "A stalling peer costs a sync this much for each request asked of it; after one failure a",
      "peer is not asked first again for 10 minutes.",
    ],
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
    doc: "host:port of the local control API; must be a loopback address (port 0: any free port)",
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
  entry({
    key: "Network.PruneInterval",
    type: "duration",
    default: 60_000,
    min: 1_000,
    doc: "How often the peer manager drops its lowest-ranked peers and fills slots",
  }),
  entry({
    key: "Network.DiscoveryInterval",
    type: "duration",
    default: 30_000,
    min: 1_000,
    doc: "How often, while below MinPeers, the node walks the DHT for new peers",
  }),
  entry({
    key: "Network.AllowPrivateAddresses",
    type: "boolean",
    default: false,
    doc: "Keep private and loopback addresses in the DHT (local devnets need this)",
  }),
  entry({
    key: "Network.BanAllowlist",
    type: "string[]",
    default: [],
    doc: "CIDR ranges never banned IP-wide (loopback always is spared), e.g. a shared NAT",
  }),
] as const;

type SchemaEntry = typeof CONFIG_SCHEMA[number];

/** Every `Section.Key` the schema knows. */
export type ConfigKey = SchemaEntry["key"];

type SectionOf<K extends string> = K extends `${infer S}.${string}` ? S : never;

/** The value type of one key, e.g. `ConfigValueOf<"Chain.BlockDelay">` is `number`. */
export type ConfigValueOf<K extends ConfigKey> = Extract<SchemaEntry, { key: K }>["default"];

/** The effective config: `config.Section.Key`, durations in milliseconds. */
export type Config = {
  readonly [S in SectionOf<ConfigKey>]: {
    readonly [E in SchemaEntry as E["key"] extends `${S}.${infer F}` ? F : never]: E["default"];
  };
};

/**
 * A config-wide rule on several keys; `key` is the one the error names. Returns what was expected
 * when the rule is broken.
 */
export interface CrossCheck {
  readonly key: ConfigKey;
  readonly related: readonly ConfigKey[];
  readonly check: (config: Config) => string | undefined;
}

/** Every rule that spans several keys, checked after each key's own rules pass. */
export const CROSS_CHECKS: readonly CrossCheck[] = [
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
export const SCHEMA_ENTRIES: readonly ConfigEntry[] = CONFIG_SCHEMA;
/** Entries by their exact `Section.Key`. */
export const ENTRY_BY_KEY: ReadonlyMap<string, ConfigEntry> = new Map(
  SCHEMA_ENTRIES.map((e) => [e.key, e]),
);
/** Section names in schema order, as the default file lists them. */
export const CONFIG_SECTIONS: readonly string[] = [
  ...new Set(SCHEMA_ENTRIES.map((e) => sectionOf(e.key))),
];

/** The config used when `config.toml` is absent or sets nothing. */
export const DEFAULT_CONFIG: Config = deepFreeze(freshDefaultConfig());

/** A new, unfrozen copy of the defaults, for a loader to overwrite key by key. */
export function freshDefaultConfig(): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of SCHEMA_ENTRIES) {
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
  const folded = SCHEMA_ENTRIES.filter((e) => e.key.toLowerCase() === key.toLowerCase());
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
// Rules of single keys

/** `Store.Path`: a path, or a KV Connect URL that is https (http only for loopback). */
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
  // Port 0: any free port (the daemon writes the one it got to `<root>/api`); devnets use it.
  if (port > 65535) return "host:port with a port from 0 to 65535";
  return isLoopbackHost(host) ? undefined : expected;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** `Store` of `Store.Path`. */
export function sectionOf(key: string): string {
  return key.slice(0, key.indexOf("."));
}

/** `Path` of `Store.Path`. */
export function fieldOf(key: string): string {
  return key.slice(key.indexOf(".") + 1);
}

/** `["Store", "Path"]` for `Store.Path`: the key's path in the TOML document. */
export function splitKey(key: string): [string, string] {
  return [sectionOf(key), fieldOf(key)];
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
