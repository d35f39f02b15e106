import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { base58btc } from "multiformats/bases/base58";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { UsageError } from "../src/errors.ts";
import {
  type BanTarget,
  BanTargetError,
  canonicalBanTarget,
  checkBanDuration,
  parseBanTarget,
} from "../src/net/ban_target.ts";
import { parseHostPort, parseIp, parseMultiaddrAddr } from "../src/net/ip_address.ts";
import { cidrContains, cidrsOverlap, isLoopback, parseCidr } from "../src/net/ip_range.ts";
import { isPeerIdString } from "../src/net/peer_id_text.ts";

/** A valid sha2-256 peer ID ("Qm…") derived from `n`. */
function peer(n: number): string {
  return base58btc.baseEncode(Digest.create(0x12, new Uint8Array(32).fill(n)).bytes);
}

Deno.test("parseIp() canonicalizes IPv4, IPv6 (RFC 5952) and IPv4-mapped addresses", () => {
  equal(parseIp("1.2.3.4")?.text, "1.2.3.4");
  equal(parseIp("2001:DB8:0:0:0:0:0:1")?.text, "2001:db8::1");
  equal(parseIp("2001:db8:0:0:1:0:0:1")?.text, "2001:db8::1:0:0:1");
  equal(parseIp("0:0:0:0:0:0:0:1")?.text, "::1");
  equal(parseIp("::")?.text, "::");
  equal(parseIp("fe80::")?.text, "fe80::");
  equal(parseIp("2001:db8:0:1:1:1:1:1")?.text, "2001:db8:0:1:1:1:1:1"); // one zero: no "::"
  equal(parseIp("::ffff:10.1.2.3")?.text, "10.1.2.3");
  equal(parseIp("::ffff:10.1.2.3")?.family, 4);
  equal(parseIp("64:ff9b::1.2.3.4")?.text, "64:ff9b::102:304");
  equal(parseIp("1::")?.text, "1::");
  equal(parseIp("::2:3:4:5:6:7:8")?.text, "0:2:3:4:5:6:7:8"); // one zero group: no "::"
  equal(parseIp("1:2:3:4:5:6:7::")?.text, "1:2:3:4:5:6:7:0");
  equal(parseIp("1:0:0:2:0:0:0:3")?.text, "1:0:0:2::3"); // the longest run wins
  equal(parseIp("1:0:0:2:3:0:0:4")?.text, "1::2:3:0:0:4"); // a tie: the first run
  equal(parseIp("1:2:3:4:5:6:1.2.3.4")?.text, "1:2:3:4:5:6:102:304");
  deepEqual([...parseIp("2001:db8::ff")!.bytes], [
    32,
    1,
    13,
    184,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    255,
  ]);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4 ",
      "::1::",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "fe80::1%eth0",
      "[::1]",
      "g::1",
      "example.com",
      "1:",
      ":1",
      "1:2:3:4:5:6:7:8::",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::ffff:1.2.3.4.5",
      "::1.2.3",
      "1::2::3",
      "1:2:3:4:5:6:7",
    ]
  ) equal(parseIp(bad), undefined, bad);
});

Deno.test("parseHostPort() and parseMultiaddrAddr() read IPv4 and bracketed IPv6 forms", () => {
  deepEqual(parseHostPort("1.2.3.4:4001"), { ip: "1.2.3.4", port: 4001 });
  deepEqual(parseHostPort("[::1]:4001"), { ip: "::1", port: 4001 });
  deepEqual(parseHostPort("[2001:DB8::0:1]:1"), { ip: "2001:db8::1", port: 1 });
  for (const bad of ["1.2.3.4", "1.2.3.4:0", "1.2.3.4:65536", "::1:4001", "[::1]", "a:1"]) {
    equal(parseHostPort(bad), undefined, bad);
  }
  deepEqual(parseMultiaddrAddr("/ip4/1.2.3.4/tcp/4001"), { ip: "1.2.3.4", port: 4001 });
  deepEqual(parseMultiaddrAddr("/ip6/::1/tcp/4001"), { ip: "::1", port: 4001 });
  deepEqual(parseMultiaddrAddr(`/ip4/1.2.3.4/tcp/4001/p2p/${peer(1)}`), {
    ip: "1.2.3.4",
    port: 4001,
  });
  deepEqual(parseMultiaddrAddr("/ip6/2001:db8::1/udp/9/quic-v1"), { ip: "2001:db8::1", port: 9 });
  for (
    const bad of ["/ip4/::1/tcp/1", "/ip6/1.2.3.4/tcp/1", "/ip4/1.2.3.4", "/dns4/x/tcp/1", "x"]
  ) equal(parseMultiaddrAddr(bad), undefined, bad);
});

Deno.test("parseCidr() and cidrContains() match IPv4 and IPv6 prefixes", () => {
  const ten = parseCidr("10.0.0.0/8")!;
  equal(ten.text, "10.0.0.0/8");
  ok(cidrContains(ten, parseIp("10.255.1.2")!));
  ok(!cidrContains(ten, parseIp("11.0.0.1")!));
  ok(!cidrContains(ten, parseIp("::ffff:b00:1")!));
  ok(cidrContains(ten, parseIp("::ffff:10.0.0.1")!), "IPv4-mapped counts as IPv4");
  const odd = parseCidr("192.168.17.9/20")!;
  equal(odd.text, "192.168.16.0/20", "host bits are cleared");
  ok(cidrContains(odd, parseIp("192.168.31.255")!));
  ok(!cidrContains(odd, parseIp("192.168.32.0")!));
  const ula = parseCidr("fd00::/8")!;
  ok(cidrContains(ula, parseIp("fd12:3456::1")!));
  ok(!cidrContains(ula, parseIp("fe80::1")!));
  ok(!cidrContains(ula, parseIp("10.0.0.1")!));
  equal(parseCidr("1.2.3.4")?.text, "1.2.3.4/32");
  equal(parseCidr("::ffff:10.0.0.0/104")?.text, "10.0.0.0/8");
  for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "fd00::/129", "x/8", "10/8"]) {
    equal(parseCidr(bad), undefined, bad);
  }
  ok(isLoopback("127.0.0.1"));
  ok(isLoopback("127.200.0.9"));
  ok(isLoopback("::1"));
  ok(isLoopback("::ffff:127.0.0.1"));
  ok(!isLoopback("128.0.0.1"));
  ok(!isLoopback("::2"));
});

Deno.test("isPeerIdString() accepts base58 multihashes and libp2p-key CIDs, nothing else", () => {
  ok(isPeerIdString(peer(7)));
  ok(peer(7).startsWith("Qm"));
  const ed25519 = base58btc.baseEncode(Digest.create(0x00, new Uint8Array(36).fill(1)).bytes);
  ok(ed25519.startsWith("1"));
  ok(isPeerIdString(ed25519));
  const cid = CID.createV1(0x72, Digest.create(0x12, new Uint8Array(32).fill(3))).toString();
  ok(isPeerIdString(cid));
  const notKey = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32).fill(3))).toString();
  ok(!isPeerIdString(notKey));
  const shortSha = base58btc.baseEncode(Digest.create(0x12, new Uint8Array(20)).bytes);
  ok(!isPeerIdString(shortSha));
  for (const bad of ["", "Qm", "QmInvalid0OIl", "hello", "1.2.3.4", "x".repeat(200)]) {
    ok(!isPeerIdString(bad), bad);
  }
});

Deno.test("parseBanTarget() tells peer IDs, ip:port, IPs and subnets apart; junk is a BanTargetError", () => {
  deepEqual(parseBanTarget(peer(1)), { kind: "peer", value: peer(1) });
  deepEqual(parseBanTarget("1.2.3.4:4001"), { kind: "addr", value: "1.2.3.4:4001" });
  deepEqual(parseBanTarget("[::1]:4001"), { kind: "addr", value: "[::1]:4001" });
  deepEqual(parseBanTarget("[2001:DB8::0:1]:4001"), { kind: "addr", value: "[2001:db8::1]:4001" });
  deepEqual(parseBanTarget(" 2001:DB8::1 "), { kind: "ip", value: "2001:db8::1" });
  deepEqual(parseBanTarget("9.9.9.9"), { kind: "ip", value: "9.9.9.9" });
  deepEqual(parseBanTarget("192.0.2.9/24"), { kind: "subnet", value: "192.0.2.0/24" });
  deepEqual(parseBanTarget("::ffff:10.0.0.0/104"), { kind: "subnet", value: "10.0.0.0/8" });
  for (
    const bad of ["", "1.2.3.4:99999", "999.1.1.1", "[::1]:", "peer!", "::1:4001:x", "1.2.3.4/0"]
  ) {
    throws(() => parseBanTarget(bad), BanTargetError, bad);
    throws(() => parseBanTarget(bad), UsageError, bad);
  }
  throws(() => parseBanTarget("nonsense"), /neither a peer ID, an IP address nor a subnet/);
  throws(() => parseBanTarget("nonsense"), /192\.0\.2\.7:4001/, "the refusal shows every form");
});

Deno.test("parseBanTarget() canonicalizes a libp2p-key CID peer ID to base58btc", () => {
  const digest = Digest.create(0x12, new Uint8Array(32).fill(3));
  const cid = CID.createV1(0x72, digest).toString();
  deepEqual(parseBanTarget(cid), { kind: "peer", value: base58btc.baseEncode(digest.bytes) });
});

Deno.test("canonicalBanTarget() checks that the value is of the kind given", () => {
  deepEqual(canonicalBanTarget({ kind: "ip", value: "2001:DB8::1" }), {
    kind: "ip",
    value: "2001:db8::1",
  });
  throws(
    () => canonicalBanTarget({ kind: "ip", value: "1.2.3.4:5" }),
    /"1.2.3.4:5" is an IP\+port, not an IP address/,
  );
  throws(() => canonicalBanTarget({ kind: "peer", value: "10.0.0.0/8" }), BanTargetError);
  throws(
    () => canonicalBanTarget({ kind: "host", value: "x" } as unknown as BanTarget),
    /unknown ban kind/,
  );
});

Deno.test("checkBanDuration() wants a positive duration, and one for every IP+port ban", () => {
  checkBanDuration({ kind: "peer", value: peer(1) }, null);
  checkBanDuration({ kind: "addr", value: "1.2.3.4:5" }, 1000);
  throws(() => checkBanDuration({ kind: "addr", value: "1.2.3.4:5" }, null), /needs a duration/);
  throws(() => checkBanDuration({ kind: "ip", value: "1.2.3.4" }, 0), BanTargetError);
  throws(() => checkBanDuration({ kind: "ip", value: "1.2.3.4" }, NaN), BanTargetError);
});

Deno.test("cidrsOverlap() is true for nested ranges and false for disjoint ones", () => {
  ok(cidrsOverlap(parseCidr("10.0.0.0/8")!, parseCidr("10.1.0.0/16")!));
  ok(cidrsOverlap(parseCidr("10.1.0.0/16")!, parseCidr("10.0.0.0/8")!));
  ok(cidrsOverlap(parseCidr("0.0.0.0/1")!, parseCidr("127.0.0.0/8")!));
  ok(!cidrsOverlap(parseCidr("10.0.0.0/8")!, parseCidr("11.0.0.0/8")!));
  ok(!cidrsOverlap(parseCidr("10.0.0.0/8")!, parseCidr("fd00::/8")!));
});
