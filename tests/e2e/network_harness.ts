/**
 * Multi-process devnets for e2e tests: real `filnode daemon` processes on 127.0.0.1, each with its
 * own root in one temp folder, started from a bootnode, each reachable through an `ApiClient`.
 * Later issues (chain sync, deals) build their networks from this.
 *
 * Roots are made in-process with the same `initRepo` + `DEVNET_CONFIG` that `filnode init --devnet`
 * uses (spawning one init per node costs a Deno start-up each); the daemons themselves run as the
 * operator runs them, with the start task's permission flags scoped to their root.
 *
 * @example
 * ```ts ignore
 * await using net = await Devnet.start(3, { config: { "Network.MinPeers": 2 } });
 * const peers = await net.nodes[1].api.call<unknown[]>("Filecoin.NetPeers");
 * ```
 */
import { join } from "node:path";
import { DEVNET_CONFIG } from "../../src/cli/init.ts";
import { ApiClient } from "../../src/api/api_client.ts";
import type { ConfigOverrides } from "../../src/repo/config.ts";
import { initRepo } from "../../src/repo/repo.ts";
import { type ExitStatus, LineProcess, MAIN, startTaskFlags, STOP_TIMEOUT_MS } from "./harness.ts";

/** Short intervals so that discovery and pruning happen within a test's lifetime. */
export const FAST_NETWORK_CONFIG: ConfigOverrides = {
  "Network.DiscoveryInterval": "1s",
  "Network.PruneInterval": "5s",
};

/** Options for one devnet node. */
export interface NodeOptions {
  /** Network name (Chain.Network); a different name is a different genesis. Default "devnet". */
  network?: string;
  /** Config values on top of DEVNET_CONFIG and FAST_NETWORK_CONFIG, by `Section.Key`. */
  config?: ConfigOverrides;
  /** Bootnode multiaddrs (`Network.Bootstrappers`). */
  bootstrappers?: string[];
}

/** One daemon of a devnet: its root, process, identity and control API. */
export class DevnetNode {
  readonly name: string;
  readonly root: string;
  #process?: LineProcess;
  #api?: ApiClient;
  #peerId = "";
  #addr = "";

  constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
  }

  /** Makes the root as `filnode init --devnet [--network NAME]` does, plus `options.config`. */
  static async init(name: string, root: string, options: NodeOptions = {}): Promise<DevnetNode> {
    await initRepo(root, {
      insecureKeystore: true,
      config: {
        ...DEVNET_CONFIG,
        ...FAST_NETWORK_CONFIG,
        ...(options.network ? { "Chain.Network": options.network } : {}),
        ...(options.bootstrappers ? { "Network.Bootstrappers": options.bootstrappers } : {}),
        ...options.config,
      },
    });
    return new DevnetNode(name, root);
  }

  get process(): LineProcess {
    if (!this.#process) throw new Error(`${this.name} was never started`);
    return this.#process;
  }

  /** The control API client (valid while the daemon runs). */
  get api(): ApiClient {
    if (!this.#api) throw new Error(`${this.name} is not running`);
    return this.#api;
  }

  get peerId(): string {
    return this.#peerId;
  }

  /** The listen multiaddr with `/p2p/<id>`: what other nodes put in their bootstrappers. */
  get addr(): string {
    return this.#addr;
  }

  get running(): boolean {
    return this.#process !== undefined && this.#process.exited === undefined;
  }

  /**
   * Spawns `filnode --root ROOT daemon` with the start task's flags (or `options.flags`, e.g. to
   * debug with `-A` and `DEBUG=libp2p:*`) and waits for its ready lines.
   */
  async start(options: { flags?: string[]; env?: Record<string, string> } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const flags = options.flags ?? await startTaskFlags(this.root);
    const proc = LineProcess.spawn(MAIN, ["--root", this.root, "daemon"], {
      flags,
      env: options.env,
    });
    this.#process = proc;
    try {
      await proc.waitForLine("stdout", (l) => l.startsWith("control API "));
    } catch (err) {
      await proc.stop("SIGKILL").catch(() => {});
      throw err;
    }
    const out = proc.text("stdout");
    this.#peerId = out.find((l) => l.startsWith("peer ID "))!.slice("peer ID ".length);
    this.#addr = out.find((l) => l.startsWith("listening on /ip4/127.0.0.1/"))!
      .slice("listening on ".length);
    this.#api = await ApiClient.fromRoot(this.root, { timeoutMs: 20_000 });
  }

  /** SIGTERM (by default) and wait for the exit; closes the API client. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = STOP_TIMEOUT_MS): Promise<ExitStatus> {
    this.#api?.close();
    this.#api = undefined;
    if (!this.#process) return { code: 0, signal: null };
    return await this.#process.stop(signal, timeoutMs);
  }

  /** Calls a control API method. */
  call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return this.api.call<T>(method, params);
  }

  /** Peer IDs this node is connected to. */
  async peers(): Promise<string[]> {
    const list = await this.call<{ ID: string }[]>("Filecoin.NetPeers");
    return [...new Set(list.map((p) => p.ID))];
  }
}

/** Options for {@link Devnet.start}. */
export interface DevnetOptions {
  /** Config for every node (the bootnode too). */
  config?: ConfigOverrides;
  /** Network name for every node. */
  network?: string;
}

/**
 * N daemons in one temp folder: node 0 is the bootnode, nodes 1..N-1 list only it in
 * `Network.Bootstrappers`. `stop()` (or `await using`) stops every process and removes the folder.
 */
export class Devnet implements AsyncDisposable {
  readonly dir: string;
  readonly nodes: DevnetNode[] = [];
  #count = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** An empty devnet folder; add nodes with {@link addNode}. */
  static async create(): Promise<Devnet> {
    return new Devnet(await Deno.makeTempDir({ prefix: "filnode_net_" }));
  }

  /**
   * Starts a bootnode, then `count - 1` nodes booting from it, all at once. On any failure
   * everything started is stopped before the error propagates.
   */
  static async start(count: number, options: DevnetOptions = {}): Promise<Devnet> {
    const net = await Devnet.create();
    try {
      const boot = await net.addNode({ config: options.config, network: options.network });
      await Promise.all(
        Array.from({ length: count - 1 }, () =>
          net.addNode({
            config: options.config,
            network: options.network,
            bootstrappers: [boot.addr],
          })),
      );
      return net;
    } catch (err) {
      await net.stop();
      throw err;
    }
  }

  get bootnode(): DevnetNode {
    return this.nodes[0];
  }

  /** Makes a root in this devnet's folder and (unless `start: false`) starts its daemon. */
  async addNode(options: NodeOptions & { start?: boolean } = {}): Promise<DevnetNode> {
    const name = `node${this.#count++}`;
    const node = await DevnetNode.init(name, join(this.dir, name), options);
    this.nodes.push(node);
    if (options.start !== false) await node.start();
    return node;
  }

  /** Stops every running daemon (SIGKILL past the deadline), then removes the folder. */
  async stop(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** `peerId`'s reputation as `n` scores it (`Filnode.NetScores`), or undefined if unknown. */
export async function reputationOf(n: DevnetNode, peerId: string): Promise<number | undefined> {
  const scores = await n.call<{ ID: string; Reputation: number }[]>("Filnode.NetScores");
  return scores.find((s) => s.ID === peerId)?.Reputation;
}

/**
 * Polls `check` until it returns a value other than `undefined`, or throws after `timeoutMs`
 * with the last value `describe` gives (so a failure says what was seen).
 */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.describe?.() ?? (lastError ? String(lastError) : "condition never held");
      throw new Error(`gave up after ${options.timeoutMs} ms: ${what}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/** Base64 of bytes, for Filnode.GossipPublish. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
