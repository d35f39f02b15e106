/**
 * `filnode net id|listen|peers|connect|disconnect|scores|ban|unban|bans`: the running daemon's
 * peer-to-peer network, through its control API (`<root>/api` + `<root>/token`).
 *
 * Text output is aligned tables for people; `--json` prints the API's data unchanged (Lotus
 * shapes where Lotus has the call, see `src/api/net_api.ts`), for scripts.
 */
import type { Command, CommandGroup } from "./command.ts";
import { UsageError } from "../errors.ts";
import {
  type AddrInfo,
  type BanEntry,
  NetMethod,
  parsePeerId,
  parsePeerMultiaddr,
  type PeerDetail,
  type PeerId,
  type PeerScore,
} from "../api/net_api.ts";
import { type BanTarget, checkBanDuration, parseBanTarget } from "../net/ban_target.ts";
import { callDaemon } from "./daemon_call.ts";
import { formatDuration, parseDuration } from "../repo/config.ts";

/**
 * Columns padded to their widest cell, two spaces apart; the last column is not padded, so
 * lines carry no trailing blanks.
 */
export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  return all
    .map((row) =>
      row.map((cell, c) => c < row.length - 1 ? cell.padEnd(widths[c]) : cell).join("  ")
    )
    .join("\n");
}

function formatLatency(ms: number | null): string {
  if (ms === null) return "-";
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** Up to two decimals, no trailing zeros: 12, -3.5, 0.25. */
function formatScore(score: number | null): string {
  if (score === null) return "-";
  return String(Math.round(score * 100) / 100);
}

/** "permanent", or "in 59m59s (2025-01-01T00:00:00.000Z)". */
function formatExpiry(expires: string | null, now: number): string {
  if (expires === null) return "permanent";
  const left = Math.max(0, Math.round((Date.parse(expires) - now) / 1000) * 1000);
  return `in ${formatDuration(left)} (${expires})`;
}

/** Parses `--for DURATION` into seconds, or null when absent (a permanent ban). */
function banSeconds(value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== "string") throw new UsageError("--for needs a duration, e.g. --for 1h");
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new UsageError(
      `--for: not a duration: ${JSON.stringify(value)} (e.g. 30s, 10m, 1h, 24h)`,
    );
  }
  if (ms <= 0) throw new UsageError("--for must be more than 0; leave it off for a permanent ban");
  return ms / 1000;
}

/** The ban target the user typed, parsed as the daemon will: the same grammar, same errors. */
function parseTargetArg(text: string): BanTarget {
  try {
    return parseBanTarget(text);
  } catch (err) {
    throw new UsageError(`TARGET: ${(err as Error).message}`);
  }
}

const id: Command = {
  name: "id",
  summary: "Print this node's peer ID",
  arity: [0, 0],
  async run(ctx) {
    const peer = await callDaemon<PeerId>(ctx, NetMethod.ID);
    ctx.print({ ID: peer }, () => peer);
  },
};

const listen: Command = {
  name: "listen",
  summary: "Print the multiaddrs this node listens on, with its peer ID",
  help: "Each line is dialable by another node: `filnode net connect <line>`.",
  arity: [0, 0],
  async run(ctx) {
    const info = await callDaemon<AddrInfo>(ctx, NetMethod.NetAddrsListen);
    ctx.print(info, () => info.Addrs.map((a) => `${a}/p2p/${info.ID}`).join("\n"));
  },
};

const peers: Command = {
  name: "peers",
  summary: "List connected peers: ID, address, direction, latency, reputation, protocols",
  help: "Latency is the last ping round trip (- before the first). Reputation is the peer " +
    "manager's score: higher is better; low scores lead to disconnects and bans.",
  arity: [0, 0],
  async run(ctx) {
    const list = await callDaemon<PeerDetail[]>(ctx, NetMethod.PeersDetailed);
    ctx.print(list, () => {
      if (list.length === 0) return "no peers connected";
      const rows = [...list]
        .sort((a, b) => a.ID.localeCompare(b.ID))
        .map((p) => [
          p.ID,
          p.Addr,
          p.Direction,
          formatLatency(p.LatencyMs),
          formatScore(p.Reputation),
          p.Protocols.join(","),
        ]);
      return formatTable(
        ["ID", "ADDRESS", "DIRECTION", "LATENCY", "REPUTATION", "PROTOCOLS"],
        rows,
      );
    });
  },
};

const connect: Command = {
  name: "connect",
  summary: "Connect to a peer at a multiaddr ending in /p2p/<peer ID>",
  args: "MULTIADDR",
  help: "Example: filnode net connect /ip4/192.0.2.7/tcp/1347/p2p/12D3KooW...\n" +
    "A banned peer is refused; `filnode net unban` it first.",
  arity: [1, 1],
  async run(ctx, args) {
    let info: AddrInfo;
    try {
      info = parsePeerMultiaddr(args.positionals[0]);
    } catch (err) {
      throw new UsageError(`MULTIADDR: ${(err as Error).message}`);
    }
    await callDaemon<null>(ctx, NetMethod.NetConnect, [info]);
    ctx.print({ connected: info.ID, addrs: info.Addrs }, () => `connected to ${info.ID}`);
  },
};

const disconnect: Command = {
  name: "disconnect",
  summary: "Close every connection to a peer",
  args: "PEER",
  help: "The peer may connect again; `filnode net ban PEER` keeps it away.",
  arity: [1, 1],
  async run(ctx, args) {
    let peer: PeerId;
    try {
      peer = parsePeerId(args.positionals[0]);
    } catch (err) {
      throw new UsageError(`PEER: ${(err as Error).message}`);
    }
    await callDaemon<null>(ctx, NetMethod.NetDisconnect, [peer]);
    ctx.print({ disconnected: peer }, () => `disconnected ${peer}`);
  },
};

const scores: Command = {
  name: "scores",
  summary: "List peers' reputation and gossipsub scores",
  arity: [0, 0],
  async run(ctx) {
    const list = await callDaemon<PeerScore[]>(ctx, NetMethod.Scores);
    ctx.print(list, () => {
      if (list.length === 0) return "no peers scored";
      const rows = [...list]
        .sort((a, b) => b.Reputation - a.Reputation || a.ID.localeCompare(b.ID))
        .map((s) => [
          s.ID,
          formatScore(s.Reputation),
          formatScore(s.GossipScore),
          s.Connected ? "yes" : "no",
        ]);
      return formatTable(["ID", "REPUTATION", "GOSSIP", "CONNECTED"], rows);
    });
  },
};

const ban: Command = {
  name: "ban",
  summary: "Ban a peer, IP address, IP and port, or subnet, closing its connections",
  args: "TARGET",
  options: { for: { type: "string" } },
  help: [
    "TARGET is one of:",
    "  a peer ID        12D3KooW..., Qm...",
    "  an IP address    192.0.2.7, 2001:db8::7",
    "  an IP and port   192.0.2.7:4001, [2001:db8::7]:4001 (needs --for)",
    "  a subnet         192.0.2.0/24, 2001:db8::/32 (prefix at least 1)",
    "IP and subnet bans last at most the daemon's maximum IP ban (24h by default), and never",
    "cover loopback or the configured allowlist.",
    "Options:",
    "  --for DURATION   lift the ban after DURATION (30s, 10m, 1h, 24h); default: permanent",
  ].join("\n"),
  arity: [1, 1],
  async run(ctx, args) {
    const target = args.positionals[0];
    const parsed = parseTargetArg(target);
    const seconds = banSeconds(args.values.for);
    try {
      checkBanDuration(parsed, seconds === null ? null : seconds * 1000);
    } catch (err) {
      throw new UsageError(`${(err as Error).message}: add --for DURATION`);
    }
    const entry = await callDaemon<BanEntry>(ctx, NetMethod.Ban, [target, seconds]);
    ctx.print(entry, () => {
      const until = entry.Expires === null
        ? "permanently"
        : formatExpiry(entry.Expires, Date.now()).replace(/^in /, "for ");
      return `banned ${entry.Kind} ${entry.Target} ${until}`;
    });
  },
};

const unban: Command = {
  name: "unban",
  summary: "Lift a ban on a peer, IP address, IP and port, or subnet",
  args: "TARGET",
  help: "TARGET is written as it was banned; `filnode net bans` lists them.",
  arity: [1, 1],
  async run(ctx, args) {
    const target = args.positionals[0];
    const canonical = parseTargetArg(target).value;
    const removed = await callDaemon<boolean>(ctx, NetMethod.Unban, [target]);
    ctx.print(
      { target: canonical, unbanned: removed },
      () => removed ? `unbanned ${canonical}` : `${canonical} was not banned`,
    );
  },
};

const bans: Command = {
  name: "bans",
  summary: "List bans in force, permanent and timed",
  arity: [0, 0],
  async run(ctx) {
    const list = await callDaemon<BanEntry[]>(ctx, NetMethod.Bans);
    ctx.print(list, () => {
      if (list.length === 0) return "no bans";
      const now = Date.now();
      const rows = [...list]
        .sort((a, b) => a.Kind.localeCompare(b.Kind) || a.Target.localeCompare(b.Target))
        .map((b) => [b.Kind, b.Target, formatExpiry(b.Expires, now), b.Reason]);
      return formatTable(["KIND", "TARGET", "EXPIRES", "REASON"], rows);
    });
  },
};

/** The `net` command group. */
export const netCommands: CommandGroup = {
  name: "net",
  summary: "Inspect and steer the running daemon's peer-to-peer network",
  commands: [id, listen, peers, connect, disconnect, scores, ban, unban, bans],
};
