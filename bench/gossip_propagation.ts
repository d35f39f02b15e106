/**
 * Gossip propagation across real node processes on 127.0.0.1: filnode against plain js-libp2p.
 *
 *     deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run \
 *       --allow-sys=uid,gid bench/gossip_propagation.ts \
 *       [--nodes 20] [--messages 50] [--warmup 200] [--interval-ms 200] [--bytes 256] [--rounds 1] \
 *       [--only filnode|plain] [--whitelist-loopback] [--profile] [--stages] [--no-gate]
 *
 * Goal (issue 3): p50 and p99 of filnode's propagation within 1.2x of the plain baseline.
 * Exits 1 when the goal is missed or a message failed to reach a node (`--no-gate`: report only).
 *
 * filnode side: `--nodes` processes of `bench/fixtures/gossip_node.ts` (a FilecoinNode with its
 * Network, exactly as the daemon runs it, on a devnet root, with the start task's permission
 * flags scoped to that root). Node 0 starts first; the others have it as their only bootnode and
 * find the rest through the DHT, as a devnet does. Once every node holds its peer floor and the
 * connection graph has stopped changing, that graph is recorded.
 *
 * Baseline side: as many `bench/fixtures/plain_gossip_node.ts` processes (plain createLibp2p:
 * TCP, Noise, yamux, identify, gossipsub with its defaults and no validator), each dialling
 * exactly the connections the filnode graph had, in the same direction: same topology.
 *
 * Then, on each side in turn (never both at once: they would share two cores): wait for every
 * gossipsub mesh to fill, publish `--messages` messages of `--bytes` bytes on the Filecoin
 * messages topic, one every `--interval-ms`, from the non-bootnode nodes in turn. Each message
 * carries its publish time; each receiver timestamps it when its pubsub emits `message` (after
 * validation), so one delivery's latency is receive time minus publish time, across processes on
 * one clock. p50/p99 are over every (message, receiver) delivery. RSS of each process after the
 * run is printed beside them. The script bounds its run time, kills every child in `finally` and
 * removes its temp roots.
 *
 * `--whitelist-loopback` puts 127.0.0.1 in gossipsub's IP-colocation whitelist on the plain side
 * (filnode always spares loopback, in src/net/libp2p_host.ts). Without it, gossipsub's default
 * peer score (-5·(n-10)² once more than 10 peers share an IP) graylists every peer of a node with
 * over 10 loopback peers, so the plain baseline delivers nothing on a 20-process loopback network
 * (measured: 0 of 950): `deno task bench:net` passes it, so the baseline is plain gossipsub that
 * works on one machine, not a broken one.
 *
 * `--stages` has every receiver time its first copy of each message from the RPC's arrival at
 * gossipsub to delivery, in the stages of `STAGES` (gossip_wire.ts), and prints each stage's
 * median per side: where a side's extra latency per hop goes.
 *
 * `--profile` CPU-profiles one receiving node on each side (node 2) during the idle window and
 * during the publishing, and prints where its time went by package and by function, with its
 * worst event-loop stall: the tool for finding why one side is slower.
 */
import { join } from "node:path";
import { PROJECT_DIR, startTaskFlags } from "../tests/e2e/harness.ts";
import {
  type Arrival,
  type Command,
  type PeerReport,
  type Report,
  STAGES,
} from "./fixtures/gossip_wire.ts";
import { procCpuMs, procMemory } from "./fixtures/proc_status.ts";
import type { ProfileSummary } from "./fixtures/cpu_profile.ts";

/** The issue's goal: filnode within this factor of the plain baseline, at p50 and at p99. */
const GOAL_RATIO = 1.2;
/** The devnet peer floor (`filnode init --devnet` sets Network.MinPeers to 4). */
const DEVNET_MIN_PEERS = 4;
/** gossipsub's D_lo: a mesh this full (or holding every peer) is ready to carry messages. */
const MESH_READY = 4;
/** A few gossipsub heartbeats (1 s each) after the meshes look full, for GRAFTs in flight. */
const MESH_SETTLE_MS = 3_000;
/** The graph counts as settled when this many one-second polls in a row saw no change. */
const STABLE_POLLS = 3;
/** Window over which the idle CPU of all nodes is measured, just before publishing. */
const IDLE_SAMPLE_MS = 5_000;
/** Sequence numbers of warm-up messages start here (measured ones from 0). */
const WARMUP_SEQ = 1_000_000;
/** The node `--profile` profiles: neither the bootnode nor the first publisher. */
const PROFILED_NODE = 2;
/** With `--profile`, a longer idle window: periodic work shows up. */
const PROFILE_IDLE_MS = 20_000;
/** The publishing profile runs this much past the last publish, for the last deliveries. */
const PROFILE_TAIL_MS = 1_000;
/** How long after the last publish to wait for stragglers. */
const DRAIN_MS = 10_000;
/** Bounds on the phases: 20 processes starting at once on two cores take a while. */
const READY_TIMEOUT_MS = 180_000;
const SETTLE_TIMEOUT_MS = 120_000;
const MESH_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
/** A node answers a query within this, even with 19 others busy on the same two cores. */
const ANSWER_TIMEOUT_MS = 30_000;
/** Baseline dials refused by the inbound rate limit are retried this often, this far apart. */
const DIAL_ATTEMPTS = 10;
const DIAL_RETRY_MS = 250;
/** The whole script gives up after this long, whatever it is doing. */
const RUN_TIMEOUT_MS = 20 * 60_000;
/** Same network name for every filnode node: they share a genesis. */
const NETWORK = "benchnet";
const TOPIC = `/fil/msgs/${NETWORK}`;

const MIB = 1024 * 1024;
const FIXTURES = join(PROJECT_DIR, "bench", "fixtures");

interface Options {
  nodes: number;
  messages: number;
  warmup: number;
  intervalMs: number;
  bytes: number;
  rounds: number;
  only?: "filnode" | "plain";
  whitelistLoopback: boolean;
  profile: boolean;
  stages: boolean;
  gate: boolean;
}

function parseOptions(args: string[]): Options {
  const num = (name: string, dflt: number, min: number) => {
    const i = args.indexOf(name);
    const v = i >= 0 ? Number(args[i + 1]) : dflt;
    if (!Number.isSafeInteger(v) || v < min) {
      throw new Error(`${name} must be an integer >= ${min}`);
    }
    return v;
  };
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  if (only !== undefined && only !== "filnode" && only !== "plain") {
    throw new Error("--only must be filnode or plain");
  }
  return {
    nodes: num("--nodes", 20, 3),
    messages: num("--messages", 50, 1),
    warmup: num("--warmup", 200, 0),
    intervalMs: num("--interval-ms", 200, 1),
    bytes: num("--bytes", 256, 16),
    rounds: num("--rounds", 1, 1),
    only,
    whitelistLoopback: args.includes("--whitelist-loopback"),
    profile: args.includes("--profile"),
    stages: args.includes("--stages"),
    gate: !args.includes("--no-gate"),
  };
}

// --- child processes -----------------------------------------------------------------------------

/** A fixture process: commands to its stdin, JSON reports from its stdout. */
class Fixture {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new TextEncoder();
  readonly #done: Promise<void>;
  readonly #stderr: Promise<string>;
  /** Rejects when the process ends: an answer will never come. */
  readonly #exited: Promise<never>;
  #waiters: { match: (r: Report) => boolean; resolve: (r: Report) => void }[] = [];
  readonly arrivals: Arrival[] = [];
  readonly publishErrors: string[] = [];
  readonly warnings: string[] = [];
  ready?: { peerId: string; addrs: string[] };

  constructor(readonly name: string, script: string, flags: string[], args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, script, ...args],
      cwd: PROJECT_DIR,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#done = this.#read();
    this.#stderr = new Response(this.#child.stderr).text();
    this.#exited = this.#child.status.then(async (s) => {
      const err = (await this.#stderr).trim().split("\n").slice(-20).join("\n");
      throw new Error(`${this.name} exited (code ${s.code}); its stderr ends:\n${err}`);
    });
    this.#exited.catch(() => {}); // Only an error while someone waits on it.
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of this.#child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let r: Report;
        try {
          r = JSON.parse(line);
        } catch {
          continue; // Stray output is not a report.
        }
        if ("arrival" in r) this.arrivals.push(r.arrival);
        if ("published" in r && r.error) this.publishErrors.push(r.error);
        if ("warning" in r) this.warnings.push(r.warning);
        if ("ready" in r) this.ready = { peerId: r.peerId, addrs: r.addrs };
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(r)) return true;
          w.resolve(r);
          return false;
        });
      }
    }
  }

  send(cmd: Command): Promise<void> {
    return this.#stdin.write(this.#encoder.encode(JSON.stringify(cmd) + "\n"));
  }

  /** The next report `match` accepts. */
  next<R extends Report>(match: (r: Report) => r is R, timeoutMs: number): Promise<R> {
    const answer = new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (r: Report) => {
          clearTimeout(timer);
          resolve(r as R);
        },
      };
      this.#waiters.push(waiter);
    });
    return Promise.race([answer, this.#exited]);
  }

  async waitReady(timeoutMs: number): Promise<{ peerId: string; addrs: string[] }> {
    if (!this.ready) await this.next((r): r is Report => "ready" in r, timeoutMs);
    return this.ready!;
  }

  async peers(): Promise<PeerReport[]> {
    const answer = this.next((r): r is { peers: PeerReport[] } => "peers" in r, ANSWER_TIMEOUT_MS);
    await this.send({ op: "peers" });
    return (await answer).peers;
  }

  async mesh(): Promise<{ mesh: number; subscribers: number; minScore: number }> {
    const answer = this.next(
      (r): r is { mesh: number; subscribers: number; minScore: number } => "mesh" in r,
      ANSWER_TIMEOUT_MS,
    );
    await this.send({ op: "mesh" });
    return await answer;
  }

  /** Has the fixture profile itself for `ms`; resolves with its summary. */
  async profile(ms: number): Promise<ProfileSummary> {
    const answer = this.next(
      (r): r is { profile: ProfileSummary } | { profileError: string } =>
        "profile" in r || "profileError" in r,
      ms + ANSWER_TIMEOUT_MS,
    );
    await this.send({ op: "profile", ms });
    const r = await answer;
    if ("profileError" in r) throw new Error(`${this.name} cannot profile: ${r.profileError}`);
    return r.profile;
  }

  async dial(addr: string): Promise<string | undefined> {
    const answer = this.next(
      (r): r is { dialed: string; error?: string } => "dialed" in r && r.dialed === addr,
      15_000,
    );
    await this.send({ op: "dial", addr });
    return (await answer).error;
  }

  /** Asks the fixture to stop, then kills it if it has not exited in time. */
  async stop(): Promise<void> {
    await this.send({ op: "stop" }).catch(() => {});
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => this.kill("SIGKILL"), STOP_TIMEOUT_MS);
    try {
      await this.#child.status;
      await this.#done;
      await this.#stderr;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class WaitTimeout extends Error {}

async function until(what: string, timeoutMs: number, done: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (!await done()) {
    if (Date.now() > deadline) {
      throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(1_000);
  }
}

// --- topology ------------------------------------------------------------------------------------

/** Directed edges `[dialer, listener]` by node index; one per connected pair. */
type Edge = [number, number];

async function graphOf(nodes: Fixture[]): Promise<{ edges: Edge[]; degree: number[] }> {
  const index = new Map(nodes.map((n, i) => [n.ready!.peerId, i]));
  const reports = await Promise.all(nodes.map((n) => n.peers()));
  const edges = new Map<string, Edge>();
  const neighbours = nodes.map(() => new Set<number>());
  reports.forEach((peers, i) => {
    for (const p of peers) {
      const j = index.get(p.id);
      if (j === undefined || j === i) continue;
      neighbours[i].add(j);
      const key = `${Math.min(i, j)}-${Math.max(i, j)}`;
      if (!edges.has(key) && p.direction === "outbound") edges.set(key, [i, j]);
    }
  });
  // A pair seen only as inbound on both sides (a report racing a close) still counts once.
  reports.forEach((peers, i) => {
    for (const p of peers) {
      const j = index.get(p.id);
      if (j === undefined || j === i) continue;
      const key = `${Math.min(i, j)}-${Math.max(i, j)}`;
      if (!edges.has(key)) edges.set(key, [j, i]);
    }
  });
  const sorted = [...edges.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { edges: sorted, degree: neighbours.map((s) => s.size) };
}

/** Node 0 linked to all, plus a ring through the others. */
function hubAndRing(n: number): Edge[] {
  const edges = new Map<string, Edge>();
  for (let i = 1; i < n; i++) {
    const next = 1 + (i % (n - 1));
    for (const to of [0, next]) {
      const key = `${Math.min(i, to)}-${Math.max(i, to)}`;
      if (to !== i && !edges.has(key)) edges.set(key, [i, to]);
    }
  }
  return [...edges.values()];
}

function sameEdges(a: Edge[], b: Edge[]): boolean {
  const key = (e: Edge) => `${Math.min(...e)}-${Math.max(...e)}`;
  const sa = new Set(a.map(key));
  return a.length === b.length && b.every((e) => sa.has(key(e)));
}

// --- one side of the comparison ------------------------------------------------------------------

interface SideResult {
  name: string;
  latenciesMs: number[];
  /** With `--stages`: each delivery's stage durations (µs, `STAGES` order). */
  stagesUs: number[][];
  expected: number;
  rssMiB: number[];
  publishErrors: string[];
  /** What the nodes reported surviving (see `gossip_node.ts`), over the whole round. */
  warnings: string[];
  /** CPU all nodes burn while idle, in % of one core. */
  idleCpuPct: number;
  /** CPU all nodes spend per published message, above their idle burn, in ms. */
  cpuMsPerMessage: number;
  /** With `--profile`: node 2's CPU profile while idle and while publishing. */
  profiles?: { idle: ProfileSummary; publishing: ProfileSummary };
  /** Meshes that never filled before publishing, if any. */
  meshNote?: string;
  topologyChanged: boolean;
}

/**
 * Waits for every node's mesh to hold D_lo peers (or all its peers). Returns a description of the
 * meshes that never filled, or undefined: the bench then publishes anyway and reports what
 * arrived, since meshes that do not form are a finding, not a reason to stop.
 */
async function waitForMeshes(name: string, nodes: Fixture[], degree: number[]) {
  let last: { mesh: number; subscribers: number; minScore: number }[] = [];
  const ready = () => last.every((m, i) => m.mesh >= Math.min(MESH_READY, degree[i]));
  try {
    await until(`the ${name} gossipsub meshes`, MESH_TIMEOUT_MS, async () => {
      last = await Promise.all(nodes.map((n) => n.mesh()));
      if (Deno.env.get("GOSSIP_BENCH_DEBUG")) {
        log(
          `mesh/subscribers/min score ${
            last.map((m) => `${m.mesh}/${m.subscribers}/${m.minScore.toFixed(0)}`).join(" ")
          }`,
        );
      }
      return ready();
    });
  } catch (err) {
    if (!(err instanceof WaitTimeout)) throw err;
  }
  await sleep(MESH_SETTLE_MS);
  if (ready()) return undefined;
  const short = last.filter((m, i) => m.mesh < Math.min(MESH_READY, degree[i]));
  const note = `${short.length} of ${nodes.length} ${name} meshes below ${MESH_READY} peers ` +
    `after ${MESH_TIMEOUT_MS / 1000} s (lowest peer score seen ${
      Math.min(...last.map((m) => m.minScore)).toFixed(0)
    })`;
  log(note);
  return note;
}

async function publishAndCollect(
  name: string,
  nodes: Fixture[],
  opts: Options,
): Promise<Omit<SideResult, "topologyChanged">> {
  // Background CPU first: on two cores, what idle nodes burn is queueing delay for the others.
  const cpuTotal = async () =>
    (await Promise.all(nodes.map((n) => procCpuMs(n.pid)))).reduce<number>(
      (s, x) => s + (x ?? 0),
      0,
    );
  const profiled = nodes[PROFILED_NODE];
  // Warm-up messages first, on both sides alike, not measured: a fresh process runs its first
  // few dozen signature checks and protobuf/CBOR codecs unoptimised (measured: ~7 ms per
  // validation in a node's first 50 messages, ~0.55 ms once warm), and a node that has been up
  // for a while does not. `--warmup 0` measures the cold start instead.
  for (let i = 0; i < opts.warmup; i++) {
    const publisher = nodes[1 + (i % (nodes.length - 1))];
    await publisher.send({ op: "publish", seq: WARMUP_SEQ + i, bytes: opts.bytes });
    await sleep(opts.intervalMs);
  }
  if (opts.warmup > 0) await sleep(DRAIN_MS / 4);
  const idleFrom = await cpuTotal();
  const idleMs = opts.profile ? PROFILE_IDLE_MS : IDLE_SAMPLE_MS;
  const idleProfile = opts.profile ? profiled.profile(idleMs) : undefined;
  await sleep(idleMs);
  await idleProfile;
  const idleTo = await cpuTotal();
  const publishProfile = opts.profile
    ? profiled.profile(opts.messages * opts.intervalMs + PROFILE_TAIL_MS)
    : undefined;
  const idleCpuPerMs = (idleTo - idleFrom) / idleMs;

  for (const n of nodes) n.arrivals.length = 0;
  const publishStart = performance.now();
  for (let seq = 0; seq < opts.messages; seq++) {
    // Node 0 is the bootnode, connected to all: publishing from it would flatter both sides.
    const publisher = nodes[1 + (seq % (nodes.length - 1))];
    await publisher.send({ op: "publish", seq, bytes: opts.bytes });
    await sleep(opts.intervalMs);
  }
  const expected = opts.messages * (nodes.length - 1);
  const measured = (n: Fixture) => n.arrivals.filter((a) => a.seq < WARMUP_SEQ);
  const count = () => nodes.reduce((sum, n) => sum + measured(n).length, 0);
  const drainUntil = Date.now() + DRAIN_MS;
  while (count() < expected && Date.now() < drainUntil) await sleep(100);
  const busyMs = (await cpuTotal()) - idleTo;
  const windowMs = performance.now() - publishStart;
  const profiles = opts.profile
    ? { idle: (await idleProfile)!, publishing: (await publishProfile)! }
    : undefined;
  const latenciesMs = nodes.flatMap((n) => measured(n).map((a) => (a.atUs - a.sentUs) / 1000));
  const stagesUs = nodes.flatMap((n) => measured(n).flatMap((a) => a.stagesUs ? [a.stagesUs] : []));
  const rss = (await Promise.all(nodes.map((n) => procMemory(n.pid))))
    .flatMap((m) => m ? [m.rss / MIB] : []);
  return {
    name,
    latenciesMs,
    stagesUs,
    expected,
    rssMiB: rss,
    publishErrors: nodes.flatMap((n) => n.publishErrors),
    warnings: nodes.flatMap((n) => n.warnings),
    profiles,
    idleCpuPct: idleCpuPerMs * 100,
    cpuMsPerMessage: Math.max(0, busyMs - idleCpuPerMs * windowMs) / opts.messages,
  };
}

async function runFilnode(
  base: string,
  opts: Options,
  spawned: Fixture[],
): Promise<{ result: SideResult; edges: Edge[] }> {
  const script = join(FIXTURES, "gossip_node.ts");
  const start = async (i: number, bootstrap?: string) => {
    const root = join(base, `filnode-${i}`);
    const args = ["--root", root, "--network", NETWORK, "--max-ms", String(RUN_TIMEOUT_MS)];
    if (bootstrap) args.push("--bootstrap", bootstrap);
    if (opts.whitelistLoopback) args.push("--whitelist-loopback");
    if (opts.stages) args.push("--stages");
    const flags = await startTaskFlags(root);
    // node:inspector needs unscoped --allow-sys; only the profiled node gets it, only with --profile.
    if (opts.profile && i === PROFILED_NODE) flags.push("--allow-sys");
    const f = new Fixture(`filnode node ${i}`, script, flags, args);
    spawned.push(f);
    return f;
  };
  const boot = await start(0);
  const bootAddr = (await boot.waitReady(READY_TIMEOUT_MS)).addrs[0];
  const nodes = [boot];
  for (let i = 1; i < opts.nodes; i++) nodes.push(await start(i, bootAddr));
  await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  log(`filnode: ${nodes.length} nodes up; waiting for discovery to settle`);

  const floor = Math.min(DEVNET_MIN_PEERS, opts.nodes - 1);
  let graph = await graphOf(nodes);
  let stable = 0;
  await until("the filnode peer graph to settle", SETTLE_TIMEOUT_MS, async () => {
    const next = await graphOf(nodes);
    stable = sameEdges(graph.edges, next.edges) ? stable + 1 : 0;
    graph = next;
    return stable >= STABLE_POLLS && graph.degree.every((d) => d >= floor);
  });
  log(
    `filnode: graph settled, ${graph.edges.length} connections, degree ` +
      `${Math.min(...graph.degree)}..${Math.max(...graph.degree)}`,
  );
  const meshNote = await waitForMeshes("filnode", nodes, graph.degree);
  const side = await publishAndCollect("filnode", nodes, opts);
  const after = await graphOf(nodes);
  return {
    result: { ...side, meshNote, topologyChanged: !sameEdges(graph.edges, after.edges) },
    edges: graph.edges,
  };
}

async function runPlain(
  edges: Edge[] | undefined,
  opts: Options,
  spawned: Fixture[],
): Promise<SideResult> {
  const script = join(FIXTURES, "plain_gossip_node.ts");
  const nodes: Fixture[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const flags = ["--allow-net=127.0.0.1", "--allow-env"];
    if (opts.profile && i === PROFILED_NODE) flags.push("--allow-sys");
    const f = new Fixture(`plain node ${i}`, script, flags, [
      "--topic",
      TOPIC,
      "--max-ms",
      String(RUN_TIMEOUT_MS),
      ...(opts.whitelistLoopback ? ["--whitelist-loopback"] : []),
      ...(opts.stages ? ["--stages"] : []),
    ]);
    spawned.push(f);
    nodes.push(f);
  }
  await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  // Without a filnode graph (`--only plain`): node 0 as the hub plus a ring, like a devnet.
  const plan: Edge[] = edges ?? hubAndRing(nodes.length);
  // One at a time, retried: libp2p refuses more than 5 inbound connections a second from one
  // IP (its default inboundConnectionThreshold, filnode's too), and here every dial is from
  // 127.0.0.1. filnode's discovery spreads its dials out by itself.
  for (const [from, to] of plan) {
    let error: string | undefined;
    for (let attempt = 0; attempt < DIAL_ATTEMPTS; attempt++) {
      error = await nodes[from].dial(nodes[to].ready!.addrs[0]);
      if (error === undefined) break;
      await sleep(DIAL_RETRY_MS);
    }
    if (error !== undefined) throw new Error(`plain node ${from} cannot dial ${to}: ${error}`);
  }
  let graph = await graphOf(nodes);
  await until("the plain graph to match", SETTLE_TIMEOUT_MS, async () => {
    graph = await graphOf(nodes);
    return sameEdges(graph.edges, plan);
  });
  log(`plain: ${nodes.length} nodes up, ${graph.edges.length} connections (same graph)`);
  const meshNote = await waitForMeshes("plain", nodes, graph.degree);
  const side = await publishAndCollect("plain js-libp2p", nodes, opts);
  const after = await graphOf(nodes);
  return { ...side, meshNote, topologyChanged: !sameEdges(plan, after.edges) };
}

async function stopAll(fixtures: Fixture[]): Promise<void> {
  await Promise.all(fixtures.map((f) => f.stop().catch(() => f.kill("SIGKILL"))));
  fixtures.length = 0;
}

// --- report --------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

interface Summary {
  name: string;
  delivered: number;
  expected: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  rssMean: number;
  rssMax: number;
  idleCpuPct: number;
  cpuMsPerMessage: number;
}

function summarise(results: SideResult[]): Summary {
  const all = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const rss = results.flatMap((r) => r.rssMiB);
  return {
    name: results[0].name,
    delivered: all.length,
    expected: results.reduce((s, r) => s + r.expected, 0),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    mean: all.reduce((s, x) => s + x, 0) / all.length,
    max: all[all.length - 1] ?? NaN,
    rssMean: rss.reduce((s, x) => s + x, 0) / rss.length,
    rssMax: Math.max(...rss),
    idleCpuPct: mean(results.map((r) => r.idleCpuPct)),
    cpuMsPerMessage: mean(results.map((r) => r.cpuMsPerMessage)),
  };
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function log(line: string): void {
  console.error(`[gossip bench] ${line}`);
}

/** Table columns: header, width, cell. */
const COLUMNS: [string, number, (s: Summary) => string][] = [
  ["", 16, (s) => s.name],
  ["delivered", 10, (s) => `${s.delivered}/${s.expected}`],
  ["p50 ms", 8, (s) => s.p50.toFixed(2)],
  ["p99 ms", 8, (s) => s.p99.toFixed(2)],
  ["mean ms", 8, (s) => s.mean.toFixed(2)],
  ["max ms", 8, (s) => s.max.toFixed(2)],
  ["RSS MiB", 8, (s) => s.rssMean.toFixed(0)],
  ["max MiB", 8, (s) => s.rssMax.toFixed(0)],
  ["idle CPU%", 10, (s) => s.idleCpuPct.toFixed(1)],
  ["CPU ms/msg", 11, (s) => s.cpuMsPerMessage.toFixed(1)],
];

function tableLine(cells: string[]): string {
  return cells.map((c, i) => i === 0 ? c.padEnd(COLUMNS[i][1]) : c.padStart(COLUMNS[i][1]))
    .join(" ");
}

function printProfile(title: string, p: ProfileSummary): void {
  console.log(
    `\nprofile of node ${PROFILED_NODE} (${title}): busy ${p.busyMs} of ${p.windowMs} ms, ` +
      `worst event-loop stall ${p.maxLagMs} ms`,
  );
  console.log(`  by package:  ${p.byPackage.map(([k, ms]) => `${k} ${ms}`).join(", ")}`);
  console.log(`  by origin:   ${p.byOrigin.map(([k, ms]) => `${k} ${ms}`).join(", ")}`);
  for (const [fn, ms] of p.byFunction) console.log(`  ${String(ms).padStart(8)} ms  ${fn}`);
}

// --- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const base = await Deno.makeTempDir({ prefix: "filnode_gossip_bench_" });
  const spawned: Fixture[] = [];
  const ours: SideResult[] = [];
  const plain: SideResult[] = [];
  const overall = setTimeout(() => {
    log(`run timeout (${RUN_TIMEOUT_MS} ms): killing every node`);
    for (const f of spawned) f.kill("SIGKILL");
  }, RUN_TIMEOUT_MS);
  try {
    for (let round = 0; round < opts.rounds; round++) {
      let edges: Edge[] | undefined;
      if (opts.only !== "plain") {
        const r = await runFilnode(join(base, `round-${round}`), opts, spawned);
        edges = r.edges;
        ours.push(r.result);
        await stopAll(spawned);
      }
      if (opts.only !== "filnode") {
        plain.push(await runPlain(edges, opts, spawned));
        await stopAll(spawned);
      }
      log(`round ${round + 1}/${opts.rounds} done`);
    }
  } finally {
    clearTimeout(overall);
    await stopAll(spawned);
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }

  console.log(
    `gossip propagation: ${opts.nodes} processes, ${opts.messages} messages of ${opts.bytes} B ` +
      `(after ${opts.warmup} warm-up messages) ` +
      `on ${TOPIC}, one every ${opts.intervalMs} ms, ${opts.rounds} round(s)` +
      `; CPU summed over all nodes (100% = one core)` +
      (opts.whitelistLoopback ? ", 127.0.0.1 whitelisted from IP colocation scoring" : ""),
  );
  console.log(tableLine(COLUMNS.map(([h]) => h)));
  const summaries = [ours, plain].filter((r) => r.length > 0).map(summarise);
  for (const s of summaries) console.log(tableLine(COLUMNS.map(([, , cell]) => cell(s))));
  for (const r of [...ours, ...plain]) {
    if (r.meshNote) console.log(`note: ${r.meshNote}`);
    if (r.topologyChanged) console.log(`note: the ${r.name} graph changed during a round`);
    if (r.warnings.length) {
      const kinds = new Map<string, number>();
      for (const w of r.warnings) kinds.set(w, (kinds.get(w) ?? 0) + 1);
      for (const [w, n] of kinds) console.log(`warning: ${r.name} nodes, ${n}x: ${w}`);
    }
    if (r.publishErrors.length) {
      console.log(`note: ${r.name} publish errors: ${r.publishErrors.join("; ")}`);
    }
  }
  if (ours.length > 1 && plain.length === ours.length) {
    // Per round: on a shared two-core machine the spread between rounds is part of the result.
    ours.forEach((o, i) => {
      const [a, b] = [summarise([o]), summarise([plain[i]])];
      console.log(
        `round ${i + 1}: filnode p50/p99 ${a.p50.toFixed(1)}/${a.p99.toFixed(1)} ms, plain ` +
          `${b.p50.toFixed(1)}/${b.p99.toFixed(1)} ms, ratio ${(a.p50 / b.p50).toFixed(2)}x/${
            (a.p99 / b.p99).toFixed(2)
          }x`,
      );
    });
  }
  if (opts.stages) {
    console.log(`\nper-hop stages, median µs over every delivery (${STAGES.join(" / ")}):`);
    for (const side of [ours, plain].filter((r) => r.length > 0)) {
      const all = side.flatMap((r) => r.stagesUs);
      const medians = STAGES.map((_, i) =>
        percentile(all.map((x) => x[i]).sort((a, b) => a - b), 50)
      );
      console.log(
        `  ${side[0].name.padEnd(16)} ${medians.map((m) => String(m).padStart(6)).join(" ")}` +
          `  (${all.length} deliveries timed)`,
      );
    }
  }
  for (const r of [...ours, ...plain].filter((r) => r.profiles).slice(0, 2)) {
    for (const [phase, p] of Object.entries(r.profiles!)) printProfile(`${r.name}, ${phase}`, p);
  }
  const incomplete = summaries.some((s) => s.delivered < s.expected);
  if (incomplete) console.log("FAIL: some messages did not reach every node");
  let missed = false;
  if (summaries.length === 2) {
    const [a, b] = summaries;
    const r50 = a.p50 / b.p50;
    const r99 = a.p99 / b.p99;
    missed = !(r50 <= GOAL_RATIO && r99 <= GOAL_RATIO);
    console.log(
      `ratio filnode/plain: p50 ${r50.toFixed(2)}x, p99 ${
        r99.toFixed(2)
      }x; goal <= ${GOAL_RATIO}x: ${missed ? "MISSED" : "met"}`,
    );
  }
  return opts.gate && (incomplete || missed) ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (err) {
    console.error(`gossip bench failed: ${(err as Error).message}`);
    Deno.exitCode = 1;
  }
}
