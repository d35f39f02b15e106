/** A CommandContext that records what a command prints, for CLI verb tests. */
import type { CommandContext } from "../src/cli/command.ts";

export interface FakeCli {
  ctx: CommandContext;
  out: string[];
  err: string[];
}

export function fakeCli(root: string, json = false): FakeCli {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    root,
    json,
    debug: false,
    signal: new AbortController().signal,
    env: () => undefined,
    print: (data, human) => void out.push(json ? JSON.stringify(data) : human()),
    log: (line) => void err.push(line),
    readStdin: () => Promise.resolve(new Uint8Array()),
  };
  return { ctx, out, err };
}
