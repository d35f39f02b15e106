/**
 * Runs the real filnode program in child processes, with the permission flags README documents,
 * so multi-process tests exercise what an operator runs: to completion (`filnode()`) or
 * long-running, read line by line (`LineProcess`). network_harness.ts builds devnets from it.
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

/** A daemon prints its ready lines within this (a cold Deno start plus libp2p start-up). */
export const READY_TIMEOUT_MS = 60_000;
/** SIGTERM stops a daemon within this (issue 3 asks for 2 s; slack for a loaded 2-core CI). */
export const STOP_TIMEOUT_MS = 10_000;

/** One line a child process wrote, with the stream it came from, in arrival order. */
export interface OutputLine {
  stream: "stdout" | "stderr";
  text: string;
}

/** How a child process ended. */
export interface ExitStatus {
  code: number;
  signal: string | null;
}

/**
 * A long-running child Deno process (a daemon, a writer in a crash trial, an attacker fixture)
 * whose stdout and stderr are both read line by line as they come, so a test can wait for a log
 * line while the process runs. Only lines ended by a newline count: text a killed process left
 * unterminated shows in failure messages, never in `lines`.
 */
export class LineProcess {
  readonly #child: Deno.ChildProcess;
  readonly #lines: OutputLine[] = [];
  /** Unterminated text each stream ended with, if any. */
  readonly #tails: OutputLine[] = [];
  readonly #done: Promise<void>;
  #waiters: { match: (l: OutputLine) => boolean; resolve: (l: OutputLine) => void }[] = [];
  #exit?: ExitStatus;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#done = Promise.all([
      this.#read(child.stdout, "stdout"),
      this.#read(child.stderr, "stderr"),
    ]).then(() => {});
    child.status.then((s) => this.#exit = { code: s.code, signal: s.signal });
  }

  /** `deno run <flags> <script> <args>` (the script is often `MAIN`), piped output, no stdin. */
  static spawn(
    script: string,
    args: string[],
    options: { flags: string[]; env?: Record<string, string> },
  ): LineProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...options.flags, script, ...args],
      cwd: PROJECT_DIR,
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new LineProcess(child);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Every line so far, both streams, in arrival order. */
  get lines(): readonly OutputLine[] {
    return this.#lines;
  }

  /** The text of every line so far on `stream`. */
  text(stream: "stdout" | "stderr"): string[] {
    return this.#lines.filter((l) => l.stream === stream).map((l) => l.text);
  }

  /** The exit status once the process has ended (from its real status, not `kill -0`). */
  get exited(): ExitStatus | undefined {
    return this.#exit;
  }

  async #read(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr"): Promise<void> {
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = { stream: name, text: buffered.slice(0, nl) };
        buffered = buffered.slice(nl + 1);
        this.#lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
    if (buffered) this.#tails.push({ stream: name, text: buffered });
  }

  /**
   * Resolves with the first line (past or future) on `stream` that `match` accepts; rejects after
   * `timeoutMs`, or when the process ends first, with the output so far.
   */
  waitForLine(
    stream: "stdout" | "stderr",
    match: (text: string) => boolean,
    timeoutMs = READY_TIMEOUT_MS,
  ): Promise<string> {
    const accept = (l: OutputLine) => l.stream === stream && match(l.text);
    const seen = this.#lines.find(accept);
    if (seen) return Promise.resolve(seen.text);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${why}; output so far:\n${this.#dump()}`));
      };
      const timer = setTimeout(
        () => fail(`no matching ${stream} line in ${timeoutMs} ms`),
        timeoutMs,
      );
      const waiter = {
        match: accept,
        resolve: (l: OutputLine) => {
          clearTimeout(timer);
          resolve(l.text);
        },
      };
      this.#waiters.push(waiter);
      this.#done.then(() => {
        if (this.#waiters.includes(waiter)) fail(`process ended before a matching ${stream} line`);
      });
    });
  }

  #dump(): string {
    const tails = this.#tails.map((l) => ({ ...l, text: `${l.text} (no newline)` }));
    return [...this.#lines, ...tails]
      .map((l) => `${l.stream === "stderr" ? "E" : "O"}| ${l.text}`).join("\n");
  }

  /** Sends `signal` unless the process already ended. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exit) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Ended between the check and the kill.
    }
  }

  /** Waits for the exit and for both streams to drain. */
  async finished(): Promise<ExitStatus> {
    const s = await this.#child.status;
    await this.#done;
    return { code: s.code, signal: s.signal };
  }

  /**
   * Sends `signal` and waits up to `timeoutMs` for the exit; past that, SIGKILLs it and throws
   * (after it is reaped, so nothing leaks), since a daemon that ignores SIGTERM is a bug.
   */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = STOP_TIMEOUT_MS): Promise<ExitStatus> {
    this.kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeoutMs)
    );
    try {
      const first = await Promise.race([this.finished(), late]);
      if (first !== "late") return first;
    } finally {
      clearTimeout(timer);
    }
    this.kill("SIGKILL");
    await this.finished();
    throw new Error(`pid ${this.pid} did not exit within ${timeoutMs} ms of ${signal}`);
  }
}
