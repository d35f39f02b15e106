/**
 * `filnode sync status | wait`: the daemon's sync progress. `wait` returns once the node is not
 * catching up with a heavier chain (exit 0), or exits 1 when the sync failed (the error and
 * when the daemon retries; a script can run `wait` again) or the daemon stops answering. On a
 * terminal it redraws one progress line, otherwise it prints a plain line whenever the height
 * moves, for logs and scripts.
 */
import { SyncMethod, type SyncStatusJson } from "../api/sync_api.ts";
import { UserError } from "../errors.ts";
import { callDaemon, withClient } from "./daemon_call.ts";
import type { Command, CommandGroup } from "./command.ts";

/** How often `wait` asks the daemon. */
const POLL_MS = 1_000;
/** Width of the terminal progress bar, in characters. */
const BAR_WIDTH = 30;

/** The daemon's sync failed (it retries on its own): `sync wait` exits 1 with this. */
export class SyncFailedStatusError extends UserError {}

export function describe(s: SyncStatusJson): string {
  const target = s.TargetHeight === null ? "" : ` of ${s.TargetHeight}`;
  const phase = s.Phase ? ` (${s.Phase}${s.Phase === "headers" ? "" : ` at ${s.Height}`})` : "";
  const error = s.Error ?? s.Message;
  const retry = s.RetryAt ? `; retrying at ${s.RetryAt}` : "";
  return `${s.Stage}: head ${s.HeadHeight}${target}${phase}${error ? `: ${error}` : ""}${retry}`;
}

/** `[=====>     ] 45%` for the head's progress toward the target. */
export function progressBar(s: SyncStatusJson): string {
  const target = s.TargetHeight ?? s.HeadHeight;
  const done = target === 0 ? 1 : Math.min(1, s.HeadHeight / target);
  const filled = Math.round(done * BAR_WIDTH);
  return `[${"=".repeat(filled)}${" ".repeat(BAR_WIDTH - filled)}] ${Math.floor(done * 100)}% ` +
    describe(s);
}

const status: Command = {
  name: "status",
  summary: "Print the sync stage, the head height and the target's",
  arity: [0, 0],
  async run(ctx) {
    const s = await callDaemon<SyncStatusJson>(ctx, SyncMethod.Status);
    ctx.print(s, () => describe(s));
  },
};

const wait: Command = {
  name: "wait",
  summary: "Wait until the node is in sync, showing progress",
  arity: [0, 0],
  run(ctx) {
    return withClient(ctx, async (client) => {
      const terminal = !ctx.json && isTerminal();
      const encoder = new TextEncoder();
      let lastLine = "";
      let s: SyncStatusJson;
      while (true) {
        s = await client.call<SyncStatusJson>(SyncMethod.Status, [], { signal: ctx.signal });
        const line = terminal ? progressBar(s) : describe(s);
        if (terminal) Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${line}`));
        else if (line !== lastLine) ctx.log(line);
        lastLine = line;
        // Idle means no peer has shown a heavier head (hello reports only heavier ones): as
        // caught up as the node can know, the same rule mining applies (`Syncer.inSync`).
        if (s.Stage !== "syncing") break;
        await sleep(POLL_MS, ctx.signal);
      }
      if (terminal) Deno.stderr.writeSync(encoder.encode("\n"));
      // The status that ended the wait is the answer: no second call.
      const last = s;
      if (last.Stage === "failed") {
        const retry = last.RetryAt ? ` (the daemon retries at ${last.RetryAt})` : "";
        throw new SyncFailedStatusError(
          `sync failed at head ${last.HeadHeight}` +
            `${last.TargetHeight === null ? "" : ` of ${last.TargetHeight}`}: ` +
            `${last.Error ?? last.Message ?? "unknown error"}${retry}`,
        );
      }
      ctx.print(last, () => `in sync at height ${last.HeadHeight}`);
    });
  },
};

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The `sync` command group. */
export const syncCommands: CommandGroup = {
  name: "sync",
  summary: "Show chain sync progress",
  commands: [status, wait],
};
