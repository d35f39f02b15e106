/**
 * filnode: a Filecoin full node for Deno.
 *
 * `deno task start` runs a local devnet node; `deno run <permission flags> main.ts --help` lists
 * the commands. See README.md for the permission flags and why each is needed.
 */
import { configCommands } from "./src/cli/config.ts";
import { chainCommands } from "./src/cli/chain.ts";
import { syncCommands } from "./src/cli/sync.ts";
import { daemonCommand } from "./src/cli/daemon.ts";
import { genesisCommands } from "./src/cli/genesis.ts";
import { initCommand } from "./src/cli/init.ts";
import { netCommands } from "./src/cli/net.ts";
import { openKeyStore } from "./src/cli/open.ts";
import { repoCommands } from "./src/cli/repo.ts";
import { type Entry, runCli } from "./src/cli/run.ts";
import { walletCommands } from "./src/cli/wallet.ts";

export const ENTRIES: readonly Entry[] = [
  initCommand,
  daemonCommand,
  configCommands,
  walletCommands(openKeyStore),
  netCommands,
  chainCommands,
  syncCommands,
  genesisCommands,
  repoCommands,
];

/** Runs the CLI with SIGINT/SIGTERM wired to an AbortSignal, then removes the handlers. */
async function main(): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new DOMException("stopped by signal", "AbortError"));
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await runCli(Deno.args, ENTRIES, { signal: controller.signal });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

if (import.meta.main) {
  // Setting the exit code (not Deno.exit) lets pending cleanup finish; the process then ends
  // because stop() leaves no handle alive.
  Deno.exitCode = await main();
}
