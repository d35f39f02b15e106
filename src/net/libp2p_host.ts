/**
 * The libp2p host: TCP, Noise, yamux + mplex, identify, ping, gossipsub, Kademlia under the
 * Filecoin prefix, and Helia's bitswap serving the IpldStore. Versions are the libp2p 2 line
 * (see README "Library choices"): mplex on libp2p 3 lost streams in our measurements.
 *
 * This module also works around what libp2p 2.10 leaves behind in Deno (timers after stop, a
 * noise muxer-order bug); each workaround says what it fixes.
 */
import "./deno_shims.ts";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { mplex } from "@libp2p/mplex";
import { yamux } from "@chainsafe/libp2p-yamux";
import { type Identify, identify } from "@libp2p/identify";
import { type Ping, ping } from "@libp2p/ping";
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
} from "@libp2p/kad-dht";
import { gossipsub, type GossipsubEvents } from "@chainsafe/libp2p-gossipsub";
import { type Bitswap, createBitswap } from "@helia/bitswap";
import type {
  Connection,
  ConnectionGater,
  PeerId,
  PrivateKey,
  PubSub,
  StreamMuxerFactory,
} from "@libp2p/interface";
import type { Blockstore } from "interface-blockstore";
import { createHash } from "node:crypto";
import { sha256 } from "multiformats/hashes/sha2";
import { identity } from "multiformats/hashes/identity";
import { blake2b256, BLAKE2B_256 } from "../ipld/block.ts";
import { blake2b256Digest } from "../crypto/blake2b.ts";
import { reportStreamFaults, type StreamFault } from "./stream_faults.ts";
import {
  guardStreamHandlers,
  type HandlerFault,
  type HandlerFaultStats,
} from "./peer_fault_guard.ts";
import { toHex } from "../hex.ts";
import { installEd25519VerifyCache } from "./ed25519_verify_cache.ts";

export type MuxerName = "yamux" | "mplex";

export interface HostOptions {
  privateKey: PrivateKey;
  /** Listen multiaddrs, e.g. `/ip4/127.0.0.1/tcp/0`; [] for dial-only. */
  listen: string[];
  /** Network name from genesis: the DHT protocol is `/fil/kad/<network>/kad/1.0.0`. */
  network: string;
  blockstore: Blockstore;
  gater?: ConnectionGater;
  /** Hard ceiling on connections (the peer manager keeps to its slots below it). */
  maxConnections?: number;
  /** Muxers in the order we offer them; yamux first as go-libp2p (Lotus) does. */
  muxers?: MuxerName[];
  /** Keep private and loopback addresses in the DHT: local devnets and tests need them. */
  allowPrivateAddresses?: boolean;
  /** Told when the Kademlia or bitswap handler resets a stream over the peer's bytes. */
  onStreamFault?: (fault: StreamFault) => void;
  /**
   * Told when a protocol handler registered after start (hello, chain exchange) throws or
   * rejects serving a peer (see peer_fault_guard.ts). Unset: such faults go to `onStreamFault`.
   */
  onHandlerFault?: (fault: HandlerFault) => void;
}

/** The bitswap protocol Helia serves (Lotus speaks 1.2.0 as well). */
export const BITSWAP_PROTOCOL = "/ipfs/bitswap/1.2.0";

/**
 * Largest Kademlia message we read: go-libp2p-kad-dht's `network.MessageSizeMax` (4 MiB), the
 * size Lotus peers enforce. kad-dht 15 enforces none of its own.
 */
export const KAD_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The Kademlia protocol of a Filecoin network: Lotus's `/fil/kad/<network>` prefix. */
export function kadProtocol(network: string): string {
  return `/fil/kad/${network}/kad/1.0.0`;
}

export type HostServices = {
  identify: Identify;
  ping: Ping;
  pubsub: PubSub<GossipsubEvents>;
  dht: KadDHT;
};

export type Libp2pNode = Libp2p<HostServices>;

export interface Host {
  readonly libp2p: Libp2pNode;
  readonly bitswap: Bitswap;
  readonly peerId: PeerId;
  /** Faults of guarded protocol handlers so far (peer_fault_guard.ts). */
  readonly handlerFaults: HandlerFaultStats;
  stop(): Promise<void>;
}

/** Bitswap verifies blocks it receives; Filecoin blocks are blake2b-256. */
const hashLoader = {
  // deno-lint-ignore require-await
  async getHasher(codeOrName: number | string) {
    if (codeOrName === BLAKE2B_256 || codeOrName === "blake2b-256") return blake2b256;
    if (codeOrName === sha256.code || codeOrName === "sha2-256") return sha256;
    if (codeOrName === identity.code || codeOrName === "identity") return identity;
    throw new Error(`unsupported multihash ${codeOrName}`);
  },
};

/** Filecoin's gossipsub message ID: blake2b-256 of the data (Lotus `HashMsgId`). */
export function filecoinMessageId(msg: { data: Uint8Array }): Uint8Array {
  return blake2b256Digest(msg.data);
}

/**
 * The key gossipsub checks for duplicates before it verifies a message's libp2p signature: a
 * native SHA-256 of the data, ~2 µs against 50-250 µs (warm, cold) for the Ed25519 check and
 * the blake2b of `filecoinMessageId`. Every node receives each message once from the
 * publisher and again from most of its mesh peers, and without this key gossipsub verifies every
 * copy before it finds the copy is one it has seen (go-libp2p-pubsub, in Lotus, checks seen IDs
 * first too). It is local, never on the wire, so it need not be Filecoin's ID, but it must be
 * collision resistant: a peer that could make a message collide with one still to come could
 * have that one dropped as a duplicate. Keyed on the data alone, as the message ID is, and cached
 * only once a copy's signature has passed, so a forged copy cannot shadow the real message.
 */
export function fastGossipMessageId(msg: { data?: Uint8Array }): string {
  return createHash("sha256").update(msg.data ?? new Uint8Array()).digest("base64");
}

/** Orders peer IDs by their multihash bytes: both peers of a connection compute the same order. */
export function comparePeerIds(a: PeerId, b: PeerId): number {
  const x = a.toMultihash().bytes;
  const y = b.toMultihash().bytes;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export async function createHost(opts: HostOptions): Promise<Host> {
  installEd25519VerifyCache();
  const libp2p = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noiseWithoutEarlyMuxerNegotiation()],
    // deno-lint-ignore no-explicit-any
    streamMuxers: muxerFactories(opts.muxers ?? ["yamux", "mplex"]) as any,
    connectionGater: opts.gater,
    connectionManager: opts.maxConnections ? { maxConnections: opts.maxConnections } : undefined,
    // libp2p pings every connection each 10 s and updates its peer store twice per ping: half of
    // an idle node's CPU (profiled). Once a minute is plenty to notice dead connections.
    connectionMonitor: { pingInterval: 60_000 },
    // No peerDiscovery modules: bootstrapping is ours, and never reaches public IPFS nodes.
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: "StrictSign",
        msgIdFn: filecoinMessageId,
        fastMsgIdFn: fastGossipMessageId,
        // Hex message IDs: the form the gossip stats report, taken from gossipsub's delivery event.
        msgIdToStrFn: toHex,
        floodPublish: true, // Lotus: WithFloodPublish(true)
        allowPublishToZeroTopicPeers: true,
        // gossipsub's IP colocation penalty scores every peer below the drop threshold once more
        // than 10 share an address, so a devnet on one machine never formed a mesh (measured: 0 of
        // 950 messages across 20 processes). Loopback is spared, as IP bans spare it.
        scoreParams: { IPColocationFactorWhitelist: new Set(["127.0.0.1", "::1"]) },
      }),
      dht: kadDHT({
        protocol: kadProtocol(opts.network),
        // kad-dht 15 defaults to client mode despite its docs: we serve too.
        clientMode: false,
        peerInfoMapper: opts.allowPrivateAddresses
          ? passthroughMapper
          : removePrivateAddressesMapper,
      }),
    },
  });
  installConnectionDedupe(libp2p);
  disableAutomaticReconnect(libp2p);

  const bitswap = createBitswap(
    {
      blockstore: opts.blockstore,
      libp2p,
      logger: libp2p.logger,
      // Lotus runs its DHT without providers: bitswap asks the peers we are connected to.
      routing: {
        async *findProviders() {},
        async provide() {},
        async cancelReprovide() {},
        async put() {},
        get: () => Promise.reject(new Error("not supported")),
        findPeer: () => Promise.reject(new Error("not supported")),
        async *getClosestPeers() {},
      },
    },
    { hashLoader },
  );
  await bitswap.start();
  if (opts.onStreamFault) {
    await reportStreamFaults(
      libp2p,
      [
        { protocol: kadProtocol(opts.network), maxFrameBytes: KAD_MAX_MESSAGE_BYTES },
        // Bitswap caps its own frames (maxIncomingMessageSize).
        { protocol: BITSWAP_PROTOCOL },
      ],
      opts.onStreamFault,
    );
  }

  // After the library handlers are in place: only handlers registered from here on are guarded.
  const handlerFaults = guardStreamHandlers(
    libp2p,
    (fault) =>
      opts.onHandlerFault
        ? opts.onHandlerFault(fault)
        : opts.onStreamFault?.({ ...fault, kind: "handler-error" }),
  );
  return {
    libp2p,
    bitswap,
    peerId: libp2p.peerId,
    handlerFaults,
    async stop() {
      await bitswap.stop();
      await stopLibp2pCleanly(libp2p);
    },
  };
}

/**
 * noise 16.1.5's in-handshake muxer negotiation has each side pick the first entry of the other's
 * list, so two peers offering yamux and mplex in different orders pick different muxers and the
 * connection dies (measured). Skipping it falls back to multistream-select after the handshake:
 * one more round trip, and the dialer's order wins, as the spec says.
 */
function noiseWithoutEarlyMuxerNegotiation() {
  const make = noise();
  // deno-lint-ignore no-explicit-any
  return (components: any) => {
    const encrypter = make(components);
    const outbound = encrypter.secureOutbound.bind(encrypter);
    const inbound = encrypter.secureInbound.bind(encrypter);
    // deno-lint-ignore no-explicit-any
    encrypter.secureOutbound = (conn: any, options?: any) =>
      outbound(conn, { ...options, skipStreamMuxerNegotiation: true });
    // deno-lint-ignore no-explicit-any
    encrypter.secureInbound = (conn: any, options?: any) =>
      inbound(conn, { ...options, skipStreamMuxerNegotiation: true });
    return encrypter;
  };
}

function muxerFactories(names: MuxerName[]) {
  return names.map((n) => (n === "yamux" ? yamux() : mplexWithoutLeak())) as Array<
    (components: unknown) => StreamMuxerFactory
  >;
}

/**
 * mplex 11 gives every connection a RateLimiter and never clears it, leaving 1 s timers after the
 * connection closes; clear it when the muxer closes.
 */
function mplexWithoutLeak() {
  const make = mplex();
  // deno-lint-ignore no-explicit-any
  return (components: any) => {
    const factory = make(components);
    const create = factory.createStreamMuxer.bind(factory);
    // deno-lint-ignore no-explicit-any
    factory.createStreamMuxer = (init?: any) => {
      const muxer = create(init);
      // deno-lint-ignore no-explicit-any
      const m = muxer as any;
      m.closeController?.signal?.addEventListener(
        "abort",
        () => clearRateLimiter(m.rateLimiter),
        { once: true },
      );
      return muxer;
    };
    return factory;
  };
}

/** Empties a @libp2p/utils RateLimiter: each key holds a 1 s timer. */
// deno-lint-ignore no-explicit-any
function clearRateLimiter(limiter: any): void {
  const storage = limiter?.memoryStorage;
  if (storage?.storage instanceof Map) {
    for (const key of [...storage.storage.keys()]) storage.delete(key);
  }
}

/**
 * Stops libp2p and clears the timers 2.10 leaves behind (each fails the test sanitizers and delays
 * exit): gossipsub's pending heartbeat, the address manager's debounce re-armed during stop, the
 * inbound connection rate limiter, and it-queue's 1 ms debounces (a short wait). These reach into
 * private fields, guarded; the sanitizer-enabled host test is what notices if an upgrade moves them.
 */
async function stopLibp2pCleanly(libp2p: Libp2pNode): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const pubsub = libp2p.services.pubsub as any;
  const heartbeat = pubsub?.status?.heartbeatTimeout;
  await libp2p.stop();
  if (heartbeat != null) clearTimeout(heartbeat);
  // deno-lint-ignore no-explicit-any
  const components = (libp2p as any).components;
  components?.addressManager?._updatePeerStoreAddresses?.stop?.();
  clearRateLimiter(components?.connectionManager?.inboundConnectionRateLimiter);
  await new Promise((resolve) => setTimeout(resolve, 10));
}

/**
 * One connection per peer, decided the same way on both sides on every `connection:open`: a
 * connection initiated by the peer with the lower peer ID wins over one initiated by the higher;
 * both close the loser. Among several from the same initiator, only the initiator closes the
 * extras (keeping its oldest), so the two sides never pick different survivors.
 */
function installConnectionDedupe(libp2p: Libp2pNode): void {
  const self = libp2p.peerId;
  libp2p.addEventListener("connection:open", (evt) => {
    const remote = evt.detail.remotePeer;
    const conns = libp2p.getConnections(remote).filter((c) => c.status === "open");
    if (conns.length < 2) return;
    const selfIsLower = comparePeerIds(self, remote) < 0;
    const initiatedByLower = (c: Connection) => (c.direction === "outbound") === selfIsLower;
    const winners = conns.filter(initiatedByLower);
    const losers = conns.filter((c) => !initiatedByLower(c));
    const toClose: Connection[] = [];
    if (winners.length > 0) toClose.push(...losers);
    else if (losers.length > 1 && !selfIsLower) toClose.push(...oldestFirst(losers).slice(1));
    if (winners.length > 1 && selfIsLower) toClose.push(...oldestFirst(winners).slice(1));
    for (const c of toClose) c.close().catch((err) => c.abort(err));
  });
}

/**
 * Reconnecting is the Network's decision, not libp2p's. kad-dht 15 tags its closest peers
 * keep-alive (on a small network, every peer), and libp2p 2.10's reconnect queue then redials such
 * a peer the moment we hang up on it, undoing reputation disconnects and slot evictions (and its
 * retries run ~1 ms apart: it passes undefined backoff options to p-retry). `reconnectRetries: 0`
 * still makes one immediate attempt, so the queue is switched off here.
 */
function disableAutomaticReconnect(libp2p: Libp2pNode): void {
  // deno-lint-ignore no-explicit-any
  const queue = (libp2p as any).components?.connectionManager?.reconnectQueue;
  if (queue) queue.maybeReconnect = () => Promise.resolve();
}

function oldestFirst(conns: Connection[]): Connection[] {
  return [...conns].sort((a, b) => a.timeline.open - b.timeline.open);
}
