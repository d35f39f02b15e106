/**
 * Shared helpers for the in-process network tests: libp2p hosts on 127.0.0.1 with a throwaway or
 * KeyStore-backed identity over a MemoryIpldStore, an echo protocol, and bounded waits. Every wait
 * clears its own timer so the test sanitizers stay quiet; every host is stopped by `withHosts`.
 *
 * @module
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Connection, PrivateKey, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { libp2pIdentity } from "../src/net/identity.ts";
import { ipldBlockstore } from "../src/net/ipld_blockstore.ts";
import { createHost, type Host, type HostOptions } from "../src/net/libp2p_host.ts";
import { KeyStore } from "../src/repo/keystore.ts";
import { MemoryIpldStore } from "../src/ipld/memory_ipld_store.ts";

/** Network name for test hosts: only the DHT protocol id depends on it. */
export const TEST_NETWORK = "testnet";

/** A request/response protocol that writes back what it reads: exercises raw streams. */
export const ECHO_PROTOCOL = "/filnode-test/echo/1.0.0";

/** Generous bound for any single wait on a 2-core machine running other tests. */
export const WAIT_MS = 10_000;

/** A host plus the store its bitswap serves from. */
export interface TestHost extends Host {
  readonly store: MemoryIpldStore;
  /** The first listen address with `/p2p/<id>`. */
  readonly addr: Multiaddr;
}

export interface TestHostOptions extends Partial<Omit<HostOptions, "blockstore">> {
  store?: MemoryIpldStore;
}

/** A fresh throwaway ed25519 libp2p key. */
export async function randomIdentity(): Promise<PrivateKey> {
  return await generateKeyPair("Ed25519");
}

/**
 * A libp2p identity backed by a new insecure KeyStore in `dir`: the seed stays in the store, as
 * the daemon's does.
 */
export async function keyStoreIdentity(dir: string): Promise<PrivateKey> {
  const ks = await KeyStore.create(dir, { insecure: true });
  await ks.generate("ed25519");
  return libp2pIdentity(await ks.ed25519Signer());
}

/** Starts a host listening on 127.0.0.1 (random port). Stop it (or use `withHosts`). */
export async function startHost(options: TestHostOptions = {}): Promise<TestHost> {
  const store = options.store ?? new MemoryIpldStore();
  const host = await createHost({
    privateKey: options.privateKey ?? await randomIdentity(),
    listen: options.listen ?? ["/ip4/127.0.0.1/tcp/0"],
    network: options.network ?? TEST_NETWORK,
    blockstore: ipldBlockstore(store),
    gater: options.gater,
    maxConnections: options.maxConnections,
    muxers: options.muxers,
    allowPrivateAddresses: options.allowPrivateAddresses ?? true,
    onStreamFault: options.onStreamFault,
    onHandlerFault: options.onHandlerFault,
  });
  const addr = host.libp2p.getMultiaddrs()[0];
  if (addr === undefined) {
    await host.stop();
    throw new Error("test host has no listen address");
  }
  return {
    libp2p: host.libp2p,
    bitswap: host.bitswap,
    peerId: host.peerId,
    handlerFaults: host.handlerFaults,
    stop: () => host.stop(),
    store,
    addr,
  };
}

/**
 * Starts one host per options entry, runs `fn`, and stops every host that started, whatever `fn`
 * did. Hosts are stopped one at a time so each stop's cleanup finishes before the next.
 */
export async function withHosts<T>(
  options: TestHostOptions[],
  fn: (hosts: TestHost[]) => Promise<T>,
): Promise<T> {
  const hosts: TestHost[] = [];
  try {
    for (const o of options) hosts.push(await startHost(o));
    return await fn(hosts);
  } finally {
    for (const h of hosts) await h.stop();
  }
}

/** Serves ECHO_PROTOCOL on `host`: each stream gets back exactly what it sent. */
export async function handleEcho(host: Host, maxInboundStreams = 32): Promise<void> {
  await host.libp2p.handle(ECHO_PROTOCOL, ({ stream }) => {
    stream.sink(stream.source).catch((err) => stream.abort(err));
  }, { maxInboundStreams });
}

/** Sends `data` on a new echo stream over `conn` and returns the reply. */
export async function echoOver(conn: Connection, data: Uint8Array): Promise<Uint8Array> {
  const stream = await conn.newStream(ECHO_PROTOCOL);
  const [, reply] = await Promise.all([stream.sink([data]), readAll(stream)]);
  return reply;
}

/** Reads a stream to its end. */
export async function readAll(stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream.source) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    chunks.push(bytes);
    total += bytes.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Open connections from `host` to `peer`. */
export function openConnections(host: Host, peer: Host): Connection[] {
  return host.libp2p.getConnections(peer.peerId).filter((c) => c.status === "open");
}

/**
 * Polls `condition` every few ms until it is true; throws after `timeoutMs` with `what` in the
 * message. The poll timer is always cleared.
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting: ${what}`);
    await sleep(10);
  }
}

/**
 * Resolves with the next `type` event's detail from `target`, or rejects after `timeoutMs`.
 * Call it BEFORE the action that fires the event.
 */
export function nextEvent<T>(
  target: EventTarget,
  type: string,
  timeoutMs = WAIT_MS,
  filter: (detail: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (evt: Event) => {
      const detail = (evt as CustomEvent<T>).detail;
      if (!filter(detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, listener);
      resolve(detail);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener);
      reject(new Error(`no "${type}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    target.addEventListener(type, listener);
  });
}

/** Collects every `type` event's detail from `target` until the returned `stop()` is called. */
export function recordEvents<T>(
  target: EventTarget,
  type: string,
): { readonly events: T[]; stop(): void } {
  const events: T[] = [];
  const listener = (evt: Event) => events.push((evt as CustomEvent<T>).detail);
  target.addEventListener(type, listener);
  return { events, stop: () => target.removeEventListener(type, listener) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
