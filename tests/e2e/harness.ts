/**
 * Runs the real filnode program in child processes, with the permission flags README documents,
 * so multi-process tests exercise what an operator runs. Later issues build networks from it.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const MAIN = join(PROJECT_DIR, "main.ts");

/**
 * The `deno run` flags of `deno task start`, with the devnet root replaced by `root`: the test
 * proves the documented grants, not a copy of them.
 */
export async function startTaskFlags(root: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(PROJECT_DIR, "deno.json")));
  const command: string = config.tasks.start.command;
  const words = command.split(/\s+/);
  const from = words.indexOf("run") + 1;
  const to = words.indexOf("main.ts");
  if (from <= 0 || to < from) throw new Error(`cannot find the run flags in: ${command}`);
  return words.slice(from, to).map((w) => w.replaceAll("./devnet", root));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Permission flags; the start task's, scoped to the root, by default. */
  flags?: string[];
  stdin?: Uint8Array;
  /** Another script than main.ts (a test fixture), given `args` instead of `--root ROOT ...`. */
  script?: string;
  args?: string[];
}

/**
 * Runs `filnode --root ROOT <args>` to completion with the start task's flags scoped to `root`
 * (or a fixture script with `options.args`).
 */
export async function filnode(
  root: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const flags = options.flags ?? await startTaskFlags(root);
  const argv = options.script
    ? [options.script, ...options.args ?? []]
    : [MAIN, "--root", root, ...args];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, ...argv],
    cwd: PROJECT_DIR,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running filnode process (a daemon, or a writer in a crash trial). */
export class FilnodeProcess {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stderr: Promise<string>;
  readonly #stdoutDone: Promise<void>;
  #waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdoutDone = this.#readLines();
    this.#stderr = new Response(child.stderr).text();
  }

  /** Spawns `deno run <flags> <script> <args>` (the script defaults to main.ts). */
  static spawn(
    args: string[],
    options: { flags: string[]; script?: string; env?: Record<string, string> },
  ): FilnodeProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...options.flags, options.script ?? MAIN, ...args],
      cwd: PROJECT_DIR,
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new FilnodeProcess(child);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Every stdout line so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  async #readLines(): Promise<void> {
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
  }

  /** Resolves with the first stdout line (past or future) that `match` accepts. */
  waitForLine(match: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const seen = this.#lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no matching line within ${timeoutMs} ms; stdout so far:\n${this.#lines.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Waits for exit and returns the code and all of stderr. */
  async finished(): Promise<{ code: number; signal: string | null; stderr: string }> {
    const status = await this.#child.status;
    await this.#stdoutDone;
    return { code: status.code, signal: status.signal, stderr: await this.#stderr };
  }
}
