/**
 * The CLI's building blocks: every command group (`config`, `wallet`, `repo`, ...) is a file in
 * `src/cli/` exporting a `CommandGroup`; `main.ts` routes `filnode <group> <verb>` to it.
 *
 * Conventions every command follows: `--json` prints data as JSON, `--help` prints usage, a
 * `UserError` exits 1 with one line, anything else exits 2.
 */
import type { ParseArgsConfig } from "node:util";

/** What a command gets from the CLI: where the root is, how to print, when to stop. */
export interface CommandContext {
  /** Absolute path of the node root (`--root`, `$FILNODE_ROOT`, or `~/.filnode`). */
  readonly root: string;
  readonly json: boolean;
  readonly debug: boolean;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Reads an environment variable the program was granted (`undefined` when absent or denied). */
  env(name: string): string | undefined;
  /** Prints `data` as JSON under `--json`, otherwise the text `human()` returns. */
  print(data: unknown, human: () => string): void;
  /** Prints a line to stderr: progress and notices that scripts should not parse. */
  log(line: string): void;
  /** Reads all of standard input (for `-` arguments). */
  readStdin(): Promise<Uint8Array>;
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Argument synopsis shown in help, e.g. `KEY VALUE`. */
  readonly args?: string;
  /** Extra help text: options and examples. */
  readonly help?: string;
  readonly options?: OptionSpec;
  /** How many positionals the command takes: [min, max]. */
  readonly arity?: readonly [number, number];
  run(ctx: CommandContext, args: ParsedArgs): Promise<void>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}
