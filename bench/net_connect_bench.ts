/**
 * Connection setup between two in-process hosts on 127.0.0.1: filnode against plain js-libp2p.
 *
 *     deno bench --allow-net=127.0.0.1 --allow-read --allow-write --allow-env bench/net_connect_bench.ts
 *
 * Without `--allow-net=127.0.0.1` the cases are reported as ignored (the `deno task bench` line
 * without net access still runs the other bench files).
 *
 * Group "connection setup", each iteration opening one connection and (untimed) closing it and
 * waiting until the listener has seen it close, so every iteration starts from no connection:
 * - plain js-libp2p (baseline): `createLibp2p` with TCP, Noise and yamux only, from the same
 *   package versions; timed until `dial()` resolves (TCP + Noise XX + muxer).
 * - filnode, dial: two FilecoinNodes with their Network (all services: identify, ping, gossipsub,
 *   Kademlia, bitswap, Hello, the peer manager); timed until `dial()` resolves. Against the
 *   baseline this shows the cost of our stack at the same point: muxer selection by
 *   multistream-select after Noise (see `noiseWithoutEarlyMuxerNegotiation`) and the gater.
 * - filnode, dial + hello: timed until Hello has completed both ways on the dialer: its own hello
 *   answered with a LatencyMessage and the listener's hello received and matched; only then
 *   may the peers use Filecoin protocols, so this is the node's real connection setup.
 *
 * There is no fixed goal in issue 3 for this figure; the ratio to the baseline is the report.
 * Nodes are devnet roots in a temp dir with discovery and pruning pushed past the run, so that
 * only the benchmarked dial touches the network; the dir is removed on unload.
 */
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Connection, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { DEVNET_CONFIG } from "../src/cli/init.ts";
import { FilecoinNode } from "../src/node.ts";
import type { HelloService } from "../src/protocols/hello.ts";
import { initRepo } from "../src/repo/repo.ts";

const GROUP = "connection setup";
/** Far past any bench run: no DHT walk or prune runs behind the timed dials. */
const QUIET_INTERVAL_MS = 60 * 60_000;
/** One iteration gives up after this long rather than hang the bench. */
const STEP_TIMEOUT_MS = 10_000;

const netAllowed =
  (await Deno.permissions.query({ name: "net", host: "127.0.0.1" })).state === "granted";

interface Pair {
  dir: string;
  dialer: FilecoinNode;
  listener: FilecoinNode;
  listenerAddr: Multiaddr;
  plainDialer: Libp2p;
  plainListener: Libp2p;
  plainAddr: Multiaddr;
}

async function setUp(): Promise<Pair> {
  const dir = await Deno.makeTempDir({ prefix: "net_connect_bench_" });
  const node = async (name: string) => {
    const root = `${dir}/${name}`;
    await initRepo(root, {
      insecureKeystore: true,
      config: {
        ...DEVNET_CONFIG,
        "Chain.Network": "benchnet",
        "Network.MinPeers": 1,
        "Network.DiscoveryInterval": QUIET_INTERVAL_MS,
        "Network.PruneInterval": QUIET_INTERVAL_MS,
      },
    });
    const n = new FilecoinNode({ root, network: true });
    await n.start();
    return n;
  };
  const plain = () =>
    createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // filnode spares loopback from libp2p's 5-inbound-connections-a-second-per-IP limit
      // (network.ts `spareFromInboundRateLimit`); without the same, the baseline's listener
      // refuses this loop's dials after the fifth in a second.
      connectionManager: { inboundConnectionThreshold: Infinity },
    });
  const dialer = await node("dialer");
  const listener = await node("listener");
  const plainDialer = await plain();
  const plainListener = await plain();
  return {
    dir,
    dialer,
    listener,
    listenerAddr: listener.network.host.libp2p.getMultiaddrs()[0],
    plainDialer,
    plainListener,
    plainAddr: plainListener.getMultiaddrs()[0],
  };
}

if (!netAllowed) {
  console.error("net_connect_bench.ts: no --allow-net=127.0.0.1, so its cases are ignored");
}
const pair = netAllowed ? await setUp() : undefined;
// deno bench ends the process after the last case and runs no async teardown; the nodes die
// with it, the temp roots must not outlive it.
globalThis.addEventListener("unload", () => {
  if (pair) Deno.removeSync(pair.dir, { recursive: true });
});

function timeout<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: over ${STEP_TIMEOUT_MS} ms`)),
        STEP_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Closes `conn` and waits until the far side no longer holds a connection to the dialer. */
async function closeAndSettle(conn: Connection, far: Libp2p, near: PeerId): Promise<void> {
  await conn.close().catch((err) => conn.abort(err));
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (far.getConnections(near).length > 0 || conn.status !== "closed") {
    if (Date.now() > deadline) throw new Error("the connection did not close");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Resolves once Hello has completed both ways on the dialer's side: `latency` (our hello was
 * answered) and `greeted` (the peer's hello arrived and matched our genesis).
 */
function helloCompleted(hello: HelloService, peer: string): Promise<void> {
  let answered = false;
  let greeted = hello.isGreeted(peer);
  return timeout(
    "hello",
    new Promise<void>((resolve) => {
      const check = () => {
        if (!answered || !greeted) return;
        hello.removeEventListener("latency", onLatency);
        hello.removeEventListener("greeted", onGreeted);
        resolve();
      };
      const onLatency = (evt: CustomEvent<{ peerId: string }>) => {
        if (evt.detail.peerId === peer) answered = true;
        check();
      };
      const onGreeted = (evt: CustomEvent<{ peerId: string }>) => {
        if (evt.detail.peerId === peer) greeted = true;
        check();
      };
      hello.addEventListener("latency", onLatency);
      hello.addEventListener("greeted", onGreeted);
    }),
  );
}

Deno.bench({
  name: "plain js-libp2p: dial + Noise + yamux",
  group: GROUP,
  baseline: true,
  ignore: !netAllowed,
  async fn(b) {
    const { plainDialer, plainListener, plainAddr } = pair!;
    b.start();
    const conn = await timeout("dial", plainDialer.dial(plainAddr));
    b.end();
    await closeAndSettle(conn, plainListener, plainDialer.peerId);
  },
});

Deno.bench({
  name: "filnode: dial + Noise + muxer",
  group: GROUP,
  ignore: !netAllowed,
  async fn(b) {
    const { dialer, listener, listenerAddr } = pair!;
    const libp2p = dialer.network.host.libp2p;
    // Let hello finish (untimed) before closing, so no half-done exchange spills into the next.
    const hello = helloCompleted(dialer.network.hello, listener.network.host.peerId.toString());
    b.start();
    const conn = await timeout("dial", libp2p.dial(listenerAddr));
    b.end();
    await hello;
    await closeAndSettle(conn, listener.network.host.libp2p, libp2p.peerId);
  },
});

Deno.bench({
  name: "filnode: dial + Noise + muxer + Hello both ways",
  group: GROUP,
  ignore: !netAllowed,
  async fn(b) {
    const { dialer, listener, listenerAddr } = pair!;
    const libp2p = dialer.network.host.libp2p;
    const hello = helloCompleted(dialer.network.hello, listener.network.host.peerId.toString());
    b.start();
    const conn = await timeout("dial", libp2p.dial(listenerAddr));
    await hello;
    b.end();
    await closeAndSettle(conn, listener.network.host.libp2p, libp2p.peerId);
  },
});
