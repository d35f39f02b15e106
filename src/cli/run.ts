/**
 * `filnode [--root DIR] [--json] [--debug] <group> [<verb>] [args...]`: routes argv to a command,
 * and turns every outcome into an exit code: 0 success, 1 user error (one line), 2 internal error.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { UsageError, UserError } from "../errors.ts";
import type { Command, CommandContext, CommandGroup, ParsedArgs } from "./command.ts";
import { toHex } from "../hex.ts";

export const PROGRAM = "filnode";

/** Top-level entries: a group of verbs (`config get`) or a command on its own (`init`). */
export type Entry = CommandGroup | Command;

export interface RunOptions {
  /** Where output goes; tests capture it. */
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM by main.ts. */
  signal?: AbortSignal;
}

const GLOBAL_HELP = `Global options:
  --root DIR   node root (default: $FILNODE_ROOT, then ~/.filnode)
  --json       print data as JSON
  --debug      print stack traces of internal errors
  --help, -h   show help for the program, a group or a command`;

interface GlobalFlags {
  root?: string;
  json: boolean;
  debug: boolean;
  help: boolean;
  rest: string[];
}

/** Pulls the global flags out of argv wherever they stand; the rest keeps its order. */
function splitGlobals(argv: readonly string[]): GlobalFlags {
  const flags: GlobalFlags = { json: false, debug: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      flags.rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--json") flags.json = true;
    else if (arg === "--debug") flags.debug = true;
    else if (arg === "--help" || arg === "-h") flags.help = true;
    else if (arg === "--root") {
      const value = argv[++i];
      if (value === undefined) throw new UsageError("--root needs a directory");
      flags.root = value;
    } else if (arg.startsWith("--root=")) flags.root = arg.slice("--root=".length);
    else flags.rest.push(arg);
  }
  return flags;
}

function isGroup(entry: Entry): entry is CommandGroup {
  return "commands" in entry;
}

function envGetter(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Not granted: the program runs with --allow-env limited to the names it documents.
    return undefined;
  }
}

function defaultRoot(): string {
  const fromEnv = envGetter("FILNODE_ROOT");
  if (fromEnv) return fromEnv;
  const home = envGetter("HOME");
  if (!home) throw new UsageError("no --root given and neither $FILNODE_ROOT nor $HOME is set");
  return `${home}/.filnode`;
}

function commandUsage(prefix: string, command: Command): string {
  const lines = [
    `Usage: ${PROGRAM} ${prefix}${command.args ? ` ${command.args}` : ""}`,
    "",
    command.summary,
  ];
  if (command.help) lines.push("", command.help.trimEnd());
  return lines.join("\n");
}

function groupUsage(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} ${group.name} <command> [options]`,
    "",
    group.summary,
    "",
    "Commands:",
    ...group.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function programUsage(entries: readonly Entry[]): string {
  const width = Math.max(...entries.map((e) => e.name.length));
  return [
    `Usage: ${PROGRAM} [global options] <command> [<verb>] [args]`,
    "",
    "Commands:",
    ...entries.map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`),
    "",
    GLOBAL_HELP,
  ].join("\n");
}

function parseCommandArgs(command: Command, argv: string[], name: string): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  const [min, max] = command.arity ?? [0, 0];
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(
      `${name} takes ${want} argument${max === 1 ? "" : "s"}${
        command.args ? ` (${command.args})` : ""
      }, got ${n}`,
    );
  }
  return { positionals: parsed.positionals, values: parsed.values };
}

/** Runs one CLI invocation; returns the process exit code. Never throws. */
export async function runCli(
  argv: readonly string[],
  entries: readonly Entry[],
  options: RunOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? ((t) => console.log(t));
  const stderr = options.stderr ?? ((t) => console.error(t));
  let debug = argv.includes("--debug");
  try {
    const flags = splitGlobals(argv);
    debug = flags.debug;
    const [first, ...afterFirst] = flags.rest;
    if (first === undefined) {
      (flags.help ? stdout : stderr)(programUsage(entries));
      return flags.help ? 0 : 1;
    }
    const entry = entries.find((e) => e.name === first);
    if (!entry) throw new UsageError(`unknown command "${first}"; see \`${PROGRAM} --help\``);

    let command: Command;
    let name: string;
    let rest: string[];
    if (isGroup(entry)) {
      const [verb, ...afterVerb] = afterFirst;
      if (verb === undefined || verb.startsWith("-")) {
        (flags.help ? stdout : stderr)(groupUsage(entry));
        return flags.help ? 0 : 1;
      }
      const found = entry.commands.find((c) => c.name === verb);
      if (!found) {
        throw new UsageError(
          `unknown command "${entry.name} ${verb}"; see \`${PROGRAM} ${entry.name} --help\``,
        );
      }
      command = found;
      name = `${entry.name} ${verb}`;
      rest = afterVerb;
    } else {
      command = entry;
      name = entry.name;
      rest = afterFirst;
    }
    if (flags.help) {
      stdout(commandUsage(name, command));
      return 0;
    }
    const args = parseCommandArgs(command, rest, name);
    const root = resolve(flags.root ?? defaultRoot());
    const ctx: CommandContext = {
      root,
      json: flags.json,
      debug: flags.debug,
      signal: options.signal ?? new AbortController().signal,
      env: envGetter,
      print(data, human) {
        stdout(flags.json ? JSON.stringify(data, jsonReplacer, 2) : human());
      },
      log: stderr,
      readStdin: () => new Response(Deno.stdin.readable).bytes(),
    };
    await command.run(ctx, args);
    return 0;
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) {
      // The node runs with read/write limited to its root: say so instead of dumping a trace.
      stderr(
        `${PROGRAM}: not permitted: ${err.message} (filnode is granted access to its root only; see README "Permissions")`,
      );
      if (debug && err.stack) stderr(err.stack);
      return 1;
    }
    if (err instanceof UserError) {
      stderr(`${PROGRAM}: ${err.message}`);
      if (debug && err.stack) stderr(err.stack);
      return err.exitCode;
    }
    stderr(`${PROGRAM}: internal error: ${err instanceof Error ? err.message : String(err)}`);
    if (debug && err instanceof Error && err.stack) stderr(err.stack);
    else stderr("(run again with --debug for a stack trace)");
    return 2;
  }
}

/** JSON for bytes and bigints: hex and decimal strings, which is what Lotus clients expect. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) {
    return toHex(value);
  }
  return value;
}
