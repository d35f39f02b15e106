/**
 * The user config: schema defaults, parsing and validation of config.toml, in-place editing that
 * keeps the operator's bytes, atomic writes, and the `config` CLI verbs.
 *
 * Needs only --allow-read and --allow-write on temp dirs.
 */
import { type FakeCli, fakeCli } from "./_fake_cli.ts";
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import {
  CONFIG_SCHEMA,
  ConfigError,
  DEFAULT_CONFIG,
  defaultConfigText,
  editConfigText,
  formatDuration,
  loadConfig,
  parseConfigText,
  parseDuration,
  resolveStorePath,
  setConfigValue,
  UnknownConfigKeyError,
  writeDefaultConfig,
} from "../src/repo/config.ts";
import { configCommands } from "../src/cli/config.ts";
import { repoLayout } from "../src/repo/layout.ts";
import { UsageError, UserError } from "../src/errors.ts";
import { withTempDir } from "./_temp.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

/** Runs `fn` with a fresh temp root and removes it afterwards, whatever happens. */
function withRoot(fn: (root: string, configPath: string) => Promise<void>): Promise<void> {
  return withTempDir("filnode_config_test_", (root) => fn(root, repoLayout(root).config));
}

/** Requires `fn` to throw an instance of `type`; returns the error. */
function assertThrowsType<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  what = "",
): E {
  try {
    fn();
  } catch (err) {
    ok(err instanceof type, `${what}: expected ${type.name}, got ${err}`);
    return err;
  }
  throw new Error(`${what}: expected ${type.name}, nothing was thrown`);
}

async function assertRejectsType<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    ok(err instanceof type, `expected ${type.name}, got ${err}`);
    return err;
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

/** A message an operator sees: one line, no stack trace. */
function assertOneLine(err: Error): void {
  ok(!err.message.includes("\n"), `message spans lines: ${JSON.stringify(err.message)}`);
  ok(!/\bat .*:\d+:\d+/.test(err.message), `message holds a stack trace: ${err.message}`);
}

async function fileNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function runVerb(cli: FakeCli, verb: string, positionals: string[] = []): Promise<void> {
  const command = configCommands.commands.find((c) => c.name === verb);
  ok(command, `no config ${verb} command`);
  const [min, max] = command.arity ?? [0, Infinity];
  ok(positionals.length >= min && positionals.length <= max, `bad arity for ${verb}`);
  await command.run(cli.ctx, { positionals, values: {} });
}

// ---------------------------------------------------------------------------------------------
// Defaults and schema

Deno.test("loadConfig() returns the defaults and no warnings when config.toml is missing", async () => {
  await withRoot(async (_root, path) => {
    const { config, warnings } = await loadConfig(path);
    deepStrictEqual(warnings, []);
    deepStrictEqual(config, structuredClone(DEFAULT_CONFIG));
    // The result is the caller's to change; the shared defaults stay intact.
    (config.Network.Bootstrappers as string[]).push("/dnsaddr/x");
    deepStrictEqual(DEFAULT_CONFIG.Network.Bootstrappers, []);
  });
});

Deno.test("DEFAULT_CONFIG holds the documented defaults, durations in milliseconds", () => {
  deepStrictEqual(structuredClone(DEFAULT_CONFIG), {
    Store: { Path: "kv/store.sqlite", MaxBlockSize: 2097152 },
    Keystore: { Insecure: false, AddressPrefix: "f" },
    Chain: { Network: "devnet", BlockDelay: 30_000, GenesisTime: 0, ExchangeTimeout: 60_000 },
    Clock: { Offset: 0, MaxDrift: 1000 },
    API: { ListenAddress: "127.0.0.1:1234" },
    Network: {
      ListenAddresses: ["/ip4/127.0.0.1/tcp/0"],
      Bootstrappers: [],
      MinPeers: 25,
      MaxPeers: 50,
      PruneInterval: 60_000,
      DiscoveryInterval: 30_000,
      AllowPrivateAddresses: false,
      BanAllowlist: [],
    },
  });
  ok(Object.isFrozen(DEFAULT_CONFIG.Network.ListenAddresses));
});

Deno.test("every schema entry has a one-line doc and a default that passes its own rules", () => {
  for (const e of CONFIG_SCHEMA) {
    match(e.key, /^[A-Z][A-Za-z]*\.[A-Z][A-Za-z]*$/);
    ok(e.doc.length > 0 && !e.doc.includes("\n"), `${e.key} doc`);
  }
  // The template carries every default; it must load cleanly.
  deepStrictEqual(parseConfigText(defaultConfigText()).warnings, []);
});

// ---------------------------------------------------------------------------------------------
// Durations

Deno.test("parseDuration() reads s, m, h, ms, compound and negative durations", () => {
  equal(parseDuration("30s"), 30_000);
  equal(parseDuration("5m"), 300_000);
  equal(parseDuration("1h"), 3_600_000);
  equal(parseDuration("250ms"), 250);
  equal(parseDuration("1m30s"), 90_000);
  equal(parseDuration("1.5s"), 1500);
  equal(parseDuration("-2s"), -2000);
  equal(parseDuration("0"), 0);
  equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration() throws RangeError on bad units, bare numbers and fractions of a ms", () => {
  for (const bad of ["5", "5x", "1d", "s", "", "--2s", "1 s", "0.5ms", "1.s", "2S", "ms5"]) {
    assertThrowsType(() => parseDuration(bad), RangeError);
  }
});

Deno.test("formatDuration() output parses back to the same milliseconds", () => {
  for (const ms of [0, 1, 999, 1000, 1500, 90_000, -2000, 3_723_004, 86_400_000]) {
    equal(parseDuration(formatDuration(ms)), ms, `${ms} -> ${formatDuration(ms)}`);
  }
  equal(formatDuration(90_000), "1m30s");
  equal(formatDuration(-2000), "-2s");
});

// ---------------------------------------------------------------------------------------------
// Loading errors and warnings

Deno.test("loadConfig() names file and line:column of a TOML syntax error, in one line", async () => {
  await withRoot(async (_root, path) => {
    await Deno.writeTextFile(path, '[Store]\nPath = "x"\nMaxBlockSize = = 3\n');
    const err = await assertRejectsType(() => loadConfig(path), ConfigError);
    ok(err instanceof UserError);
    ok(err.message.startsWith(`${path}:3:`), err.message);
    equal(err.line, 3);
    assertOneLine(err);
  });
});

Deno.test("loadConfig() rejects an unterminated string and an unclosed section header", () => {
  for (const [text, line] of [['[Chain]\nNetwork = "dev\n', 2], ["[Chain\n", 1]] as const) {
    const err = assertThrowsType(() => parseConfigText(text, { path: "c.toml" }), ConfigError);
    match(err.message, new RegExp(`^c\\.toml:${line}:\\d+: invalid TOML`));
    assertOneLine(err);
  }
});

Deno.test("loadConfig() names Section.Key, the value, the expectation and the line of a wrong type", async () => {
  await withRoot(async (_root, path) => {
    await Deno.writeTextFile(path, "# my node\n[Chain]\nNetwork = 'n'\nBlockDelay = 30\n");
    const err = await assertRejectsType(() => loadConfig(path), ConfigError);
    equal(err.key, "Chain.BlockDelay");
    equal(err.line, 4);
    match(err.message, /Chain\.BlockDelay/);
    match(err.message, /got 30\b/);
    match(err.message, /expected a duration/);
    match(err.message, /line 4/);
    ok(err.message.includes(path));
    assertOneLine(err);
  });
});

Deno.test("parseConfigText() rejects out-of-range, enum and multiaddr values, naming each key", () => {
  const cases: [string, string][] = [
    ["[Store]\nMaxBlockSize = 1048576\n", "Store.MaxBlockSize"],
    ["[Store]\nMaxBlockSize = 16777217\n", "Store.MaxBlockSize"],
    ["[Store]\nMaxBlockSize = 2097152.5\n", "Store.MaxBlockSize"],
    ['[Keystore]\nAddressPrefix = "x"\n', "Keystore.AddressPrefix"],
    ['[Keystore]\nInsecure = "yes"\n', "Keystore.Insecure"],
    ['[Chain]\nBlockDelay = "500ms"\n', "Chain.BlockDelay"],
    ["[Chain]\nGenesisTime = -1\n", "Chain.GenesisTime"],
    ['[Clock]\nMaxDrift = "-1s"\n', "Clock.MaxDrift"],
    ['[Network]\nListenAddresses = ["/ip4/1.2.3/tcp/1"]\n', "Network.ListenAddresses"],
    ['[Network]\nListenAddresses = "/ip4/1.2.3.4/tcp/1"\n', "Network.ListenAddresses"],
    ['[Network]\nListenAddresses = ["/ip4/1.2.3.4/tcp/99999"]\n', "Network.ListenAddresses"],
    ['[Network]\nBootstrappers = ["/ip4/1.2.3.4/tcp/1"]\n', "Network.Bootstrappers"],
    ["[Network]\nMinPeers = 0\n", "Network.MinPeers"],
    ['[Store]\nPath = "ftp://kv.example"\n', "Store.Path"],
    ['[Store]\nPath = "http://kv.example"\n', "Store.Path"],
    ["Store = 5\n", "Store"],
  ];
  for (const [text, key] of cases) {
    const err = assertThrowsType(() => parseConfigText(text), ConfigError, text);
    equal(err.key, key, err.message);
    assertOneLine(err);
  }
});

Deno.test("loadConfig() warns about unknown keys and sections with their lines and a guess", async () => {
  await withRoot(async (_root, path) => {
    await Deno.writeTextFile(
      path,
      "[Chain]\nNetwork = 'n'\n\n# typo below\nBlokDelay = '5s'\n\n[Netwrk]\nMaxPeers = 3\n",
    );
    const { config, warnings } = await loadConfig(path);
    equal(config.Chain.Network, "n");
    equal(config.Chain.BlockDelay, 30_000, "a typo'd key must not set the real one");
    deepStrictEqual(warnings, [
      `unknown key Chain.BlokDelay in ${path} (line 5) (did you mean Chain.BlockDelay?)`,
      `unknown section Netwrk in ${path} (line 7) (did you mean Network?)`,
    ]);
  });
});

Deno.test("loadConfig() rejects a file that is not UTF-8 text", async () => {
  await withRoot(async (_root, path) => {
    await Deno.writeFile(path, new Uint8Array([0x5b, 0x53, 0x5d, 0x0a, 0xff, 0xfe, 0x80, 0x0a]));
    const err = await assertRejectsType(() => loadConfig(path), ConfigError);
    match(err.message, /not valid UTF-8/);
  });
});

Deno.test("loadConfig() reads values given as dotted keys and inline tables", () => {
  const { config } = parseConfigText(
    'Store.Path = "/srv/kv"\nChain = { Network = "calibnet", BlockDelay = "1m" }\n',
  );
  equal(config.Store.Path, "/srv/kv");
  equal(config.Chain.Network, "calibnet");
  equal(config.Chain.BlockDelay, 60_000);
});

// ---------------------------------------------------------------------------------------------
// Cross-field and loopback rules

Deno.test("MinPeers above MaxPeers is rejected on load and on set, naming Network.MaxPeers", async () => {
  const err = assertThrowsType(
    () => parseConfigText("[Network]\nMinPeers = 10\nMaxPeers = 5\n"),
    ConfigError,
  );
  equal(err.key, "Network.MaxPeers");
  match(err.message, /got 5, expected an integer >= Network\.MinPeers \(10\)/);
  equal(err.line, 3);

  await withRoot(async (_root, path) => {
    // Default MaxPeers is 50, so MinPeers 60 alone breaks the rule.
    const setErr = await assertRejectsType(
      () => setConfigValue(path, "Network.MinPeers", "60"),
      ConfigError,
    );
    match(setErr.message, /Network\.MaxPeers.*\(default\).*Network\.MinPeers \(60\)/);
    deepStrictEqual(await fileNames(_root), [], "nothing written");
  });
});

Deno.test("API.ListenAddress accepts only loopback host:port", () => {
  for (
    const ok_ of ["127.0.0.1:1234", "127.8.9.10:1", "localhost:1234", "[::1]:1234", "127.0.0.1:0"]
  ) {
    equal(parseConfigText(`[API]\nListenAddress = "${ok_}"\n`).config.API.ListenAddress, ok_);
  }
  for (const bad of ["0.0.0.0:1234", "192.168.1.2:1234", "example.com:1234", "[::]:1234"]) {
    const err = assertThrowsType(
      () => parseConfigText(`[API]\nListenAddress = "${bad}"\n`),
      ConfigError,
    );
    match(err.message, /API\.ListenAddress.*loopback/);
  }
  for (const bad of ["127.0.0.1", "127.0.0.1:70000", ":1234"]) {
    assertThrowsType(() => parseConfigText(`[API]\nListenAddress = "${bad}"\n`), ConfigError);
  }
});

Deno.test("Store.Path takes relative and absolute paths and https KV Connect URLs", () => {
  const at = (path: string) =>
    resolveStorePath("/root", parseConfigText(`[Store]\nPath = "${path}"\n`).config);
  equal(at("kv/store.sqlite"), join("/root", "kv/store.sqlite"));
  equal(at("/srv/kv.sqlite"), "/srv/kv.sqlite");
  equal(
    at("https://api.deno.com/databases/abc/connect"),
    "https://api.deno.com/databases/abc/connect",
  );
  equal(at("http://127.0.0.1:4512"), "http://127.0.0.1:4512");
});

// ---------------------------------------------------------------------------------------------
// Setting values

Deno.test("setConfigValue() round-trips every value type through the file", async () => {
  await withRoot(async (root, path) => {
    const cases: [string, string, unknown][] = [
      ["Store.Path", "/srv/filnode/kv.sqlite", "/srv/filnode/kv.sqlite"],
      ["Store.MaxBlockSize", "4194304", 4194304],
      ["Keystore.Insecure", "true", true],
      ["Keystore.AddressPrefix", "t", "t"],
      ["Chain.BlockDelay", "90s", 90_000],
      ["Chain.GenesisTime", "1700000000", 1700000000],
      ["Clock.Offset", "-2s", -2000],
      ["Clock.MaxDrift", "1m30s", 90_000],
      ["API.ListenAddress", "[::1]:4000", "[::1]:4000"],
      ["Network.ListenAddresses", '["/ip4/0.0.0.0/tcp/4001","/ip6/::/tcp/4001"]', [
        "/ip4/0.0.0.0/tcp/4001",
        "/ip6/::/tcp/4001",
      ]],
      ["Network.Bootstrappers", "/dns4/b.example/tcp/1/p2p/12D3KooWabc, /dnsaddr/boot.example", [
        "/dns4/b.example/tcp/1/p2p/12D3KooWabc",
        "/dnsaddr/boot.example",
      ]],
      ["Network.MaxPeers", "80", 80],
      ["Network.MinPeers", "40", 40],
    ];
    for (const [key, text, want] of cases) {
      const result = await setConfigValue(path, key, text);
      equal(result.key, key);
      deepStrictEqual(result.value, want, key);
      const { config, warnings } = await loadConfig(path);
      const [section, field] = key.split(".");
      deepStrictEqual((config as never)[section][field], want, key);
      deepStrictEqual(warnings, []);
    }
    // An empty list clears an array.
    await setConfigValue(path, "Network.Bootstrappers", "");
    deepStrictEqual((await loadConfig(path)).config.Network.Bootstrappers, []);
    // Owner-only and no temp files left behind.
    if (Deno.build.os !== "windows") equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    deepStrictEqual(await fileNames(root), ["config.toml"]);
  });
});

Deno.test("setConfigValue() replaces only the value's bytes, keeping comments and layout", async () => {
  await withRoot(async (_root, path) => {
    const before = [
      "# my devnet node",
      "",
      "[Chain]",
      "  Network   =   'devnet'   # the name peers compare",
      "  # slow chain for debugging",
      '  BlockDelay = "45s"',
      "",
      "[Network]",
      "ListenAddresses = [",
      '  "/ip4/127.0.0.1/tcp/4001", # first',
      '  "/ip4/127.0.0.1/tcp/4002",',
      "]",
      "MaxPeers = 60 # cap",
      "",
    ].join("\n");
    await Deno.writeTextFile(path, before);

    await setConfigValue(path, "Chain.BlockDelay", "5s");
    equal(await Deno.readTextFile(path), before.replace('"45s"', '"5s"'));

    await setConfigValue(path, "Network.ListenAddresses", "/ip4/127.0.0.1/tcp/5000");
    const multiLine = before.slice(before.indexOf('[\n  "/ip4'), before.indexOf("]\nMaxPeers") + 1);
    equal(
      await Deno.readTextFile(path),
      before.replace('"45s"', '"5s"').replace(multiLine, '[ "/ip4/127.0.0.1/tcp/5000" ]'),
    );
  });
});

Deno.test("setConfigValue() inserts a new key into its section and a new section at the end", async () => {
  await withRoot(async (_root, path) => {
    const before = '# top\n[Chain]\nNetwork = "n" # keep me\n\n# trailing note\n';
    await Deno.writeTextFile(path, before);

    await setConfigValue(path, "Chain.GenesisTime", "5");
    const afterInsert = await Deno.readTextFile(path);
    equal(
      afterInsert,
      '# top\n[Chain]\nNetwork = "n" # keep me\nGenesisTime = 5\n\n# trailing note\n',
    );

    await setConfigValue(path, "Keystore.Insecure", "true");
    equal(await Deno.readTextFile(path), afterInsert + "\n[Keystore]\nInsecure = true\n");
  });
});

Deno.test("editConfigText() keeps CRLF line endings and edits dotted keys and inline tables", () => {
  const crlf = 'Store.Path = "a" # c\r\nx = 1\r\n';
  equal(
    editConfigText(crlf, "Store.MaxBlockSize", "4194304").text,
    'Store.Path = "a" # c\r\nStore.MaxBlockSize = 4194304\r\nx = 1\r\n',
  );
  equal(
    editConfigText('Chain = { Network = "n" } # inline\n', "Chain.BlockDelay", "2s").text,
    'Chain = { Network = "n", BlockDelay = "2s" } # inline\n',
  );
  equal(editConfigText("Chain = {}\n", "Chain.Network", "m").text, 'Chain = { Network = "m" }\n');
  // A commented-out line inside an array is not mistaken for the commented default.
  const arr = '[Network]\nListenAddresses = [\n  # MinPeers = 3\n  "/ip4/1.1.1.1/tcp/1",\n]\n';
  equal(editConfigText(arr, "Network.MinPeers", "3").text, arr + "MinPeers = 3\n");
  // Accepts a key in any letter case and reports the schema's spelling.
  equal(editConfigText("", "chain.network", "m").key, "Chain.Network");
});

Deno.test("setConfigValue() of an invalid value leaves the file untouched byte for byte", async () => {
  await withRoot(async (root, path) => {
    const before = "# hand-written\r\n[Network]\r\nMinPeers = 10   \r\nMaxPeers = 20\r\n";
    await Deno.writeTextFile(path, before);
    const bytes = await Deno.readFile(path);
    const cases: [string, string][] = [
      ["Network.MinPeers", "many"],
      ["Network.MinPeers", "30"], // above MaxPeers
      ["Network.MaxPeers", "5"], // below MinPeers
      ["Network.MinPeers", "1.5"],
      ["Network.MinPeers", "99999999999999999999"],
      ["Chain.BlockDelay", "5x"],
      ["Chain.BlockDelay", "100ms"],
      ["Keystore.Insecure", "yes"],
      ["Keystore.AddressPrefix", "x"],
      ["API.ListenAddress", "0.0.0.0:1234"],
      ["Network.ListenAddresses", '["/ip4/1.2.3.4/tcp/1", 5]'],
      ["Network.ListenAddresses", "[not json"],
      ["Network.ListenAddresses", "ip4/1.2.3.4"],
      ["Store.MaxBlockSize", "1048576"],
    ];
    for (const [key, value] of cases) {
      const err = await assertRejectsType(() => setConfigValue(path, key, value), ConfigError);
      ok(
        err.message.includes(
          key === "Network.MinPeers" && value === "30" ? "Network.MaxPeers" : key,
        ),
      );
      assertOneLine(err);
      deepStrictEqual(await Deno.readFile(path), bytes, `${key}=${value} changed the file`);
    }
    await assertRejectsType(() => setConfigValue(path, "Network.MaxPear", "5"), UsageError);
    deepStrictEqual(await Deno.readFile(path), bytes);
    deepStrictEqual(await fileNames(root), ["config.toml"], "no temp files left behind");
  });
});

Deno.test("setConfigValue() refuses to edit a file with a syntax error and leaves it as is", async () => {
  await withRoot(async (_root, path) => {
    const broken = "[Chain]\nNetwork = = 'x'\n";
    await Deno.writeTextFile(path, broken);
    const err = await assertRejectsType(
      () => setConfigValue(path, "Chain.BlockDelay", "5s"),
      ConfigError,
    );
    match(err.message, /:2:\d+: invalid TOML/);
    equal(await Deno.readTextFile(path), broken);
  });
});

Deno.test("setConfigValue() without a config file creates the commented default file", async () => {
  await withRoot(async (_root, path) => {
    await setConfigValue(path, "Chain.Network", "calibnet");
    const text = await Deno.readTextFile(path);
    match(text, /#Network = "devnet"\n {2}Network = "calibnet"\n/);
    const { config, warnings } = await loadConfig(path);
    equal(config.Chain.Network, "calibnet");
    deepStrictEqual(warnings, []);
  });
});

Deno.test("setConfigValue() in a missing root folder fails with a ConfigError", async () => {
  await withRoot(async (root) => {
    const err = await assertRejectsType(
      () => setConfigValue(join(root, "absent", "config.toml"), "Chain.Network", "x"),
      ConfigError,
    );
    match(err.message, /cannot write config/);
    assertOneLine(err);
  });
});

// ---------------------------------------------------------------------------------------------
// The default file

Deno.test("writeDefaultConfig() writes every key with its doc, loading as the defaults", async () => {
  await withRoot(async (_root, path) => {
    await writeDefaultConfig(path);
    const text = await Deno.readTextFile(path);
    for (const e of CONFIG_SCHEMA) {
      const field = e.key.split(".")[1];
      ok(text.includes(`#${field} = `), `${e.key} missing`);
      ok(text.replaceAll(/\n\s*# /g, " ").includes(e.doc), `${e.key} doc missing`);
    }
    ok(text.includes("DENO_KV_ACCESS_TOKEN") && text.includes("--allow-net"));
    for (const line of text.split("\n")) ok(line.length <= 100, `long line: ${line}`);
    const { config, warnings } = await loadConfig(path);
    deepStrictEqual(config, structuredClone(DEFAULT_CONFIG));
    deepStrictEqual(warnings, []);
    if (Deno.build.os !== "windows") equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("writeDefaultConfig() applies overrides and refuses to overwrite an existing file", async () => {
  await withRoot(async (_root, path) => {
    await writeDefaultConfig(path, {
      "Chain.Network": "mynet",
      "Chain.BlockDelay": "4s",
      "Network.MinPeers": 2,
      "Network.MaxPeers": 4,
    });
    const { config } = await loadConfig(path);
    equal(config.Chain.Network, "mynet");
    equal(config.Chain.BlockDelay, 4000);
    equal(config.Network.MinPeers, 2);
    const before = await Deno.readTextFile(path);
    const err = await assertRejectsType(() => writeDefaultConfig(path), ConfigError);
    match(err.message, /already exists/);
    equal(await Deno.readTextFile(path), before);
    await writeDefaultConfig(path, {}, { overwrite: true });
    equal((await loadConfig(path)).config.Chain.Network, "devnet");
  });
});

Deno.test("defaultConfigText() rejects bad overrides", () => {
  assertThrowsType(() => defaultConfigText({ "Chain.Nope": "x" }), UnknownConfigKeyError);
  assertThrowsType(() => defaultConfigText({ "Network.MinPeers": "0" }), ConfigError);
  assertThrowsType(() => defaultConfigText({ "Network.MinPeers": "x" }), ConfigError);
  assertThrowsType(() => defaultConfigText({ "Keystore.Insecure": 1 }), ConfigError);
  assertThrowsType(() => defaultConfigText({ "Chain.BlockDelay": 1.5 }), ConfigError);
  assertThrowsType(() => defaultConfigText({ "Network.MinPeers": 99 }), ConfigError); // > MaxPeers
});

// ---------------------------------------------------------------------------------------------
// CLI verbs

Deno.test("`config show` prints the effective config as TOML or JSON and logs warnings", async () => {
  await withRoot(async (root, path) => {
    await Deno.writeTextFile(path, "[Chain]\nBlockDelay = '5s'\nFoo = 1\n");
    const text = fakeCli(root);
    await runVerb(text, "show");
    equal(text.out.length, 1);
    match(text.out[0], /\[Chain\]\nNetwork = "devnet"\nBlockDelay = "5s"\n/);
    match(text.out[0], /\[Network\][^]*MaxPeers = 50/);
    equal(text.err.length, 1);
    match(text.err[0], /^warning: unknown key Chain\.Foo .*\(line 3\)/);

    const json = fakeCli(root, true);
    await runVerb(json, "show");
    const shown = JSON.parse(json.out[0]);
    equal(shown.Chain.BlockDelay, "5s");
    deepStrictEqual(shown.Network.ListenAddresses, ["/ip4/127.0.0.1/tcp/0"]);
  });
});

Deno.test("`config get` prints one value, as JSON under --json", async () => {
  await withRoot(async (root) => {
    const text = fakeCli(root);
    await runVerb(text, "get", ["Chain.BlockDelay"]);
    await runVerb(text, "get", ["Store.Path"]);
    await runVerb(text, "get", ["Network.ListenAddresses"]);
    await runVerb(text, "get", ["network.maxpeers"]);
    deepStrictEqual(text.out, ["30s", "kv/store.sqlite", '["/ip4/127.0.0.1/tcp/0"]', "50"]);

    const json = fakeCli(root, true);
    await runVerb(json, "get", ["Keystore.Insecure"]);
    await runVerb(json, "get", ["Store.Path"]);
    deepStrictEqual(json.out, ["false", '"kv/store.sqlite"']);
  });
});

Deno.test("`config get` of an unknown key is a UsageError listing close matches", async () => {
  await withRoot(async (root) => {
    const cli = fakeCli(root);
    const err = await assertRejectsType(() => runVerb(cli, "get", ["Network.MaxPeer"]), UsageError);
    match(err.message, /unknown config key Network\.MaxPeer \(did you mean Network\.MaxPeers/);
    assertOneLine(err);
    const far = await assertRejectsType(() => runVerb(cli, "get", ["Zzz.Qqqqqq"]), UsageError);
    match(far.message, /config keys/);
  });
});

Deno.test("`config set` writes the value that `config get` then reads", async () => {
  await withRoot(async (root) => {
    const cli = fakeCli(root);
    await runVerb(cli, "set", ["Clock.Offset", "-2s"]);
    await runVerb(cli, "set", ["Network.Bootstrappers", "/dnsaddr/a.example,/dnsaddr/b.example"]);
    deepStrictEqual(cli.out, [
      "Clock.Offset = -2s",
      'Network.Bootstrappers = ["/dnsaddr/a.example","/dnsaddr/b.example"]',
    ]);
    const get = fakeCli(root, true);
    await runVerb(get, "get", ["Clock.Offset"]);
    await runVerb(get, "get", ["Network.Bootstrappers"]);
    deepStrictEqual(get.out, ['"-2s"', '["/dnsaddr/a.example","/dnsaddr/b.example"]']);

    const err = await assertRejectsType(
      () => runVerb(cli, "set", ["Chain.BlockDelay", "soon"]),
      ConfigError,
    );
    match(err.message, /Chain\.BlockDelay: got "soon", expected a duration/);
  });
});

Deno.test("`config keys` lists every key with type, default and doc", async () => {
  await withRoot(async (root) => {
    const text = fakeCli(root);
    await runVerb(text, "keys");
    const lines = text.out[0].split("\n");
    equal(lines.length, CONFIG_SCHEMA.length);
    match(lines[0], /^Store\.Path\s+string\s+"kv\/store\.sqlite"\s+Deno KV/);
    ok(lines.some((l) => /^Chain\.BlockDelay\s+duration\s+"30s"/.test(l)));

    const json = fakeCli(root, true);
    await runVerb(json, "keys");
    const rows = JSON.parse(json.out[0]);
    deepStrictEqual(rows.map((r: { key: string }) => r.key), CONFIG_SCHEMA.map((e) => e.key));
    deepStrictEqual(rows.find((r: { key: string }) => r.key === "Network.MinPeers"), {
      key: "Network.MinPeers",
      type: "integer",
      default: 25,
      doc: CONFIG_SCHEMA.find((e) => e.key === "Network.MinPeers")!.doc,
      expected: "an integer >= 1",
    });
  });
});
