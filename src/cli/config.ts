/**
 * `filnode config show|get|set|keys`: read and edit `<root>/config.toml`.
 *
 * Values print in their TOML form (durations as `"30s"`, not milliseconds) both as text and under
 * `--json`, so `config get` output can be fed back to `config set`. Warnings about unknown keys go
 * to stderr through `ctx.log`, so scripts reading stdout are not disturbed.
 */
import type { Command, CommandContext, CommandGroup } from "./command.ts";
import { repoLayout } from "../repo/layout.ts";
import {
  CONFIG_SCHEMA,
  type ConfigKey,
  configToToml,
  configToTomlValues,
  describeExpected,
  findConfigEntry,
  formatConfigValue,
  getConfigValue,
  loadConfig,
  setConfigValue,
  toTomlValue,
} from "../repo/config.ts";

function configPath(ctx: CommandContext): string {
  return repoLayout(ctx.root).config;
}

function logWarnings(ctx: CommandContext, warnings: readonly string[]): void {
  for (const w of warnings) ctx.log(`warning: ${w}`);
}

const show: Command = {
  name: "show",
  summary: "Print the effective config: the file's values over the defaults",
  help: "Prints every key, as TOML (or as JSON with --json). Unknown keys in the file are " +
    "reported on stderr.",
  arity: [0, 0],
  async run(ctx) {
    const { config, warnings } = await loadConfig(configPath(ctx), { signal: ctx.signal });
    logWarnings(ctx, warnings);
    ctx.print(configToTomlValues(config), () => configToToml(config).trimEnd());
  },
};

const get: Command = {
  name: "get",
  summary: "Print the effective value of one key",
  args: "KEY",
  help: "KEY is Section.Key, e.g. Chain.BlockDelay. Strings print bare; arrays print as JSON.",
  arity: [1, 1],
  async run(ctx, args) {
    // Resolve the key first: a typo is a usage error even when the file is broken.
    const entry = findConfigEntry(args.positionals[0]);
    const { config, warnings } = await loadConfig(configPath(ctx), { signal: ctx.signal });
    logWarnings(ctx, warnings);
    const value = getConfigValue(config, entry.key as ConfigKey);
    ctx.print(toTomlValue(entry, value), () => formatConfigValue(entry, value));
  },
};

const set: Command = {
  name: "set",
  summary: "Set one key in config.toml, keeping the file's comments and layout",
  args: "KEY VALUE",
  help: [
    "VALUE is parsed by the key's type: durations like 30s, 5m, 1h or -2s; true/false;",
    'lists as a JSON array (\'["/ip4/1.2.3.4/tcp/1"]\') or comma-separated ("a,b"; "" for none).',
    "A value starting with '-' needs '--' before it: filnode config set Clock.Offset -- -2s",
    "The file is only replaced if the result is valid. Restart the daemon to apply a change.",
  ].join("\n"),
  arity: [2, 2],
  async run(ctx, args) {
    const [key, value] = args.positionals;
    const result = await setConfigValue(configPath(ctx), key, value, { signal: ctx.signal });
    logWarnings(ctx, result.warnings);
    const entry = findConfigEntry(result.key);
    ctx.print(
      { key: result.key, value: toTomlValue(entry, result.value) },
      () => `${result.key} = ${formatConfigValue(entry, result.value)}`,
    );
  },
};

const keys: Command = {
  name: "keys",
  summary: "List every config key with its type, default and description",
  arity: [0, 0],
  run(ctx) {
    const rows = CONFIG_SCHEMA.map((e) => ({
      key: e.key,
      type: e.type,
      default: toTomlValue(e, e.default),
      doc: e.doc,
      expected: describeExpected(e),
    }));
    ctx.print(rows, () => {
      const cells = rows.map((r) => [r.key, r.type, JSON.stringify(r.default), r.doc]);
      const widths = [0, 1, 2].map((c) => Math.max(...cells.map((row) => row[c].length)));
      return cells
        .map((row) => row.map((cell, c) => c < 3 ? cell.padEnd(widths[c]) : cell).join("  "))
        .join("\n");
    });
    return Promise.resolve();
  },
};

/** The `config` command group. */
export const configCommands: CommandGroup = {
  name: "config",
  summary: "Show and edit the node's config.toml",
  commands: [show, get, set, keys],
};
