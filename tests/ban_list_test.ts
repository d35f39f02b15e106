import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { base58btc } from "multiformats/bases/base58";
import * as Digest from "multiformats/hashes/digest";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import { UsageError, UserError } from "../src/errors.ts";
import {
  type Ban,
  BanList,
  type BanListOptions,
  DEFAULT_MAX_IP_BAN_MS,
} from "../src/net/ban_list.ts";
import { BanTargetError, parseBanTarget } from "../src/net/ban_target.ts";

const HOUR = 60 * 60_000;
const START = 1_700_000_000_000;

/** A valid sha2-256 peer ID ("Qm…") derived from `n`. */
function peer(n: number): string {
  return base58btc.baseEncode(Digest.create(0x12, new Uint8Array(32).fill(n)).bytes);
}

/** A fresh Kv in a temp dir; `close()` closes it and removes the dir. */
async function tempKv(): Promise<{ kv: Deno.Kv; path: string; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "ban_list_test_" });
  const path = `${dir}/kv.sqlite`;
  const kv = await Deno.openKv(path);
  return {
    kv,
    path,
    async close() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function withBans(
  options: BanListOptions,
  fn: (ctx: { kv: Deno.Kv; bans: BanList; time: FakeTimeSource }) => Promise<void>,
): Promise<void> {
  const temp = await tempKv();
  try {
    const time = (options.time as FakeTimeSource | undefined) ?? new FakeTimeSource(START);
    const bans = await BanList.load(temp.kv, { ...options, time });
    await fn({ kv: temp.kv, bans, time });
  } finally {
    await temp.close();
  }
}

async function stored(kv: Deno.Kv): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of kv.list({ prefix: ["bans"] })) keys.push(e.key.join(" "));
  return keys.sort();
}

Deno.test("`BanList` bans a peer ID indefinitely, and the ban survives a reload", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(START);
    const bans = await BanList.load(temp.kv, { time });
    const { ban, clamped } = await bans.ban({ kind: "peer", value: peer(1) }, {
      reason: "spam",
    });
    equal(clamped, false);
    deepEqual(ban, {
      kind: "peer",
      target: peer(1),
      reason: "spam",
      createdAt: START,
      expires: null,
      source: "manual",
    });
    deepEqual(bans.isBanned({ peerId: peer(1), ip: "5.6.7.8", port: 1 }), ban);
    equal(bans.isBanned({ peerId: peer(2), ip: "5.6.7.8", port: 1 }), undefined);

    time.advance(365 * 24 * HOUR);
    const again = await BanList.load(temp.kv, { time });
    deepEqual(again.loadReport, { loaded: 1, expired: 0, corrupt: 0 });
    deepEqual(again.isBanned({ peerId: peer(1) }), ban);
    deepEqual(again.list(), [ban]);
  } finally {
    await temp.close();
  }
});

Deno.test("`BanList` IP+port bans need a duration, match that port only, and expire", async () => {
  await withBans({}, async ({ kv, bans, time }) => {
    await rejects(
      bans.ban({ kind: "addr", value: "1.2.3.4:4001" }, { reason: "x" }),
      UsageError,
    );
    await rejects(
      bans.ban({ kind: "addr", value: "1.2.3.4:4001" }, { reason: "x", durationMs: -5 }),
      UsageError,
    );
    await rejects(
      bans.ban({ kind: "addr", value: "1.2.3.4:70000" }, { reason: "x", durationMs: 5 }),
      UsageError,
    );
    const { ban } = await bans.ban({ kind: "addr", value: "[2001:DB8::1]:4001" }, {
      reason: "flood",
      durationMs: HOUR,
    });
    equal(ban.target, "[2001:db8::1]:4001");
    equal(ban.expires, START + HOUR);
    deepEqual(await stored(kv), ["bans addr [2001:db8::1]:4001"]);
    // Any textual form of the same address matches; another port does not.
    deepEqual(bans.isBanned({ ip: "2001:db8:0:0:0:0:0:1", port: 4001 }), ban);
    equal(bans.isBanned({ ip: "2001:db8::1", port: 4002 }), undefined);
    equal(bans.isBanned({ ip: "2001:db8::1" }), undefined);
    equal(bans.isBanned({ ip: "not an ip", port: 4001 }), undefined);

    time.advance(HOUR - 1);
    ok(bans.isBanned({ ip: "2001:db8::1", port: 4001 }));
    time.advance(1);
    equal(bans.isBanned({ ip: "2001:db8::1", port: 4001 }), undefined);
    deepEqual(bans.list(), []);
    equal(bans.size, 0, "the expired ban was dropped from memory when met");
    deepEqual(await stored(kv), ["bans addr [2001:db8::1]:4001"], "still on disk until prune");
    equal(await bans.prune(), 1);
    deepEqual(await stored(kv), []);
  });
});

Deno.test("`BanList` clamps IP bans to the maximum duration and says so", async () => {
  await withBans({}, async ({ bans }) => {
    const long = await bans.ban({ kind: "ip", value: "9.9.9.9" }, {
      reason: "abuse",
      durationMs: 72 * HOUR,
    });
    equal(long.clamped, true);
    equal(long.ban.expires, START + DEFAULT_MAX_IP_BAN_MS);
    equal(DEFAULT_MAX_IP_BAN_MS, 24 * HOUR);
    equal(long.notice, "IP bans last at most 24 h; 9.9.9.9 is banned for 24 h instead of 72 h");
    const forever = await bans.ban({ kind: "ip", value: "8.8.8.8" }, { reason: "abuse" });
    equal(forever.clamped, true);
    ok(forever.notice?.includes("instead of indefinitely"));
    const short = await bans.ban({ kind: "ip", value: "7.7.7.7" }, {
      reason: "x",
      durationMs: HOUR,
    });
    equal(short.clamped, false);
    equal(short.notice, undefined);
    equal(short.ban.expires, START + HOUR);
    deepEqual(bans.isBanned({ peerId: peer(3), ip: "9.9.9.9", port: 1234 }), long.ban);
    deepEqual(bans.isBanned({ ip: "::ffff:9.9.9.9" }), long.ban, "dual-stack form matches too");
    equal(bans.isBanned({ ip: "9.9.9.10" }), undefined);
  });
  await withBans({ maxIpBanMs: 2 * HOUR }, async ({ bans }) => {
    const r = await bans.ban({ kind: "ip", value: "9.9.9.9" }, {
      reason: "x",
      durationMs: 3 * HOUR,
    });
    equal(r.ban.expires, START + 2 * HOUR);
  });
});

Deno.test("`BanList` refuses to IP-ban loopback and allowlisted ranges with a UserError", async () => {
  await withBans({ allowlist: ["10.0.0.0/8", "fd00::/8"] }, async ({ kv, bans }) => {
    for (const ip of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "10.1.2.3", "fd00::5"]) {
      await rejects(
        bans.ban({ kind: "ip", value: ip }, { reason: "x", durationMs: HOUR }),
        (e: unknown) => e instanceof UserError && /never IP-banned/.test((e as Error).message),
        ip,
      );
    }
    equal(bans.sparedBy("10.9.9.9"), "allowlisted range 10.0.0.0/8");
    equal(bans.sparedBy("127.0.0.1"), "loopback range 127.0.0.0/8");
    equal(bans.sparedBy("11.0.0.1"), undefined);
    // Outside the allowlist it works; narrower bans on spared IPs are allowed.
    await bans.ban({ kind: "ip", value: "11.0.0.1" }, { reason: "x", durationMs: HOUR });
    await bans.ban({ kind: "addr", value: "127.0.0.1:4001" }, {
      reason: "x",
      durationMs: HOUR,
    });
    deepEqual(await stored(kv), ["bans addr 127.0.0.1:4001", "bans ip 11.0.0.1"]);
    ok(bans.isBanned({ ip: "127.0.0.1", port: 4001 }));
    equal(bans.isBanned({ ip: "127.0.0.1", port: 4002 }), undefined);
  });
});

Deno.test("`BanList` bans a subnet: every IP inside, clamped like an IP ban, kept over a reload", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(START);
    const bans = await BanList.load(temp.kv, { time });
    const { ban, clamped, notice } = await bans.ban(parseBanTarget("192.0.2.77/24"), {
      reason: "abuse",
    });
    equal(clamped, true);
    equal(
      notice,
      "subnet bans last at most 24 h; 192.0.2.0/24 is banned for 24 h instead of indefinitely",
    );
    deepEqual([ban.kind, ban.target, ban.expires], ["subnet", "192.0.2.0/24", START + 24 * HOUR]);
    deepEqual(bans.isBanned({ peerId: peer(1), ip: "192.0.2.200", port: 1 }), ban);
    deepEqual(bans.isBanned({ ip: "::ffff:192.0.2.1" }), ban, "dual-stack form matches too");
    equal(bans.isBanned({ ip: "192.0.3.1" }), undefined);
    const six = await bans.ban(parseBanTarget("2001:DB8::/32"), { reason: "x", durationMs: HOUR });
    equal(bans.isBanned({ ip: "2001:db8:ffff::1" })?.target, "2001:db8::/32");
    equal(bans.isBanned({ ip: "2001:db9::1" }), undefined);
    deepEqual(await stored(temp.kv), ["bans subnet 192.0.2.0/24", "bans subnet 2001:db8::/32"]);

    const again = await BanList.load(temp.kv, { time });
    deepEqual(again.loadReport, { loaded: 2, expired: 0, corrupt: 0 });
    deepEqual(again.isBanned({ ip: "192.0.2.9" }), ban);
    equal((await again.unban("192.0.2.0/24"))?.reason, "abuse");
    equal(again.isBanned({ ip: "192.0.2.9" }), undefined);
    time.advance(HOUR);
    equal(again.isBanned({ ip: "2001:db8::1" }), undefined, `${six.ban.target} expired`);
    equal(again.size, 0);
  } finally {
    await temp.close();
  }
});

Deno.test("`BanList` refuses a subnet overlapping loopback or the allowlist with a UserError", async () => {
  await withBans({ allowlist: ["10.1.0.0/16"] }, async ({ kv, bans }) => {
    for (const subnet of ["127.0.0.0/16", "0.0.0.0/1", "10.0.0.0/8", "10.1.2.0/24", "::/64"]) {
      await rejects(
        bans.ban(parseBanTarget(subnet), { reason: "x", durationMs: HOUR }),
        (e: unknown) => e instanceof UserError && /overlaps the .* never IP-banned/.test(String(e)),
        subnet,
      );
    }
    await bans.ban(parseBanTarget("10.2.0.0/16"), { reason: "x", durationMs: HOUR });
    deepEqual(await stored(kv), ["bans subnet 10.2.0.0/16"]);
  });
});

Deno.test("`BanList.ban()` and `unban()` take the BanTarget that parseBanTarget() gives", async () => {
  await withBans({}, async ({ bans }) => {
    const { ban } = await bans.ban(parseBanTarget("[2001:DB8::1]:4001"), {
      reason: "x",
      durationMs: HOUR,
    });
    deepEqual([ban.kind, ban.target], ["addr", "[2001:db8::1]:4001"]);
    await rejects(bans.ban(parseBanTarget("1.2.3.4:1"), { reason: "x" }), /needs a duration/);
    await rejects(
      bans.ban({ kind: "ip", value: "1.2.3.4:1" }, { reason: "x", durationMs: HOUR }),
      BanTargetError,
    );
    await bans.ban({ kind: "peer", value: peer(4) }, { reason: "y" });
    equal((await bans.unban({ kind: "addr", value: "[2001:db8::1]:4001" }))?.target, ban.target);
    equal((await bans.unban(parseBanTarget(peer(4))))?.reason, "y");
    deepEqual(bans.list(), []);
  });
});

Deno.test("`BanList.load()` rejects a malformed allowlist entry with a UserError", async () => {
  const temp = await tempKv();
  try {
    await rejects(
      BanList.load(temp.kv, { allowlist: ["10.0.0.0/40"] }),
      (e: unknown) => e instanceof UserError && /allowlist entry "10.0.0.0\/40"/.test(String(e)),
    );
    await rejects(BanList.load(temp.kv, { maxIpBanMs: 0 }), UserError);
    await rejects(BanList.load(temp.kv, { escalation: [] }), UserError);
  } finally {
    await temp.close();
  }
});

Deno.test("`BanList.banOffender()` escalates peer ID → IP+port → IP with growing durations", async () => {
  await withBans({}, async ({ kv, bans, time }) => {
    const ip = "203.0.113.7";
    const first = await bans.banOffender({ peerId: peer(1), ip, port: 4001 }, "genesis mismatch");
    equal(first.level, 1);
    deepEqual(first.bans.map((b) => [b.kind, b.target, b.expires]), [
      ["peer", peer(1), START + HOUR],
    ]);
    equal(first.bans[0].source, "automatic");
    equal(bans.isBanned({ peerId: peer(2), ip, port: 4001 }), undefined);

    // Same IP, new peer ID, within the window: second rung.
    time.advance(10 * 60_000);
    const t2 = time.now();
    const second = await bans.banOffender({ peerId: peer(2), ip, port: 4001 }, "invalid blocks");
    equal(second.level, 2);
    deepEqual(second.bans.map((b) => [b.kind, b.target, b.expires]), [
      ["peer", peer(2), t2 + 6 * HOUR],
      ["addr", `${ip}:4001`, t2 + 6 * HOUR],
    ]);
    ok(bans.isBanned({ peerId: peer(9), ip, port: 4001 }));
    equal(bans.isBanned({ peerId: peer(9), ip, port: 4002 }), undefined);

    // Third: the whole IP.
    time.advance(10 * 60_000);
    const t3 = time.now();
    const third = await bans.banOffender({ peerId: peer(3), ip, port: 4002 }, "invalid blocks");
    equal(third.level, 3);
    deepEqual(third.bans.map((b) => [b.kind, b.target, b.expires]), [
      ["peer", peer(3), t3 + 24 * HOUR],
      ["ip", ip, t3 + 24 * HOUR],
    ]);
    equal(third.notice, undefined);
    ok(bans.isBanned({ peerId: peer(9), ip, port: 9999 }));

    // Past the ladder: IP again, doubled but clamped to the 24 h maximum; the IP ban in force
    // is extended, never shortened.
    time.advance(HOUR);
    const fourth = await bans.banOffender({ peerId: peer(4), ip, port: 1 }, "again");
    equal(fourth.level, 4);
    equal(fourth.bans[0].expires, time.now() + 48 * HOUR, "peer bans are not IP bans: 48 h");
    equal(fourth.bans[1].expires, time.now() + 24 * HOUR);

    deepEqual(await stored(kv), [
      `bans addr ${ip}:4001`,
      `bans ip ${ip}`,
      `bans peer ${peer(1)}`,
      `bans peer ${peer(2)}`,
      `bans peer ${peer(3)}`,
      `bans peer ${peer(4)}`,
    ]);
  });
});

Deno.test("`BanList.banOffender()` never widens past the peer ID for one peer ID re-offending", async () => {
  await withBans({}, async ({ kv, bans, time }) => {
    const ip = "203.0.113.20";
    const results = [];
    for (let n = 0; n < 6; n++) {
      // The same peer ID, from the same IP, on a new port each time (as a reconnecting node).
      results.push(await bans.banOffender({ peerId: peer(1), ip, port: 4001 + n }, "x"));
      time.advance(60_000);
    }
    deepEqual(results.map((r) => r.level), [1, 2, 3, 4, 5, 6]);
    deepEqual(results.map((r) => r.bans.map((b) => b.kind)), Array(6).fill(["peer"]));
    // Its peer-ID ban grows with each offence: 1 h, 6 h, 24 h, then doubling.
    deepEqual(
      results.map((r) => (r.bans[0].expires! - r.bans[0].createdAt) / HOUR),
      [1, 6, 24, 48, 96, 192],
    );
    ok(results[1].notice?.includes("1 peer ID offended from 203.0.113.20"), results[1].notice);
    // Honest neighbours behind the same IP, on any port, are still welcome.
    equal(bans.isBanned({ peerId: peer(2), ip, port: 4001 }), undefined);
    equal(bans.isBanned({ peerId: peer(2), ip, port: 9999 }), undefined);
    deepEqual(await stored(kv), [`bans peer ${peer(1)}`]);
  });
});

Deno.test("`BanList.banOffender()` widens to IP+port, then the IP, as distinct peer IDs offend from it", async () => {
  await withBans({}, async ({ bans }) => {
    const ip = "203.0.113.30";
    const honest = { peerId: peer(50), ip, port: 5555 };
    // A repeat offender counts once toward the IP's breadth however often it offends.
    await bans.banOffender({ peerId: peer(1), ip, port: 4001 }, "x");
    const again = await bans.banOffender({ peerId: peer(1), ip, port: 4001 }, "x");
    deepEqual(again.bans.map((b) => b.kind), ["peer"]);
    equal(bans.isBanned(honest), undefined);

    // A second distinct peer ID: its IP+port is banned too, but not the honest peer's port.
    const second = await bans.banOffender({ peerId: peer(2), ip, port: 4002 }, "x");
    deepEqual(second.bans.map((b) => [b.kind, b.target]), [
      ["peer", peer(2)],
      ["addr", `${ip}:4002`],
    ]);
    equal(bans.isBanned({ peerId: peer(51), ip, port: 4002 })?.kind, "addr");
    equal(bans.isBanned(honest), undefined, "another peer ID on another port is not refused");

    // A third distinct peer ID: the whole IP, and now the honest peer is refused too.
    const third = await bans.banOffender({ peerId: peer(3), ip, port: 4003 }, "x");
    deepEqual(third.bans.map((b) => [b.kind, b.target]), [["peer", peer(3)], ["ip", ip]]);
    equal(third.notice, undefined);
    equal(bans.isBanned(honest)?.kind, "ip");
  });
});

Deno.test("`BanList.banOffender()` keeps to IP+port while only two peer IDs offended, at any level", async () => {
  await withBans({}, async ({ bans }) => {
    const ip = "203.0.113.40";
    await bans.banOffender({ peerId: peer(1), ip, port: 4001 }, "x");
    await bans.banOffender({ peerId: peer(2), ip, port: 4002 }, "x");
    await bans.banOffender({ peerId: peer(2), ip, port: 4002 }, "x");
    const third = await bans.banOffender({ peerId: peer(2), ip, port: 4002 }, "x");
    equal(third.level, 3, "peer 2's own count reaches the IP rung");
    deepEqual(third.bans.map((b) => b.kind), ["peer", "addr"]);
    ok(third.notice?.includes("banned IP+port, not the IP"), third.notice);
    equal(bans.isBanned({ peerId: peer(9), ip, port: 7777 }), undefined);
  });
});

Deno.test("`BanList.banOffender()` forgets offences older than the window", async () => {
  await withBans({ offenceWindowMs: 2 * HOUR }, async ({ bans, time }) => {
    await bans.banOffender({ peerId: peer(1), ip: "198.51.100.1", port: 1 }, "x");
    time.advance(2 * HOUR - 1);
    const second = await bans.banOffender({ peerId: peer(1), ip: "198.51.100.1", port: 1 }, "x");
    equal(second.level, 2, "the peer came back after its 1 h ban and offended again");
    time.advance(2 * HOUR);
    const fresh = await bans.banOffender({ peerId: peer(1), ip: "198.51.100.1", port: 1 }, "x");
    equal(fresh.level, 1);
  });
});

Deno.test("`BanList.banOffender()` bans offenders on spared IPs by peer ID only", async () => {
  await withBans({ allowlist: ["192.168.0.0/16"] }, async ({ kv, bans }) => {
    for (const [i, ip] of ["127.0.0.1", "192.168.1.20"].entries()) {
      const results = [];
      for (let n = 0; n < 3; n++) {
        // One peer offending again and again (it may move ports) climbs the ladder's
        // durations, but a spared IP is never widened to, not even to one port.
        results.push(await bans.banOffender({ peerId: peer(10 * i), ip, port: 5000 + n }, "x"));
      }
      deepEqual(results.map((r) => r.bans.map((b) => b.kind)), [["peer"], ["peer"], ["peer"]]);
      deepEqual(results.map((r) => r.level), [1, 2, 3]);
      ok(results[2].notice?.includes("never IP-banned"), results[2].notice);
      equal(bans.isBanned({ peerId: peer(99), ip, port: 1 }), undefined);
    }
    ok(!(await stored(kv)).some((k) => k.startsWith("bans ip ")));
  });
});

Deno.test("`BanList.banOffender()` on a spared IP counts offences per peer, not per IP", async () => {
  await withBans({ allowlist: ["192.168.0.0/16"] }, async ({ bans }) => {
    for (const [i, ip] of ["127.0.0.1", "192.168.1.20", "::1"].entries()) {
      // Unrelated devnet peers (or neighbours behind one NAT) offending once each: each is a
      // first offence and a peer-ID ban only, however many share the IP.
      for (let n = 0; n < 4; n++) {
        const result = await bans.banOffender(
          { peerId: peer(50 + 10 * i + n), ip, port: 6000 },
          "x",
        );
        equal(result.level, 1, `${ip}, peer ${n}`);
        deepEqual(result.bans.map((b) => b.kind), ["peer"]);
      }
      equal(bans.isBanned({ peerId: peer(99), ip, port: 6000 }), undefined);
    }
    // The same count on a public IP escalates: an offender cannot shed its record by a new ID.
    const ip = "203.0.113.9";
    const levels = [];
    for (let n = 0; n < 3; n++) {
      levels.push((await bans.banOffender({ peerId: peer(90 + n), ip, port: 6000 }, "x")).level);
    }
    deepEqual(levels, [1, 2, 3]);
  });
});

Deno.test("`BanList.banOffender()` without an IP bans by peer ID only", async () => {
  await withBans({}, async ({ bans }) => {
    await bans.banOffender({ peerId: peer(1) }, "x");
    const second = await bans.banOffender({ peerId: peer(1) }, "x");
    equal(second.level, 2);
    deepEqual(second.bans.map((b) => b.kind), ["peer"]);
    ok(second.notice?.includes("no IP and port known"));
    const third = await bans.banOffender({ peerId: peer(1), ip: "garbage" }, "x");
    deepEqual(third.bans.map((b) => b.kind), ["peer"]);
    await rejects(bans.banOffender({ peerId: "not-a-peer" }, "x"), UsageError);
  });
});

Deno.test("`BanList.banOffender()` never shortens a longer ban already in force", async () => {
  await withBans({}, async ({ bans }) => {
    const manual = await bans.ban({ kind: "peer", value: peer(1) }, { reason: "operator" });
    const auto = await bans.banOffender({ peerId: peer(1), ip: "203.0.113.1", port: 1 }, "x");
    deepEqual(auto.bans, [manual.ban]);
    deepEqual(bans.isBanned({ peerId: peer(1) }), manual.ban);
  });
});

Deno.test("`BanList.unban()` lifts bans given as peer ID, ip:port, [ipv6]:port or IP", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(START);
    const bans = await BanList.load(temp.kv, { time });
    await bans.ban({ kind: "peer", value: peer(1) }, { reason: "a" });
    await bans.ban({ kind: "addr", value: "1.2.3.4:4001" }, { reason: "b", durationMs: HOUR });
    await bans.ban({ kind: "addr", value: "[::1]:4001" }, { reason: "c", durationMs: HOUR });
    await bans.ban({ kind: "ip", value: "2001:db8::7" }, { reason: "d", durationMs: HOUR });
    equal(bans.list().length, 4);

    equal((await bans.unban(peer(1)))?.reason, "a");
    equal((await bans.unban("1.2.3.4:4001"))?.reason, "b");
    equal((await bans.unban("[0:0::1]:4001"))?.reason, "c");
    equal((await bans.unban("2001:DB8:0::7"))?.reason, "d");
    equal(await bans.unban("5.5.5.5"), undefined);
    await rejects(bans.unban("5.5.5.5:"), UsageError);
    await rejects(bans.unban("some-name"), UsageError);
    deepEqual(bans.list(), []);
    deepEqual(await stored(temp.kv), []);
    equal(bans.isBanned({ peerId: peer(1), ip: "1.2.3.4", port: 4001 }), undefined);
    const again = await BanList.load(temp.kv, { time });
    equal(again.size, 0);
  } finally {
    await temp.close();
  }
});

Deno.test("`BanList.list()` gives kind, target, reason, expires and createdAt, oldest first", async () => {
  await withBans({}, async ({ bans, time }) => {
    await bans.ban({ kind: "ip", value: "9.9.9.9" }, { reason: "second", durationMs: HOUR });
    time.advance(1000);
    await bans.ban({ kind: "peer", value: peer(1) }, { reason: "line one\nline two\u0007" });
    const list = bans.list();
    deepEqual(list.map((b: Ban) => [b.kind, b.target, b.reason, b.expires, b.createdAt]), [
      ["ip", "9.9.9.9", "second", START + HOUR, START],
      ["peer", peer(1), "line one line two", null, START + 1000],
    ]);
    const { ban } = await bans.ban({ kind: "peer", value: peer(2) }, { reason: "x".repeat(500) });
    equal(ban.reason.length, 200);
  });
});

Deno.test("`BanList.load()` deletes expired records and skips + deletes corrupt ones", async () => {
  const temp = await tempKv();
  try {
    const time = new FakeTimeSource(START);
    const good = {
      v: 1,
      kind: "peer",
      target: peer(1),
      reason: "ok",
      createdAt: START,
      expires: START + HOUR,
      source: "manual",
    };
    const records: [Deno.KvKey, unknown][] = [
      [["bans", "peer", peer(1)], good],
      [["bans", "peer", peer(2)], { ...good, target: peer(2), expires: START - 1 }], // expired
      [["bans", "peer", peer(3)], { ...good }], // target does not match key
      [["bans", "peer", peer(4)], "not an object"],
      [["bans", "peer", peer(5)], new Uint8Array([0xde, 0xad])],
      [["bans", "peer", peer(6)], { ...good, target: peer(6), v: 99 }],
      [["bans", "peer", peer(7)], { ...good, target: peer(7), expires: "tomorrow" }],
      [["bans", "peer", peer(8)], { ...good, target: peer(8), source: "gossip" }],
      [["bans", "peer", "notapeer"], { ...good, target: "notapeer" }],
      [["bans", "ip", "010.0.0.1"], { ...good, kind: "ip", target: "010.0.0.1" }],
      [["bans", "ip", "2001:DB8::1"], { ...good, kind: "ip", target: "2001:DB8::1" }],
      [["bans", "addr", "1.2.3.4:5"], {
        ...good,
        kind: "addr",
        target: "1.2.3.4:5",
        expires: null,
      }],
      [["bans", "nope", "x"], { ...good, kind: "nope", target: "x" }],
      [["bans", "peer"], good],
      [["bans", "peer", peer(9), "extra"], good],
      [["bans", "ip", "5.6.7.8"], {
        ...good,
        kind: "ip",
        target: "5.6.7.8",
        reason: "r".repeat(10_000),
      }],
    ];
    for (const [key, value] of records) await temp.kv.set(key, value);
    const bans = await BanList.load(temp.kv, { time });
    deepEqual(bans.loadReport, { loaded: 1, expired: 1, corrupt: records.length - 2 });
    deepEqual(await stored(temp.kv), [`bans peer ${peer(1)}`]);
    equal(bans.isBanned({ peerId: peer(1) })?.reason, "ok");
    equal(bans.isBanned({ peerId: peer(3) }), undefined);
  } finally {
    await temp.close();
  }
});

Deno.test("`BanList.ban()` rejects malformed targets and durations with UsageError", async () => {
  await withBans({}, async ({ kv, bans }) => {
    await rejects(bans.ban({ kind: "peer", value: "x" }, { reason: "r" }), UsageError);
    await rejects(bans.ban({ kind: "ip", value: "1.2.3" }, { reason: "r" }), UsageError);
    await rejects(
      bans.ban({ kind: "peer", value: peer(1) }, { reason: "r", durationMs: NaN }),
      UsageError,
    );
    await rejects(
      bans.ban({ kind: "bogus" } as unknown as Parameters<BanList["ban"]>[0], { reason: "r" }),
      UsageError,
    );
    deepEqual(await stored(kv), []);
  });
});

Deno.test("`BanList.ban()` honours an aborted signal before writing", async () => {
  await withBans({}, async ({ kv, bans }) => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await rejects(
      bans.ban({ kind: "peer", value: peer(1) }, { reason: "r", signal: controller.signal }),
      /stop/,
    );
    deepEqual(await stored(kv), []);
  });
});
