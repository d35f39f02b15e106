/**
 * The network system with real daemon processes on 127.0.0.1 (issue 3, "What it must show"):
 * discovery from one bootnode, gossip reaching every node, foreign-genesis peers cut off and
 * recorded, hostile peers (malformed hello bytes, slow-loris streams, gossip garbage) banned while
 * honest peers are still served, remembered peers redialled first after a restart, slots holding
 * under a flood of inbound dials, and SIGTERM stopping a daemon that has peers.
 *
 * Every wait polls the control API with a deadline; every process is stopped in `finally`
 * (`Devnet.stop()` SIGKILLs whatever ignores SIGTERM). Heavy variants run with FILNODE_STRESS=1.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Address } from "../../src/crypto/address.ts";
import { devnetMinerFromSeed } from "../../src/crypto/devnet_key.ts";
import { signSecp256k1, SigType } from "../../src/crypto/signature.ts";
import { messageCid, serializeSignedMessage } from "../../src/chain/types/mod.ts";
import { fileURLToPath } from "node:url";
import { base64, Devnet, type DevnetNode, poll, reputationOf } from "./network_harness.ts";
import { LineProcess, STOP_TIMEOUT_MS } from "./harness.ts";

const STRESS = Deno.env.get("FILNODE_STRESS") === "1";
/** The peer floor of the 10-node test: below the 9 others, so discovery has to find them. */
const MIN_PEERS = 4;
/** Long enough for discovery on a loaded 2-core machine; polls end as soon as it holds. */
const CONVERGE_MS = 60_000;
/** Flags of the attacker fixtures: loopback only, nothing else. */
const FIXTURE_FLAGS = ["--allow-net=127.0.0.1"];
/** Issue 3 asks SIGTERM to stop a node within 2 s; slack for a loaded CI machine. */
const SIGTERM_BOUND_MS = 5_000;

function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

interface GossipStats {
  received: { blocks: number; msgs: number };
  rejected: { blocks: number; msgs: number };
  recent: string[];
}
interface BanEntry {
  Kind: string;
  Target: string;
}
interface PeerDetail {
  ID: string;
  LatencyMs: number | null;
}

const bans = (n: DevnetNode) => n.call<BanEntry[]>("Filnode.NetBans");
const stats = (n: DevnetNode) => n.call<GossipStats>("Filnode.GossipStats");

/** The one JSON line of a fixture's output that has `key`, parsed. */
function reportWith(proc: LineProcess, key: string, value?: unknown): Record<string, unknown> {
  for (const text of proc.text("stdout")) {
    try {
      const record = JSON.parse(text);
      if (key in record && (value === undefined || record[key] === value)) return record;
    } catch {
      // Not a report line.
    }
  }
  throw new Error(`no report with ${key}; output:\n${proc.lines.map((l) => l.text).join("\n")}`);
}

/** Runs a fixture to its end (SIGKILL past `timeoutMs`) and returns its process. */
async function runFixture(name: string, args: string[], timeoutMs: number): Promise<LineProcess> {
  const proc = LineProcess.spawn(fixture(name), args, { flags: FIXTURE_FLAGS });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const status = await proc.finished();
    equal(status.code, 0, `${name} failed:\n${proc.lines.map((l) => l.text).join("\n")}`);
    return proc;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A real signed message, distinct each call (the chain system's message validator checks the
 * signature), as gossip bytes.
 */
function signedMessageBytes(): Uint8Array {
  const sender = devnetMinerFromSeed("e2e sender");
  const message = {
    version: 0,
    to: Address.fromId(1000),
    from: sender.address,
    nonce: BigInt(Date.now()),
    value: 0n,
    gasLimit: 1_000_000n,
    gasFeeCap: 100n,
    gasPremium: 10n,
    method: 0n,
    params: new TextEncoder().encode(crypto.randomUUID()),
  };
  const signature = signSecp256k1(sender.privateKey, messageCid(message).bytes);
  return serializeSignedMessage({
    message,
    signature: { type: SigType.SECP256K1, data: signature },
  });
}

/** True once `node` has completed hello with `peer` (our hello measured a round trip). */
async function greeted(node: DevnetNode, peer: DevnetNode): Promise<boolean> {
  const detail = await node.call<PeerDetail[]>("Filnode.NetPeersDetailed");
  return detail.some((d) => d.ID === peer.peerId && d.LatencyMs !== null);
}

Deno.test("a 10-node devnet from one bootnode: discovery, gossip, foreign genesis, SIGTERM", async (t) => {
  const net = await Devnet.start(10, { config: { "Network.MinPeers": MIN_PEERS } });
  try {
    const [boot, ...rest] = net.nodes;

    await t.step(
      "every node reaches its peer floor, partly through peers it discovered",
      async () => {
        let last: string[][] = [];
        await poll(async () => {
          last = await Promise.all(net.nodes.map((n) => n.peers()));
          return last.every((p) => p.length >= MIN_PEERS) ? true : undefined;
        }, {
          timeoutMs: CONVERGE_MS,
          describe: () => `peer counts ${last.map((p) => p.length).join(" ")}`,
        });
        // Nodes 1..9 were told only of the bootnode: a link between two of them came from the DHT.
        const ids = new Set(rest.map((n) => n.peerId));
        const discovered = rest.filter((n, i) =>
          last[i + 1].some((id) => ids.has(id) && id !== n.peerId)
        );
        ok(
          discovered.length >= rest.length / 2,
          `only ${discovered.length} of ${rest.length} nodes have a non-bootnode peer`,
        );
        for (const [i, peers] of last.entries()) {
          ok(!peers.includes(net.nodes[i].peerId), "no node is its own peer");
        }
      },
    );

    await t.step("a message published on one node reaches all the others", async () => {
      const publisher = rest[2];
      const data = signedMessageBytes();
      const id = await publisher.call<string>("Filnode.GossipPublish", ["msgs", base64(data)]);
      equal(id.length, 64, "a blake2b-256 message ID in hex");
      const others = net.nodes.filter((n) => n !== publisher);
      let missing: string[] = [];
      await poll(async () => {
        const all = await Promise.all(others.map(stats));
        missing = others.filter((_, i) => !all[i].recent.includes(id)).map((n) => n.name);
        return missing.length === 0 ? true : undefined;
      }, { timeoutMs: CONVERGE_MS, describe: () => `not received by ${missing.join(", ")}` });
    });

    await t.step(
      "a malformed payload is refused by the publishing node, so no peer sees it",
      async () => {
        const publisher = rest[4];
        const before = await Promise.all(net.nodes.map(stats));
        const garbage = new TextEncoder().encode("not cbor: \u00ff\u00fe");
        let error: Error | undefined;
        try {
          await publisher.call("Filnode.GossipPublish", ["msgs", base64(garbage)]);
        } catch (err) {
          error = err as Error;
        }
        ok(error, "publishing bytes that are not a signed message fails");
        // The decoder's own words: what was expected, and what came instead.
        ok(
          /not published: signed message: expected a 2-field array/.test(error.message),
          error.message,
        );
        // Had it gone out anyway, each peer would have rejected it on arrival. A valid message
        // published next by the same node travels the same streams after it: once that one has
        // reached every node, nothing was rejected and only it arrived (no fixed wait).
        const probe = await publisher.call<string>("Filnode.GossipPublish", [
          "msgs",
          base64(signedMessageBytes()),
        ]);
        let missing: string[] = [];
        await poll(async () => {
          const all = await Promise.all(net.nodes.map(stats));
          missing = net.nodes.filter((n, i) => n !== publisher && !all[i].recent.includes(probe))
            .map((n) => n.name);
          return missing.length === 0 ? true : undefined;
        }, { timeoutMs: CONVERGE_MS, describe: () => `the probe never reached ${missing}` });
        const after = await Promise.all(net.nodes.map(stats));
        deepStrictEqual(after.map((s) => s.rejected), before.map((s) => s.rejected));
        for (const [i, n] of net.nodes.entries()) {
          equal(after[i].received.blocks, before[i].received.blocks, `${n.name}: no block`);
          const more = after[i].received.msgs - before[i].received.msgs;
          ok(
            n === publisher ? more <= 1 : more === 1,
            `${n.name} received ${more} messages, the probe only`,
          );
        }
        for (const n of net.nodes.filter((n) => n !== publisher)) {
          const score = await reputationOf(n, publisher.peerId);
          ok(score === undefined || score >= 0, `${n.name} scores the publisher ${score}`);
        }
      },
    );

    await t.step(
      "a node of another network is disconnected and banned by every peer it reaches",
      async () => {
        const foreign = await net.addNode({ network: "othernet", bootstrappers: [boot.addr] });
        // Its DHT speaks another protocol, so it cannot discover the devnet: dial every node.
        for (const n of net.nodes.slice(0, 10)) {
          const addr = n.addr.slice(0, n.addr.indexOf("/p2p/"));
          await foreign.call("Filecoin.NetConnect", [{ ID: n.peerId, Addrs: [addr] }]).catch(() => {
            // Refused or cut at once: both are what we want; the checks below tell.
          });
        }
        const devnet = net.nodes.slice(0, 10);
        let notYet: string[] = [];
        await poll(async () => {
          notYet = [];
          for (const n of devnet) {
            const banned = (await bans(n)).some((b) => b.Target === foreign.peerId);
            if (!banned || (await n.peers()).includes(foreign.peerId)) notYet.push(n.name);
          }
          return notYet.length === 0 ? true : undefined;
        }, { timeoutMs: CONVERGE_MS, describe: () => `still connected or not banning: ${notYet}` });
        const left = await foreign.peers();
        deepStrictEqual(left.filter((id) => devnet.some((n) => n.peerId === id)), []);
        ok(
          foreign.process.text("stderr").some((l) => /has a foreign genesis/.test(l)),
          "the foreign node logged the mismatch from its side too",
        );
        // The devnet itself still holds together.
        for (const n of devnet) ok((await n.peers()).length >= 1, `${n.name} kept its peers`);
      },
    );

    await t.step("SIGTERM stops a daemon with peers promptly and cleanly", async () => {
      const node = rest[8];
      ok((await node.peers()).length >= MIN_PEERS, "it has peers to close");
      const started = performance.now();
      const status = await node.stop("SIGTERM", STOP_TIMEOUT_MS);
      const ms = performance.now() - started;
      deepStrictEqual(status, { code: 0, signal: null });
      ok(ms < SIGTERM_BOUND_MS, `exit took ${Math.round(ms)} ms`);
      ok(
        node.process.text("stderr").includes("filnode daemon stopping"),
        "it stopped through its own shutdown path",
      );
    });
  } finally {
    await net.stop();
  }
});

Deno.test("peers flooding malformed hellos or gossip are banned or marked down; honest peers are still served", async () => {
  const net = await Devnet.create();
  try {
    const target = await net.addNode({ config: { "Network.MinPeers": 2 } });
    const spamCount = 12;
    const [hello, gossip] = await Promise.all([
      runFixture("hello_flooder.ts", [target.addr], 60_000),
      runFixture("gossip_spammer.ts", [target.addr, "devnet", String(spamCount)], 60_000),
    ]);

    // The flooder: banned, cut off, and refused when it comes back.
    const flood = reportWith(hello, "redial");
    const floodId = flood.peerId as string;
    ok((flood.sent as number) >= 10, `sent ${flood.sent} malformed hellos`);
    ok((flood.disconnects as number) >= 1, "the target cut the flooder off");
    ok(
      flood.redial === "closed-at-once" || String(flood.redial).startsWith("refused"),
      `a banned peer is not served again (redial: ${flood.redial})`,
    );
    ok((await bans(target)).some((b) => b.Kind === "peer" && b.Target === floodId));
    ok(!(await target.peers()).includes(floodId));
    const floodScore = await reputationOf(target, floodId);
    ok(floodScore !== undefined && floodScore <= -900, `flooder reputation ${floodScore}`);
    ok(
      target.process.text("stderr").some((l) => l.startsWith(`banned ${floodId}`)),
      "the ban is logged",
    );

    // The slow-loris: each stream reset once the hello deadline passed, and a timeout recorded.
    const loris = reportWith(hello, "streams");
    const lorisId = reportWith(hello, "role", "loris").peerId as string;
    for (const s of loris.streams as { how: string; afterMs: number }[]) {
      equal(s.how, "reset", "a hello that never finishes is reset");
    }
    const lorisScore = await reputationOf(target, lorisId);
    ok(lorisScore !== undefined && lorisScore < 0, `slow-loris reputation ${lorisScore}`);

    // The gossip spammer: every message rejected, none accepted, and the sender banned once ten
    // invalid messages (-100 each) took it past the ban threshold, even though it came back.
    const spam = reportWith(gossip, "redial");
    const spamId = spam.peerId as string;
    const published = spam.published as number;
    ok(published >= 10, `published ${published}`);
    const s = await stats(target);
    // (One sent as the ban landed may have died with the connection.)
    ok(
      s.rejected.msgs >= 10 && s.rejected.msgs <= published,
      `${s.rejected.msgs} of ${published} rejected`,
    );
    equal(s.received.msgs, 0, "none was accepted");
    const spamScore = await reputationOf(target, spamId);
    ok(spamScore !== undefined && spamScore <= -900, `spammer reputation ${spamScore}`);
    ok((await bans(target)).some((b) => b.Target === spamId), "the spammer is banned");
    ok(!(await target.peers()).includes(spamId));

    // An honest node still connects and completes hello with the target.
    const honest = await net.addNode({ bootstrappers: [target.addr] });
    await poll(async () => await greeted(honest, target) || undefined, {
      timeoutMs: CONVERGE_MS,
      describe: () => `honest node never greeted the target`,
    });
    await poll(async () => (await target.peers()).includes(honest.peerId) || undefined, {
      timeoutMs: CONVERGE_MS,
    });
  } finally {
    await net.stop();
  }
});

Deno.test("after a restart a node redials its remembered peers before its bootnodes", async () => {
  const net = await Devnet.create();
  try {
    const config = { "Network.MinPeers": 2 };
    const a = await net.addNode({ config });
    const [b, c] = await Promise.all([
      net.addNode({ config, bootstrappers: [a.addr] }),
      net.addNode({ config, bootstrappers: [a.addr] }),
    ]);
    // C must have met B (through the DHT) and completed hello with it, to remember it.
    await poll(async () => (await greeted(c, b) && await greeted(c, a)) || undefined, {
      timeoutMs: CONVERGE_MS,
      describe: () => "C never greeted both A and B",
    });
    deepStrictEqual(await c.stop(), { code: 0, signal: null });
    const firstRun = c.process.text("stderr");
    ok(firstRun.some((l) => l.startsWith("dialing bootnode ")), "first start: bootnode only");

    await c.start();
    await poll(async () => (await c.peers()).includes(b.peerId) || undefined, {
      timeoutMs: CONVERGE_MS,
      describe: () => `C did not reconnect to B; stderr:\n${c.process.text("stderr").join("\n")}`,
    });
    const lines = c.process.text("stderr");
    const firstRemembered = lines.findIndex((l) => l.startsWith("dialing remembered peer "));
    const firstBootnode = lines.findIndex((l) => l.startsWith("dialing bootnode "));
    ok(firstRemembered >= 0, `no remembered peer dialled:\n${lines.join("\n")}`);
    ok(
      firstBootnode < 0 || firstRemembered < firstBootnode,
      `a bootnode was dialled before the remembered peers:\n${lines.join("\n")}`,
    );
    ok(
      lines.slice(0, firstBootnode < 0 ? undefined : firstBootnode).includes(
        `dialing remembered peer ${b.peerId}`,
      ),
      `B is among the remembered peers dialled first:\n${lines.join("\n")}`,
    );
  } finally {
    await net.stop();
  }
});

/**
 * Inbound dials from hosts that speak libp2p but no Filecoin protocol, against a node with few
 * slots: it never holds more than its slots plus libp2p's small headroom, settles back within its
 * slots, and an honest daemon arriving during the flood still gets in and completes hello.
 */
async function floodSlots(dials: number, maxPeers: number, processes: number): Promise<void> {
  // The headroom network.ts gives libp2p above the slots (its `maxConnections`).
  const headroom = Math.max(5, Math.ceil(maxPeers * 0.1));
  const net = await Devnet.create();
  const flooders: LineProcess[] = [];
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();
  try {
    const target = await net.addNode({
      config: { "Network.MaxPeers": maxPeers, "Network.MinPeers": 4 },
    });
    let most = 0;
    const counts: number[] = [];
    sampler = (async () => {
      while (sampling) {
        const n = (await target.peers().catch(() => [])).length;
        counts.push(n);
        most = Math.max(most, n);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    // The flood holds its connections until the test has seen the honest node get in (SIGTERM
    // then ends it); this is only the fixtures' own bound.
    const holdMs = 180_000;
    for (let i = 0; i < processes; i++) {
      flooders.push(LineProcess.spawn(
        fixture("mass_dialer.ts"),
        [target.addr, String(Math.ceil(dials / processes)), String(holdMs)],
        { flags: FIXTURE_FLAGS },
      ));
    }
    // Once the flood has filled the slots, an honest node arrives.
    await poll(() => Promise.resolve(most >= maxPeers - 1 || undefined), {
      timeoutMs: 60_000,
      describe: () => `the flood never filled the slots (most ${most})`,
    });
    const honest = await net.addNode({ bootstrappers: [target.addr] });
    await poll(async () => await greeted(honest, target) || undefined, {
      timeoutMs: CONVERGE_MS,
      describe: () => "the honest node never completed hello with the target during the flood",
    });
    ok(
      flooders.every((f) => f.exited === undefined),
      "the honest node got in while the flood was still running",
    );
    // Every dial attempted (each flooder says so), then the flood ends.
    await Promise.all(
      flooders.map((f) => f.waitForLine("stdout", (l) => l.startsWith('{"started"'), 120_000)),
    );
    for (const f of flooders) f.kill("SIGTERM");
    for (const f of flooders) equal((await f.finished()).code, 0);
    sampling = false;
    await sampler;
    ok(most <= maxPeers + headroom, `held ${most} peers; slots ${maxPeers} + headroom ${headroom}`);
    // Once admission and pruning have done their work, the node is within its slots.
    const settled = await poll(async () => {
      const n = (await target.peers()).length;
      return n <= maxPeers ? n : undefined;
    }, { timeoutMs: CONVERGE_MS });
    ok(settled <= maxPeers);
    const summary = flooders.map((f) => reportWith(f, "openAtEnd"));
    const dialed = summary.reduce((sum, r) => sum + (r.dialed as number), 0);
    const failed = summary.reduce((sum, r) => sum + (r.failed as number), 0);
    equal(dialed + failed, Math.ceil(dials / processes) * processes, "every dial was attempted");
    ok(dialed >= maxPeers, `the flood got ${dialed} connections up, enough to fill the slots`);
  } finally {
    sampling = false;
    await sampler;
    for (const f of flooders) f.kill("SIGKILL");
    for (const f of flooders) await f.finished();
    await net.stop();
  }
}

Deno.test("200 inbound dials against 50 slots: the node holds its slots and an honest peer still gets in", async () => {
  await floodSlots(200, 50, 4);
});

Deno.test({
  name:
    "400 inbound dials against 50 slots (stress): the node holds its slots, an honest peer gets in",
  ignore: !STRESS,
  fn: () => floodSlots(400, 50, 8),
});
