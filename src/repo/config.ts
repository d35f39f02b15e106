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
 * This file is the config's public surface and its file handling (whole-file validation, editing,
 * the default template, load/save). The parts live beside it, one concept each:
 * `config_schema.ts` (the key table, the {@link Config} type, defaults, key lookup),
 * `config_values.ts` (value types, durations, parsing, checking and formatting one value),
 * `config_text.ts` (scanning TOML text and editing it in place) and `config_errors.ts`.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const { config, warnings } = await loadConfig("/home/me/.filnode/config.toml");
 * for (const w of warnings) console.error(w);
 * console.log(config.Chain.BlockDelay); // 30000 (ms)
 * ```
 */
import { isAbsolute, join } from "node:path";
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import type { AbortOptions } from "../abort.ts";
import { ConfigError, showValue } from "./config_errors.ts";
import {
  type Config,
  CONFIG_SECTIONS,
  type ConfigKey,
  CROSS_CHECKS,
  ENTRY_BY_KEY,
  fieldOf,
  findConfigEntry,
  freshDefaultConfig,
  getConfigValue,
  SCHEMA_ENTRIES,
  sectionOf,
  splitKey,
  suggestKeys,
} from "./config_schema.ts";
import { scanToml, spliceTomlValue, type TomlScan } from "./config_text.ts";
import {
  checkEntryRules,
  describeExpected,
  formatConfigValue,
  INVALID,
  parseConfigValue,
  toTomlLiteral,
  toTomlValue,
  valueFromToml,
} from "./config_values.ts";
import { writeFileAtomic } from "./fs_atomic.ts";

// What callers import from here: the config's whole public surface, wherever it lives.
export { ConfigError, UnknownConfigKeyError } from "./config_errors.ts";
export {
  type Config,
  CONFIG_SCHEMA,
  type ConfigEntry,
  type ConfigKey,
  type ConfigValueOf,
  DEFAULT_CONFIG,
  findConfigEntry,
  getConfigValue,
  suggestKeys,
} from "./config_schema.ts";
export {
  describeExpected,
  formatConfigValue,
  formatDuration,
  parseConfigValue,
  parseDuration,
  toTomlValue,
  type ValueOfType,
  type ValueType,
} from "./config_values.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** A config file is a few KiB; refusing anything larger bounds memory before we decode it. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Owner-only: the config may hold a KV Connect URL and other operator-private settings. */
const CONFIG_FILE_MODE = 0o600;

/** Comment lines in the default file wrap here, to read well in an 100-column editor. */
const COMMENT_WIDTH = 96;

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
  return validateParsedToml(raw, scanToml(text), path);
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

/**
 * Checks what smol-toml parsed against the schema and fills in defaults; `scan` of the same text
 * gives the lines that messages name.
 */
function validateParsedToml(
  raw: Record<string, unknown>,
  scan: TomlScan,
  path: string,
): LoadedConfig {
  const warnings: string[] = [];
  const config = freshDefaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const where = (line: number | undefined) => line ? `${path} (line ${line})` : path;

  for (const [section, body] of Object.entries(raw)) {
    const sectionLine = scan.lineOf([section]);
    if (!CONFIG_SECTIONS.includes(section)) {
      const isTable = isPlainTable(body) ||
        (Array.isArray(body) && body.length > 0 && body.every(isPlainTable)); // [[Section]]
      // A bare top-level key is most likely a key written outside its section.
      const hint = suggestKeys(section, isTable ? CONFIG_SECTIONS : undefined).slice(0, 1);
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
      const typed = valueFromToml(entry, value);
      const problem = typed === INVALID ? describeExpected(entry) : checkEntryRules(entry, typed);
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
    // Name the line of the key itself if the file sets it, else of the first related key it sets.
    const keyLine = scan.lineOf(splitKey(rule.key));
    const line = keyLine ??
      rule.related.map((k) => scan.lineOf(splitKey(k))).find((l) => l !== undefined);
    const entry = ENTRY_BY_KEY.get(rule.key)!;
    const value = getConfigValue(typedConfig, rule.key);
    const isSet = keyLine !== undefined;
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

// ---------------------------------------------------------------------------------------------
// Editing text and writing the default template

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
  const newText = spliceTomlValue(text, scan, section, field, literal);

  const newRaw = parseTomlOrThrow(newText, path);
  const result = validateParsedToml(newRaw, scanToml(newText), path);
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

/** JSON with sorted keys, so two tables compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (!isPlainTable(v)) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
  });
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
        : valueFromToml(entry, v) === INVALID;
      const problem = wrongType ? describeExpected(entry) : checkEntryRules(entry, typed);
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
  for (const section of CONFIG_SECTIONS) {
    lines.push("", `[${section}]`);
    for (const e of SCHEMA_ENTRIES.filter((x) => sectionOf(x.key) === section)) {
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

// ---------------------------------------------------------------------------------------------
// Using the effective config: as TOML, and where its store lives

/** The effective config as TOML, every key present, sections in schema order. */
export function configToToml(config: Config): string {
  return stringifyToml(configToTomlValues(config));
}

/** The effective config with values in their TOML form (durations as `"30s"`), for JSON output. */
export function configToTomlValues(config: Config): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const e of SCHEMA_ENTRIES) {
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

// ---------------------------------------------------------------------------------------------
// Disk: load, set, write defaults

/**
 * Loads `config.toml`. A missing file gives the defaults; see {@link parseConfigText} for errors.
 */
export async function loadConfig(path: string, options: AbortOptions = {}): Promise<LoadedConfig> {
  const text = await readConfigFile(path, options);
  if (text === undefined) return { config: freshDefaultConfig(), warnings: [] };
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
  await writeConfigFile(path, edit.text, { ...options, overwrite: true });
  return { key: edit.key, value: edit.value, warnings: edit.warnings };
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
  options.signal?.throwIfAborted();
  const overwrite = options.overwrite ?? false;
  if (!await writeConfigFile(path, text, { signal: options.signal, overwrite })) {
    throw new ConfigError(`${path} already exists; not overwriting it`);
  }
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

/**
 * Writes the config atomically and owner-only (see {@link writeFileAtomic}). Returns false when
 * `overwrite` is off and a file is already there.
 *
 * @throws {ConfigError} naming the file for any failure but an abort, whose reason is rethrown.
 */
async function writeConfigFile(
  path: string,
  text: string,
  options: AbortOptions & { overwrite: boolean },
): Promise<boolean> {
  try {
    return await writeFileAtomic(path, text, {
      mode: CONFIG_FILE_MODE,
      overwrite: options.overwrite,
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ConfigError(`cannot write config ${path}: ${errorText(err)}`, undefined, undefined, {
      cause: err,
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}
