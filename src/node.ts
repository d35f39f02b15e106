/**
 * FilecoinNode: owns the node's systems and their lifecycle.
 *
 * Every system reaches the world through what this object hands it (the spec's "Implementing
 * Systems" chapter): the IpldStore, the user Config, the KeyStore, the FileStore, the Clock and
 * the libp2p Network. `start()` brings systems up in dependency order and `stop()`
 * takes them down in reverse; a failed start unwinds what it had started.
 */
import type { AbortOptions, Startable } from "./abort.ts";
import { ChainStore, type HeadChange } from "./chain/chain_store.ts";
import { ChainSync } from "./sync/chain_sync.ts";
import {
  devnetGenesisTemplate,
  type GenesisState,
  loadOrCreateGenesis,
  readGenesisState,
} from "./chain/genesis.ts";
import type { Consensus } from "./consensus/consensus.ts";
import { DevnetConsensus } from "./consensus/devnet_consensus.ts";
import { Clock } from "./clock/clock.ts";
import type { TimeSource } from "./clock/time_source.ts";
import { DiskFileStore } from "./filestore/disk_file_store.ts";
import type { FileStore } from "./filestore/file_store.ts";
import { type Config, loadConfig, resolveStorePath } from "./repo/config.ts";
import { fsckIpldStore, type FsckReport } from "./repo/ipld_store_fsck.ts";
import type { IpldStore } from "./ipld/ipld_store.ts";
import { KeyStore } from "./repo/keystore.ts";
import { KvIpldStore } from "./repo/kv_ipld_store.ts";
import { repoLayout } from "./repo/layout.ts";
import { assertRepo } from "./repo/repo.ts";
import { RepoLock } from "./repo/repo_lock.ts";
import { Network } from "./net/network.ts";
import { openStoreKv } from "./repo/store_kv.ts";
import { UserError } from "./errors.ts";

/** The root's genesis is not one this node can run on yet. */
export class UnsupportedGenesisError extends UserError {}

export interface FilecoinNodeOptions {
  /** The node root (see `src/repo/layout.ts`). */
  root: string;
  /** Keystore passphrase; not needed for an insecure (devnet) keystore. */
  passphrase?: string;
  /** Take the root's exclusive lock: what a daemon does, so that two never share a root. */
  exclusive?: boolean;
  /** Time source for the Clock; the system clock by default. Tests pass a fake. */
  timeSource?: TimeSource;
  /** Start the libp2p network system too (the daemon does; offline commands do not). */
  network?: boolean;
  /** Where systems report notable events (bans, failed bootnodes). */
  log?: (line: string) => void;
  /** Called with the start-up integrity check's findings. */
  onStartupCheck?: (report: StartupCheckReport) => void;
}

/** What the cheap start-up check found and repaired. */
export interface StartupCheckReport {
  readonly store: FsckReport;
  /** Leftover partial FileStore writes removed. */
  readonly tempFilesRemoved: number;
}

type Teardown = () => Promise<void> | void;

export class FilecoinNode implements Startable {
  readonly root: string;
  readonly #options: FilecoinNodeOptions;
  #teardowns: Teardown[] = [];
  #starting?: Promise<void>;
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  #config?: Config;
  #kv?: Deno.Kv;
  #ipld?: IpldStore;
  #keystore?: KeyStore;
  #files?: FileStore;
  #clock?: Clock;
  #chain?: ChainStore;
  #genesisState?: GenesisState;
  #consensus?: Consensus;
  #chainSync?: ChainSync;
  #network?: Network;

  constructor(options: FilecoinNodeOptions) {
    this.root = options.root;
    this.#options = options;
  }

  get config(): Config {
    return this.#running(this.#config);
  }
  /** Blocks by CID. */
  get ipld(): IpldStore {
    return this.#running(this.#ipld);
  }
  /** Mutable pointers (chain head, peer book) live beside the blocks, in the same KV. */
  get kv(): Deno.Kv {
    return this.#running(this.#kv);
  }
  get keystore(): KeyStore {
    return this.#running(this.#keystore);
  }
  get files(): FileStore {
    return this.#running(this.#files);
  }
  get clock(): Clock {
    return this.#running(this.#clock);
  }
  /** The chain: genesis, head, tipsets by key and height (systems other than sync only read). */
  /** What genesis set up: network name, block delay (seconds), accounts and miners. */
  get genesisState(): GenesisState {
    return this.#running(this.#genesisState);
  }

  /** The consensus rules validation and sync apply. */
  get consensus(): Consensus {
    return this.#running(this.#consensus);
  }

  /** Chain exchange and sync (only when the network runs). */
  get sync(): ChainSync {
    return this.#running(this.#chainSync);
  }

  get chain(): ChainStore {
    return this.#running(this.#chain);
  }
  /** The network system; only on a node started with `network: true`. */
  get network(): Network {
    return this.#running(this.#network);
  }
  get running(): boolean {
    return this.#state === "running";
  }

  #running<T>(system: T | undefined): T {
    if (system === undefined || this.#state !== "running") {
      throw new Error(
        `FilecoinNode is ${this.#state}; its systems are available only while running`,
      );
    }
    return system;
  }

  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#state !== "new") throw new Error(`FilecoinNode cannot start: it is ${this.#state}`);
    this.#state = "starting";
    this.#starting = this.#startSystems(options);
    try {
      await this.#starting;
      this.#state = "running";
    } catch (err) {
      await this.#unwind();
      this.#state = "stopped";
      throw err;
    }
  }

  async #startSystems(options: AbortOptions): Promise<void> {
    const { signal } = options;
    const layout = repoLayout(this.root);
    await assertRepo(this.root);
    if (this.#options.exclusive) {
      const lock = await RepoLock.acquire(layout.lock, this.root);
      this.#teardowns.push(() => lock.release());
    }
    signal?.throwIfAborted();

    const { config } = await loadConfig(layout.config, { signal });
    this.#config = config;

    const kv = await openStoreKv(this.root, config);
    this.#teardowns.push(() => kv.close());
    this.#kv = kv;
    // The spec asks initialisation to repair what a crash may have left: the cheap pass finds
    // orphan chunks and unreadable blocks without reading block bytes.
    const store = this.#options.exclusive
      ? await fsckIpldStore(kv, { repair: true, signal })
      : undefined;
    this.#ipld = new KvIpldStore(kv, { maxBlockSize: config.Store.MaxBlockSize });
    // A root made with `init --genesis` has its genesis already; any other gets the devnet
    // genesis its config describes, so nodes started from the same config share it.
    const genesis = await loadOrCreateGenesis(kv, this.#ipld, devnetGenesisTemplate(config), {
      signal,
    });
    this.#chain = await ChainStore.open(kv, this.#ipld, genesis, {
      networkName: config.Chain.Network,
      signal,
    });
    // The operator's view of the chain moving (and what e2e tests wait on): one line per head move.
    const log = this.#options.log;
    if (log) {
      const onHead = (e: CustomEvent<HeadChange>) => log(describeHeadChange(e.detail));
      this.#chain.addEventListener("head-changed", onHead);
      const chain = this.#chain;
      this.#teardowns.push(() => chain.removeEventListener("head-changed", onHead));
    }
    const genesisState = await readGenesisState(this.#ipld, this.#chain.genesisTipSet.blocks[0], {
      signal,
    });
    if (!genesisState) {
      // Real network genesis blocks name an actor state tree, which the state issue brings.
      throw new UnsupportedGenesisError(
        "this genesis carries no devnet state: only devnet genesis blocks are supported so far",
      );
    }
    this.#genesisState = genesisState;
    this.#consensus = new DevnetConsensus(genesisState.miners);

    this.#keystore = await KeyStore.open(layout.keystore, {
      passphrase: this.#options.passphrase,
      network: config.Keystore.AddressPrefix,
      signal,
    });

    const files = await DiskFileStore.open(layout.files, { signal });
    const tempFilesRemoved = this.#options.exclusive ? await files.cleanTemp({ signal }) : 0;
    this.#files = files;

    this.#clock = new Clock({
      // Chain.GenesisTime 0 means "from the genesis block".
      genesisTime: config.Chain.GenesisTime || genesis.timestamp,
      blockDelayMs: config.Chain.BlockDelay,
      offsetMs: config.Clock.Offset,
      maxDriftMs: config.Clock.MaxDrift,
      timeSource: this.#options.timeSource,
    });

    if (this.#options.network) {
      const network = new Network({
        config,
        keystore: this.#keystore,
        kv,
        ipld: this.#ipld,
        chain: this.#chain,
        clock: this.#clock,
        timeSource: this.#options.timeSource,
        log: this.#options.log,
      });
      // Made before the network starts, so hello targets from the first peers are not missed.
      const chainSync = new ChainSync({
        network,
        chain: this.#chain,
        ipld: this.#ipld,
        consensus: this.#consensus,
        clock: this.#clock,
        blockDelay: genesisState.blockDelay,
        exchangeTimeoutMs: config.Chain.ExchangeTimeout,
        kv,
        storePath: resolveStorePath(this.root, config),
        log: this.#options.log,
      });
      await network.start({ signal });
      this.#teardowns.push(() => network.stop());
      this.#network = network;
      await chainSync.start({ signal });
      this.#teardowns.push(() => chainSync.stop());
      this.#chainSync = chainSync;
    }

    if (store) this.#options.onStartupCheck?.({ store, tempFilesRemoved });
  }

  /** Stops every system in reverse start order. Idempotent; never leaves a handle open. */
  async stop(): Promise<void> {
    if (this.#state === "starting") {
      // Let the start finish (or fail and unwind itself), then take down what it started.
      await this.#starting?.catch(() => {});
    }
    if (this.#state === "stopped" || this.#state === "stopping" || this.#state === "new") {
      this.#state = this.#state === "new" ? "stopped" : this.#state;
      return;
    }
    this.#state = "stopping";
    await this.#unwind();
    this.#state = "stopped";
  }

  async #unwind(): Promise<void> {
    const errors: unknown[] = [];
    for (const teardown of this.#teardowns.reverse()) {
      try {
        await teardown();
      } catch (err) {
        errors.push(err);
      }
    }
    this.#teardowns = [];
    this.#config =
      this.#kv =
      this.#ipld =
      this.#keystore =
      this.#files =
      this.#clock =
      this.#chain =
      this.#genesisState =
      this.#consensus =
      this.#chainSync =
      this.#network =
        undefined;
    if (errors.length) throw new AggregateError(errors, "FilecoinNode: errors while stopping");
  }
}

/** `head changed: height 12 (+1 -0) bafy...,bafy...`: the new head, how many tipsets moved. */
export function describeHeadChange(change: HeadChange): string {
  const cids = change.to.cids.map((c) => c.toString()).join(",");
  return `head changed: height ${change.to.height} (+${change.applied.length} -${change.reverted.length}) ${cids}`;
}
