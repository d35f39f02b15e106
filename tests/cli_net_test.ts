/**
 * `filnode net ...` (`src/cli/net.ts`) against a real control API on loopback, served from a
 * temp root by `startControlApi` with the FakeNetApi behind it.
 *
 * Needs --allow-net=127.0.0.1 and --allow-read/--allow-write on temp dirs.
 */
import { type FakeCli, fakeCli } from "./_fake_cli.ts";
import { deepStrictEqual, equal, match, ok, rejects } from "node:assert/strict";
import { formatTable, netCommands } from "../src/cli/net.ts";
import { runCli } from "../src/cli/run.ts";
import { createDispatcher } from "../src/api/rpc.ts";
import { netApiMethods } from "../src/api/net_api.ts";
import { FakeNetApi, fakePeerId } from "./fake_net_api.ts";
import { startControlApi } from "../src/api/api_server.ts";
import { DaemonNotRunningError } from "../src/api/api_client.ts";
import { UsageError } from "../src/errors.ts";
import { withTempDir } from "./_temp.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const SELF = fakePeerId(0);
const PEER_A = fakePeerId(1);
const PEER_B = fakePeerId(2);

async function runVerb(
  cli: FakeCli,
  verb: string,
  positionals: string[] = [],
  values: Record<string, string> = {},
): Promise<void> {
  const command = netCommands.commands.find((c) => c.name === verb);
  ok(command, `no net ${verb} command`);
  const [min, max] = command.arity ?? [0, 0];
  ok(positionals.length >= min && positionals.length <= max, `bad arity for ${verb}`);
  await command.run(cli.ctx, { positionals, values });
}

/** A root with a running control API over `net`. */
async function withDaemon(fn: (root: string, net: FakeNetApi) => Promise<void>): Promise<void> {
  await withTempDir("filnode-cli-net-", async (root) => {
    const net = new FakeNetApi();
    const api = await startControlApi({
      root,
      dispatch: createDispatcher(
        netApiMethods({
          net,
          version: { version: "0.1.0", agent: "filnode/0.1.0", blockDelayMs: 30_000 },
        }),
      ),
    });
    try {
      await fn(root, net);
    } finally {
      await api.stop();
    }
  });
}

/** runCli with output captured: the whole path from argv to exit code. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, [netCommands], {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

// ---------------------------------------------------------------------------------------------
// Verbs

Deno.test("net id prints the peer ID, and {ID} under --json", async () => {
  await withDaemon(async (root) => {
    const text = fakeCli(root);
    await runVerb(text, "id");
    deepStrictEqual(text.out, [SELF]);
    const json = fakeCli(root, true);
    await runVerb(json, "id");
    deepStrictEqual(JSON.parse(json.out[0]), { ID: SELF });
  });
});

Deno.test("net listen prints dialable multiaddrs ending in /p2p/<id>", async () => {
  await withDaemon(async (root) => {
    const text = fakeCli(root);
    await runVerb(text, "listen");
    deepStrictEqual(text.out, [`/ip4/127.0.0.1/tcp/40001/p2p/${SELF}`]);
    const json = fakeCli(root, true);
    await runVerb(json, "listen");
    deepStrictEqual(JSON.parse(json.out[0]), { ID: SELF, Addrs: ["/ip4/127.0.0.1/tcp/40001"] });
  });
});

Deno.test("net peers prints an aligned table with every column, and the rows under --json", async () => {
  await withDaemon(async (root, net) => {
    const empty = fakeCli(root);
    await runVerb(empty, "peers");
    deepStrictEqual(empty.out, ["no peers connected"]);

    net.addPeer({
      ID: PEER_A,
      Addr: "/ip4/192.0.2.1/tcp/1347",
      Direction: "outbound",
      LatencyMs: 42.4,
      Reputation: 12.5,
      Protocols: ["/fil/hello/1.0.0", "/fil/chain/xchg/0.0.1"],
    });
    net.addPeer({ ID: PEER_B, Addr: "/ip6/2001:db8::1/tcp/1", LatencyMs: 3.14159, Reputation: -3 });
    const text = fakeCli(root);
    await runVerb(text, "peers");
    const lines = text.out[0].split("\n");
    equal(lines.length, 3);
    match(lines[0], /^ID\s+ADDRESS\s+DIRECTION\s+LATENCY\s+REPUTATION\s+PROTOCOLS$/);
    const rowA = lines.find((l) => l.startsWith(PEER_A))!;
    const rowB = lines.find((l) => l.startsWith(PEER_B))!;
    match(
      rowA,
      /\/ip4\/192\.0\.2\.1\/tcp\/1347\s+outbound\s+42ms\s+12\.5\s+\/fil\/hello\/1\.0\.0,\/fil\/chain/,
    );
    match(rowB, /inbound\s+3\.1ms\s+-3\s+/);
    // Aligned: every column starts at the same offset on every line.
    const col = (line: string, header: string) => line.indexOf(header);
    equal(rowA.indexOf("outbound"), col(lines[0], "DIRECTION"));
    equal(rowB.indexOf("inbound"), col(lines[0], "DIRECTION"));
    ok(lines.every((l) => l === l.trimEnd()), "no trailing blanks");

    const json = fakeCli(root, true);
    await runVerb(json, "peers");
    const rows = JSON.parse(json.out[0]);
    equal(rows.length, 2);
    deepStrictEqual(Object.keys(rows[0]).sort(), [
      "Addr",
      "Agent",
      "Direction",
      "ID",
      "LatencyMs",
      "Protocols",
      "Reputation",
    ]);
  });
});

Deno.test("net connect sends the AddrInfo parsed from the multiaddr; disconnect closes it", async () => {
  await withDaemon(async (root, net) => {
    const c = fakeCli(root);
    await runVerb(c, "connect", [`/ip4/192.0.2.9/tcp/1347/p2p/${PEER_A}`]);
    deepStrictEqual(c.out, [`connected to ${PEER_A}`]);
    deepStrictEqual(net.calls.at(-1), {
      method: "connect",
      args: [{ ID: PEER_A, Addrs: ["/ip4/192.0.2.9/tcp/1347"] }],
    });
    deepStrictEqual((await net.peers()).map((p) => p.ID), [PEER_A]);
    const d = fakeCli(root);
    await runVerb(d, "disconnect", [PEER_A]);
    deepStrictEqual(d.out, [`disconnected ${PEER_A}`]);
    deepStrictEqual(await net.peers(), []);
  });
});

Deno.test("net connect and disconnect reject malformed input before calling the daemon", async () => {
  await withDaemon(async (root, net) => {
    await rejects(runVerb(fakeCli(root), "connect", ["/ip4/192.0.2.9/tcp/1347"]), UsageError);
    await rejects(runVerb(fakeCli(root), "connect", ["192.0.2.9:1347"]), UsageError);
    await rejects(runVerb(fakeCli(root), "disconnect", ["not-a-peer"]), UsageError);
    deepStrictEqual(net.calls, []);
  });
});

Deno.test("net disconnect of a peer that is not connected fails with the daemon's message", async () => {
  await withDaemon(async (root) => {
    await rejects(runVerb(fakeCli(root), "disconnect", [PEER_B]), /is not connected/);
  });
});

Deno.test("net scores lists reputation and gossip scores, best first", async () => {
  await withDaemon(async (root, net) => {
    net.addPeer({ ID: PEER_A, Reputation: 1 });
    net.addPeer({ ID: PEER_B, Reputation: 20 });
    net.setGossipScore(PEER_A, 0.125);
    const text = fakeCli(root);
    await runVerb(text, "scores");
    const lines = text.out[0].split("\n");
    match(lines[0], /^ID\s+REPUTATION\s+GOSSIP\s+CONNECTED$/);
    ok(lines[1].startsWith(PEER_B));
    match(lines[1], /20\s+-\s+yes$/);
    match(lines[2], /1\s+0\.13\s+yes$/);
    const json = fakeCli(root, true);
    await runVerb(json, "scores");
    equal(JSON.parse(json.out[0]).length, 2);
  });
});

Deno.test("net ban --for bans for that long; ban alone is permanent; bans lists both", async () => {
  await withDaemon(async (root, net) => {
    net.addPeer({ ID: PEER_A });
    const timed = fakeCli(root);
    await runVerb(timed, "ban", [PEER_A], { for: "1h" });
    match(timed.out[0], new RegExp(`^banned peer ${PEER_A} for (59m59s|1h) \\(`));
    deepStrictEqual(net.calls.find((c) => c.method === "ban")?.args, [
      { kind: "peer", value: PEER_A },
      3_600_000,
    ]);
    deepStrictEqual(await net.peers(), [], "the ban closed the connection");

    const forever = fakeCli(root);
    await runVerb(forever, "ban", ["192.0.2.0/24"]);
    deepStrictEqual(forever.out, ["banned subnet 192.0.2.0/24 permanently"]);

    const list = fakeCli(root);
    await runVerb(list, "bans");
    const lines = list.out[0].split("\n");
    match(lines[0], /^KIND\s+TARGET\s+EXPIRES\s+REASON$/);
    match(
      lines[1],
      new RegExp(`^peer\\s+${PEER_A}\\s+in (59m59s|1h) \\(\\d{4}-.*Z\\)\\s+manual$`),
    );
    match(lines[2], /^subnet\s+192\.0\.2\.0\/24\s+permanent\s+manual$/);

    const json = fakeCli(root, true);
    await runVerb(json, "bans");
    const entries = JSON.parse(json.out[0]);
    deepStrictEqual(entries.map((e: { Kind: string }) => e.Kind).sort(), ["peer", "subnet"]);
  });
});

Deno.test("net unban lifts a ban and says when there was none", async () => {
  await withDaemon(async (root) => {
    await runVerb(fakeCli(root), "ban", ["2001:DB8::7"]);
    const first = fakeCli(root);
    await runVerb(first, "unban", ["2001:db8:0::7"]);
    deepStrictEqual(first.out, ["unbanned 2001:db8::7"]);
    const again = fakeCli(root);
    await runVerb(again, "unban", ["2001:db8::7"]);
    deepStrictEqual(again.out, ["2001:db8::7 was not banned"]);
    const empty = fakeCli(root);
    await runVerb(empty, "bans");
    deepStrictEqual(empty.out, ["no bans"]);
  });
});

Deno.test("net ban rejects bad targets and durations as usage errors", async () => {
  await withDaemon(async (root, net) => {
    await rejects(runVerb(fakeCli(root), "ban", ["nonsense"]), UsageError);
    await rejects(runVerb(fakeCli(root), "ban", ["10.0.0.0/99"]), UsageError);
    for (const bad of ["forever", "0s", "-5m", "10"]) {
      await rejects(runVerb(fakeCli(root), "ban", [PEER_A], { for: bad }), UsageError, bad);
    }
    await rejects(runVerb(fakeCli(root), "unban", ["nonsense"]), UsageError);
    deepStrictEqual(net.calls, []);
  });
});

Deno.test("net ban takes ip:port with --for, and refuses it without, before calling the daemon", async () => {
  await withDaemon(async (root, net) => {
    await rejects(
      runVerb(fakeCli(root), "ban", ["192.0.2.7:4001"]),
      (e: unknown) => e instanceof UsageError && /needs a duration.*--for/.test(String(e)),
    );
    equal(net.calls.length, 0, "refused before calling the daemon");
    const timed = fakeCli(root);
    await runVerb(timed, "ban", ["[2001:DB8::7]:4001"], { for: "10m" });
    deepStrictEqual(net.calls.find((c) => c.method === "ban")?.args, [
      { kind: "addr", value: "[2001:db8::7]:4001" },
      600_000,
    ]);
    match(timed.out[0], /^banned addr \[2001:db8::7\]:4001 for /);
  });
});

Deno.test("net ban and Filnode.NetBan refuse a target with the same message", async () => {
  await withDaemon(async (root) => {
    const cliError = await runVerb(fakeCli(root), "ban", ["example.com"]).catch((e) => e);
    const dispatch = createDispatcher(netApiMethods({
      net: new FakeNetApi(),
      version: { version: "0.1.0", agent: "filnode/0.1.0", blockDelayMs: 30_000 },
    }));
    const body = { jsonrpc: "2.0", id: 1, method: "Filnode.NetBan", params: ["example.com"] };
    const apiError = JSON.parse((await dispatch(JSON.stringify(body)))!).error;
    ok(cliError instanceof UsageError);
    const why = String(cliError.message).replace(/^TARGET: /, "");
    match(why, /neither a peer ID, an IP address nor a subnet/);
    equal(apiError.message, `param 1 (target): ${why}`);
  });
});

Deno.test("net verbs say no daemon is running when the root has none", async () => {
  await withTempDir("filnode-cli-net-", async (root) => {
    await rejects(runVerb(fakeCli(root), "peers"), DaemonNotRunningError);
  });
});

// ---------------------------------------------------------------------------------------------
// Through runCli: argv parsing, --json and exit codes

Deno.test("runCli routes `net ban TARGET --for 30s` and `--json net bans`", async () => {
  await withDaemon(async (root) => {
    const ban = await cli(["--root", root, "net", "ban", "192.0.2.7", "--for", "30s"]);
    equal(ban.code, 0, ban.err);
    match(ban.out, /^banned ip 192\.0\.2\.7 for (29s|30s) \(/);
    const bans = await cli(["--root", root, "--json", "net", "bans"]);
    equal(bans.code, 0, bans.err);
    const [entry] = JSON.parse(bans.out);
    equal(entry.Target, "192.0.2.7");
    equal(entry.Kind, "ip");
    ok(typeof entry.Expires === "string");
  });
});

Deno.test("runCli exits 1 with one line when no daemon runs or the daemon refuses", async () => {
  await withTempDir("filnode-cli-net-", async (root) => {
    const none = await cli(["--root", root, "net", "id"]);
    equal(none.code, 1);
    equal(
      none.err,
      `filnode: no daemon is running for root ${root} (start one with \`filnode daemon\`)`,
    );
  });
  await withDaemon(async (root) => {
    const refused = await cli(["--root", root, "net", "disconnect", PEER_A]);
    equal(refused.code, 1);
    match(refused.err, /^filnode: Filecoin\.NetDisconnect: peer .* is not connected$/);
    const usage = await cli(["--root", root, "net", "connect"]);
    equal(usage.code, 1);
    match(usage.err, /takes 1 argument \(MULTIADDR\), got 0/);
  });
});

Deno.test("formatTable() pads every column but the last", () => {
  equal(
    formatTable(["A", "BB", "C"], [["xxx", "y", "z"], ["", "", "long last"]]),
    "A    BB  C\nxxx  y   z\n         long last",
  );
});
