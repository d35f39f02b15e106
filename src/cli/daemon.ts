/** `filnode daemon`: run the node until SIGINT/SIGTERM. */
import { FilecoinNode } from "../node.ts";
import { isRepo } from "../repo/repo.ts";
import type { Command } from "./command.ts";
import { INIT_HELP, INIT_OPTIONS, initFromFlags } from "./init.ts";
import { openConfig, passphraseFor } from "./open.ts";

/** Printed on stdout once the node runs: scripts and tests wait for it. */
export const READY_LINE = "filnode daemon ready";

export const daemonCommand: Command = {
  name: "daemon",
  summary: "run the node (initialising the root first if it is new)",
  help: `${INIT_HELP.replace("Options:", "Options (used only when the root is new):")}`,
  options: INIT_OPTIONS,
  async run(ctx, args) {
    if (!await isRepo(ctx.root)) {
      await initFromFlags(ctx, args);
      ctx.log(`initialised filnode root at ${ctx.root}`);
    }
    const config = await openConfig(ctx);
    const node = new FilecoinNode({
      root: ctx.root,
      exclusive: true,
      passphrase: await passphraseFor(ctx, config),
      onStartupCheck({ store, tempFilesRemoved }) {
        const repaired = store.repaired + tempFilesRemoved;
        if (repaired > 0) {
          ctx.log(
            `start-up check repaired ${repaired} leftover record(s) of interrupted writes` +
              ` (${store.orphanChunks} orphan chunk(s), ${store.brokenBlocks.length} unreadable block(s),` +
              ` ${tempFilesRemoved} partial file(s))`,
          );
        }
      },
    });
    await node.start({ signal: ctx.signal });
    try {
      ctx.print(
        { ready: true, pid: Deno.pid, root: ctx.root },
        () => `${READY_LINE} (pid ${Deno.pid}, root ${ctx.root})`,
      );
      await abortion(ctx.signal);
      ctx.log("filnode daemon stopping");
    } finally {
      await node.stop();
    }
  },
};

/** Resolves when `signal` aborts. */
function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
