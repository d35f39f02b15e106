/**
 * The chain system's network side, assembled: the chain exchange server (serving our chain to
 * greeted peers), the client (fetching from them), the syncer, and the gossip validators, wired
 * to the network's reputation. The node starts it once both the chain store and the network run.
 *
 * Reputation, as the issue asks: invalid blocks and answers that do not answer cost
 * `invalid-message`; malformed requests `malformed-message`; timeouts `timeout`; rate-limited
 * peers and honest "not found" answers only `useless-message`; validated answers earn
 * `useful-answer`, at most once per {@link REWARD_INTERVAL_MS} per peer: a peer that serves a
 * long honest prefix must not bank enough reward to outweigh the forged block at its end
 * (measured: +5 per 500-tipset answer left such a liar at +98 after its -100).
 *
 * @module
 */
import type { AbortOptions, Startable } from "../abort.ts";
import type { Clock } from "../clock/clock.ts";
import type { Consensus } from "../consensus/consensus.ts";
import type { NetworkEvents } from "../net/network.ts";
import type { SyncNetwork } from "./sync_network.ts";
import type { ReputationEventKind } from "../net/reputation.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import { ChainExchangeClient } from "../protocols/chain_exchange_client.ts";
import {
  CHAIN_EXCHANGE_PROTOCOL,
  ChainExchangeServer,
} from "../protocols/chain_exchange_server.ts";
import type { ChainStore } from "../chain/chain_store.ts";
import { blockGossipValidator, messageGossipValidator } from "./gossip_validators.ts";
import { fetchBlockMessages } from "./block_messages_by_cid.ts";
import { Syncer } from "./syncer.ts";
import { KvWalkProgress } from "./walk_progress.ts";

export interface ChainSyncDeps {
  readonly network: SyncNetwork;
  readonly chain: ChainStore;
  readonly ipld: IpldStore;
  readonly consensus: Consensus;
  readonly clock: Clock;
  /** Seconds per epoch, from genesis. */
  readonly blockDelay: number;
  /** Longest wait for one chain exchange answer (`Chain.ExchangeTimeout`; default 60 s). */
  readonly exchangeTimeoutMs?: number;
  /** The node's KV: walks back record their progress there, so a restart resumes them. */
  readonly kv?: Deno.Kv;
  /** Where the store lives, for errors such as "disk full" (the KV file path or URL). */
  readonly storePath?: string;
  readonly log?: (line: string) => void;
}

/** Chain exchange + sync + gossip validation on one network. `start()` / `stop()`. */
export class ChainSync implements Startable {
  readonly syncer: Syncer;
  readonly #deps: ChainSyncDeps;
  readonly #log: (line: string) => void;
  #server?: ChainExchangeServer;
  #client?: ChainExchangeClient;
  #running = false;

  /**
   * Construct before the network starts: hello targets from the first peers (bootnodes greet
   * within milliseconds of the start) are queued for the syncer from then on.
   */
  constructor(deps: ChainSyncDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? (() => {});
    const { network } = deps;
    this.syncer = new Syncer({
      store: deps.chain,
      fetcher: {
        getChain: async (head, length, options) => {
          if (!this.#client) throw new Error("chain sync is not running");
          // The announcer is asked first (measured: with more peers than attempts, a fork only
          // its announcer had was never fetched).
          const segment = await this.#client.getChain(head, length, {
            messages: options.messages,
            signal: options.signal,
            preferPeer: options.preferPeer,
          });
          return { peerId: segment.peer, tipsets: segment.tipsets, messages: segment.messages };
        },
        getMessagesByCid: (bls, secpk, options) =>
          fetchBlockMessages(
            {
              ipld: deps.ipld,
              want: (cid, o) => network.want(cid, o),
            },
            bls,
            secpk,
            options,
          ),
        getMessages: async (tipsets, options) => {
          if (!this.#client) throw new Error("chain sync is not running");
          const segment = await this.#client.getMessages(tipsets, {
            signal: options.signal,
            preferPeer: options.preferPeer,
          });
          return { peerId: segment.peer, messages: segment.messages };
        },
      },
      consensus: deps.consensus,
      clock: deps.clock,
      storePath: deps.storePath,
      heads: deps.chain,
      progress: deps.kv ? new KvWalkProgress(deps.kv) : undefined,
      blockDelay: deps.blockDelay,
      onBadPeer: (peerId, reason) => {
        this.#log(`sync: peer ${peerId} served an invalid block: ${reason}`);
        network.report(peerId, "invalid-message");
      },
      log: this.#log,
    });
    network.addEventListener("sync-target", this.#onTarget);
  }

  #onTarget = (e: NetworkEvents["sync-target"]): void => {
    const { peerId, hello } = e.detail;
    this.syncer.addTarget({
      peerId,
      cids: hello.heaviestTipSet,
      height: hello.heaviestTipSetHeight,
      weight: hello.heaviestTipSetWeight,
    });
  };

  /** Starts serving and syncing; the network must be running. */
  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#running) return;
    const { network, chain, ipld, consensus, clock } = this.#deps;
    const log = this.#log;
    // Only accepted tipsets are served (see ChainStore.getAcceptedTipSet).
    const server = new ChainExchangeServer({
      source: {
        getTipSet: (cids, options) => chain.getAcceptedTipSet(cids, options),
        getBlockMessages: (header, options) => chain.getBlockMessages(header, options),
      },
    });
    server.addEventListener("misbehaved", (e) => {
      const { peerId, kind, message } = e.detail;
      log(`chain exchange: peer ${peerId} ${kind}: ${message}`);
      network.report(peerId, SERVER_PENALTY[kind]);
    });
    const client = new ChainExchangeClient({
      libp2p: network.connections,
      peers: () => network.greetedPeers(),
      timeoutMs: this.#deps.exchangeTimeoutMs,
    });
    client.addEventListener("bad-answer", (e) => {
      const { peerId, kind, reason } = e.detail;
      log(`chain exchange: answer from ${peerId} unusable (${kind}): ${reason}`);
      network.report(peerId, CLIENT_PENALTY[kind]);
    });
    const rewarded = new Map<string, number>(); // peer -> when last rewarded
    client.addEventListener("good-answer", (e) => {
      const { peerId } = e.detail;
      const now = Date.now();
      if (now - (rewarded.get(peerId) ?? -Infinity) < REWARD_INTERVAL_MS) return;
      rewarded.set(peerId, now);
      if (rewarded.size > 4096) rewarded.delete(rewarded.keys().next().value!);
      network.report(peerId, "useful-answer");
    });
    this.#server = server;
    this.#client = client;
    await server.start();
    await network.handleGreeted(CHAIN_EXCHANGE_PROTOCOL, server.handler());
    network.setGossipValidator(
      "blocks",
      blockGossipValidator({
        clock,
        consensus,
        isBad: (cid) => this.syncer.isBad(cid),
        has: (cid) => ipld.has(cid),
        onBlock: (target) => this.syncer.addTarget(target),
      }),
    );
    network.setGossipValidator("msgs", messageGossipValidator());
    await this.syncer.start(options);
    this.#running = true;
  }

  async stop(): Promise<void> {
    this.#deps.network.removeEventListener("sync-target", this.#onTarget);
    if (!this.#running) return;
    this.#running = false;
    await this.syncer.stop();
    await this.#server?.stop();
    await this.#deps.network.unhandle(CHAIN_EXCHANGE_PROTOCOL);
  }
}

/** Shortest time between two `useful-answer` rewards for one peer's chain exchange answers. */
export const REWARD_INTERVAL_MS = 60_000;

/** What a server-side misbehaviour costs the peer. */
const SERVER_PENALTY: Record<"malformed" | "timeout" | "rate-limited", ReputationEventKind> = {
  malformed: "malformed-message",
  timeout: "timeout",
  // Asking too often is not malice; GoAway already slows it down.
  "rate-limited": "useless-message",
};

/** What an unusable answer costs the peer that gave it. */
const CLIENT_PENALTY: Record<"invalid" | "timeout" | "status" | "error", ReputationEventKind> = {
  invalid: "invalid-message",
  timeout: "timeout",
  // NotFound or GoAway may be honest; a failed stream may be the network.
  status: "useless-message",
  error: "useless-message",
};
