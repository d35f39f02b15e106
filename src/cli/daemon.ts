/** `filnode daemon`: run the node, with its network and control API, until SIGINT/SIGTERM. */
import { chainApiMethods } from "../api/chain_api.ts";
import { netApiMethods } from "../api/net_api.ts";
import { NetworkNetApi } from "../api/network_net_api.ts";
import { syncApiMethods } from "../api/sync_api.ts";
import { createDispatcher } from "../api/rpc.ts";
import { startControlApi } from "../api/api_server.ts";
import { parseApiListenAddress } from "../api/api_server.ts";
import { FILNODE_AGENT } from "../net/network.ts";
import { FilecoinNode } from "../node.ts";
import { isRepo } from "../repo/repo.ts";
import type { Command, CommandContext } from "./command.ts";
import type { Config } from "../repo/config_schema.ts";
import { INIT_HELP, INIT_OPTIONS, initFromFlags } from "./init.ts";
import { openConfig, passphraseFor } from "./open.ts";
import { type FaultGuard, guardProcessFaults } from "./rejection_guard.ts";
import {
  FAULT_PROBE_ENV,
  FAULT_PROBE_PROTOCOL,
  registerFaultProbe,
} from "../protocols/fault_probe.ts";

/** Printed on stdout once the node runs: scripts and tests wait for it. */
export const READY_LINE = "filnode daemon ready";
/** Printed on stderr before the node's systems start (after init, if the root was new). */
export const STARTING_LINE = "filnode daemon starting";
/** Printed on stderr when a stop is asked (SIGINT/SIGTERM), whether start-up had finished or not. */
export const STOPPING_LINE = "filnode daemon stopping";

const VERSION = "0.1.0";

export const daemonCommand: Command = {
  name: "daemon",
  summary: "run the node (initialising the root first if it is new)",
  help: `${INIT_HELP.replace("Options:", "Options (used only when the root is new):")}`,
  options: INIT_OPTIONS,
  async run(ctx, args) {
    const guard = guardProcessFaults((line) => ctx.log(line));
    try {
      if (!await isRepo(ctx.root)) {
        await initFromFlags(ctx, args);
        ctx.log(`initialised filnode root at ${ctx.root}`);
      }
      const config = await openConfig(ctx);
      await runDaemon(ctx, config, guard);
    } catch (err) {
      // A signal is a request to stop, normal at any moment: one landing mid start-up surfaces
      // as the abort of whatever step was running (the node unwinds what it had started), and
      // must end the process as a stop after start-up does, not as an internal error.
      if (!stoppedBySignal(ctx.signal, err)) throw err;
      ctx.log(STOPPING_LINE);
    } finally {
      guard.stop();
    }
  },
};

/** True when `err` is the abort of `signal` (its reason, or an AbortError once it aborted). */
export function stoppedBySignal(signal: AbortSignal, err: unknown): boolean {
  if (!signal.aborted) return false;
  return err === signal.reason || (err instanceof Error && err.name === "AbortError") ||
    (err instanceof DOMException && err.name === "AbortError");
}

async function runDaemon(ctx: CommandContext, config: Config, guard: FaultGuard): Promise<void> {
  const { hostname, port } = parseApiListenAddress(config.API.ListenAddress);
  const node = new FilecoinNode({
    root: ctx.root,
    exclusive: true,
    network: true,
    passphrase: await passphraseFor(ctx, config),
    log: (line) => ctx.log(line),
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
  ctx.log(`${STARTING_LINE} (pid ${Deno.pid}, root ${ctx.root})`);
  await node.start({ signal: ctx.signal });
  // A peer whose stream raised an error nobody handled pays as for a malformed message.
  guard.onPeerFault = (peer) => {
    if (node.running) node.network.report(peer.peerId, "malformed-message");
  };
  try {
    if (ctx.env(FAULT_PROBE_ENV) === "1") {
      await registerFaultProbe(node.network.host.libp2p);
      ctx.log(`test-only ${FAULT_PROBE_PROTOCOL} enabled by $${FAULT_PROBE_ENV}`);
    }
    const api = await startControlApi({
      root: ctx.root,
      hostname,
      port,
      dispatch: createDispatcher(
        {
          ...netApiMethods({
            net: new NetworkNetApi(node.network),
            version: {
              version: VERSION,
              agent: FILNODE_AGENT,
              blockDelayMs: config.Chain.BlockDelay,
            },
          }),
          ...chainApiMethods({
            chain: node.chain,
            ipld: node.ipld,
            network: config.Keystore.AddressPrefix,
          }),
          ...syncApiMethods({
            chain: node.chain,
            status: () => node.sync.syncer.status,
            network: config.Keystore.AddressPrefix,
          }),
        },
        { onInternalError: (method, err) => ctx.log(`API ${method}: ${(err as Error).message}`) },
      ),
    });
    try {
      const peerId = node.network.host.peerId.toString();
      const addrs = node.network.host.libp2p.getMultiaddrs().map((a) => a.toString());
      ctx.print(
        { ready: true, pid: Deno.pid, root: ctx.root, peerId, addrs, api: api.server.multiaddr },
        () =>
          [
            `${READY_LINE} (pid ${Deno.pid}, root ${ctx.root})`,
            `peer ID ${peerId}`,
            ...addrs.map((a) => `listening on ${a}`),
            `control API ${api.server.multiaddr}`,
          ].join("\n"),
      );
      await abortion(ctx.signal);
      ctx.log(STOPPING_LINE);
      ctx.log(faultSummary(node.network.host.handlerFaults.faults, guard.count));
    } finally {
      await api.stop();
    }
  } finally {
    await node.stop();
  }
}

/** The operator's tally of errors survived, printed at stop (each was logged when caught). */
export function faultSummary(handlerFaults: number, processFaults: number): string {
  return `errors survived while running: ${handlerFaults} in protocol handlers, ` +
    `${processFaults} unhandled elsewhere`;
}

/** Resolves when `signal` aborts. */
function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
