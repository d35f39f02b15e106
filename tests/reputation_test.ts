import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { FakeTimeSource } from "../src/clock/time_source.ts";
import {
  DEFAULT_BAN_BELOW,
  DEFAULT_DISCONNECT_BELOW,
  DEFAULT_HALF_LIFE_MS,
  Reputation,
  REPUTATION_EVENTS,
  type ReputationEventKind,
  SCORE_MAX,
  SCORE_MIN,
  type ThresholdCrossing,
} from "../src/net/reputation.ts";

const MINUTE = 60_000;

function setup(options: ConstructorParameters<typeof Reputation>[0] = {}) {
  const time = new FakeTimeSource(1_000_000);
  const reputation = new Reputation({ time, ...options });
  const crossings: ThresholdCrossing[] = [];
  reputation.addEventListener("threshold", (e) => crossings.push(e.detail));
  return { time, reputation, crossings };
}

function near(actual: number, expected: number, epsilon = 1e-9) {
  ok(Math.abs(actual - expected) <= epsilon, `${actual} is not within ${epsilon} of ${expected}`);
}

Deno.test("REPUTATION_EVENTS has the documented default deltas and MUST flags", () => {
  const expected: Record<ReputationEventKind, [number, boolean]> = {
    "invalid-message": [-100, false],
    "malformed-message": [-100, false],
    "protocol-violation": [-1000, true],
    "genesis-mismatch": [-1000, true],
    "timeout": [-10, false],
    "duplicate-message": [-2, false],
    "useless-message": [-1, false],
    "useful-block": [10, false],
    "useful-answer": [5, false],
    "hello-ok": [1, false],
  };
  for (const [kind, [delta, must]] of Object.entries(expected)) {
    deepEqual(REPUTATION_EVENTS[kind as ReputationEventKind], { delta, mustViolation: must });
  }
  equal(Object.keys(REPUTATION_EVENTS).length, Object.keys(expected).length);
  equal(DEFAULT_DISCONNECT_BELOW, -500);
  equal(DEFAULT_BAN_BELOW, -1000);
  equal(DEFAULT_HALF_LIFE_MS, 10 * MINUTE);
});

Deno.test("`Reputation.record()` returns the accumulated score; unseen peers stand at 0", () => {
  const { reputation } = setup();
  equal(reputation.score("a"), 0);
  equal(reputation.record("a", "useful-block"), 10);
  equal(reputation.record("a", "useful-answer"), 15);
  equal(reputation.record("a", "timeout"), 5);
  equal(reputation.record("a", "hello-ok", { delta: 7 }), 12);
  equal(reputation.score("a"), 12);
  equal(reputation.score("b"), 0);
});

Deno.test("`Reputation` scores clamp to [-10000, +1000]", () => {
  const { reputation } = setup();
  for (let i = 0; i < 200; i++) reputation.record("good", "useful-block");
  equal(reputation.score("good"), SCORE_MAX);
  equal(SCORE_MAX, 1000);
  for (let i = 0; i < 200; i++) reputation.record("bad", "invalid-message");
  equal(reputation.score("bad"), SCORE_MIN);
  equal(SCORE_MIN, -10000);
  // Goodwill is capped, so one MUST violation still takes a maxed-out peer to 0.
  equal(reputation.record("good", "genesis-mismatch"), 0);
});

Deno.test("`Reputation.score()` halves every half-life, computed lazily", () => {
  const { time, reputation } = setup();
  reputation.record("p", "invalid-message");
  time.advance(10 * MINUTE);
  near(reputation.score("p"), -50);
  time.advance(10 * MINUTE);
  near(reputation.score("p"), -25);
  time.advance(5 * MINUTE); // half a half-life: factor 1/sqrt(2)
  near(reputation.score("p"), -25 / Math.SQRT2);
  // A new event applies on top of the decayed score, and decay restarts from then.
  const now = reputation.record("p", "useful-block");
  near(now, 10 - 25 / Math.SQRT2);
  time.advance(10 * MINUTE);
  near(reputation.score("p"), (10 - 25 / Math.SQRT2) / 2);
});

Deno.test("`Reputation` honours a custom half-life", () => {
  const { time, reputation } = setup({ halfLifeMs: 1000 });
  reputation.record("p", "useful-block", { delta: 800 });
  time.advance(3000);
  near(reputation.score("p"), 100);
});

Deno.test("`Reputation` dispatches `threshold` once per downward crossing, most severe first", () => {
  const { time, reputation, crossings } = setup();
  for (let i = 0; i < 5; i++) reputation.record("p", "invalid-message");
  equal(crossings.length, 0, "exactly -500 is not below -500");
  reputation.record("p", "timeout");
  deepEqual(crossings, [{
    peerId: "p",
    score: -510,
    crossed: "disconnect",
    event: "timeout",
    mustViolation: false,
  }]);
  reputation.record("p", "invalid-message"); // still below -500, above -1000: no news
  equal(crossings.length, 1);
  for (let i = 0; i < 3; i++) reputation.record("p", "invalid-message"); // down to -910
  equal(crossings.length, 1);
  reputation.record("p", "invalid-message");
  equal(crossings.length, 2);
  equal(crossings[1].crossed, "ban");
  near(crossings[1].score, -1010);

  // Recovering by decay and crossing again is news again.
  time.advance(60 * MINUTE);
  near(reputation.score("p"), -1010 / 64);
  reputation.record("p", "malformed-message", { delta: -600 });
  equal(crossings.length, 3);
  equal(crossings[2].crossed, "disconnect");

  // One event that jumps past both thresholds reports only "ban".
  reputation.record("q", "invalid-message", { delta: -5000 });
  equal(crossings.length, 4);
  deepEqual(crossings[3], {
    peerId: "q",
    score: -5000,
    crossed: "ban",
    event: "invalid-message",
    mustViolation: false,
  });
});

Deno.test("`Reputation` reports every MUST violation as a ban and flags the peer for the TTL", () => {
  const { time, reputation, crossings } = setup({ mustViolationTtlMs: 60 * MINUTE });
  for (let i = 0; i < 100; i++) reputation.record("p", "useful-block");
  reputation.record("p", "genesis-mismatch");
  deepEqual(crossings, [{
    peerId: "p",
    score: 0,
    crossed: "ban",
    event: "genesis-mismatch",
    mustViolation: true,
  }]);
  ok(reputation.mustViolation("p"));
  deepEqual(reputation.get("p"), { peerId: "p", score: 0, mustViolation: true });
  reputation.record("p", "protocol-violation");
  equal(crossings.length, 2, "a second violation is reported even when already below");
  time.advance(60 * MINUTE - 1);
  ok(reputation.mustViolation("p"));
  time.advance(1);
  ok(!reputation.mustViolation("p"));
  ok(!reputation.mustViolation("never-seen"));
});

Deno.test("`Reputation.removeEventListener()` stops threshold events", () => {
  const { reputation } = setup();
  let calls = 0;
  const listener = () => calls++;
  reputation.addEventListener("threshold", listener);
  reputation.record("p", "genesis-mismatch");
  reputation.removeEventListener("threshold", listener);
  reputation.record("q", "genesis-mismatch");
  equal(calls, 1);
});

Deno.test("`Reputation.ranked()` is ascending, `below()` strict, `forget()` drops a peer", () => {
  const { time, reputation } = setup();
  reputation.record("c", "useful-block");
  reputation.record("a", "invalid-message");
  reputation.record("b", "timeout");
  reputation.record("d", "timeout"); // ties with b: ordered by peer ID
  deepEqual(reputation.ranked().map((p) => [p.peerId, p.score]), [
    ["a", -100],
    ["b", -10],
    ["d", -10],
    ["c", 10],
  ]);
  deepEqual(reputation.below(-10).map((p) => p.peerId), ["a"]);
  deepEqual(reputation.below(0).map((p) => p.peerId), ["a", "b", "d"]);
  ok(reputation.forget("a"));
  ok(!reputation.forget("a"));
  equal(reputation.score("a"), 0);
  // Entries that decayed to nothing are dropped from memory by the scan.
  time.advance(24 * 60 * MINUTE);
  deepEqual(reputation.ranked(), []);
  equal(reputation.size, 0);
});

Deno.test("`Reputation.snapshot()` round-trips through Deno KV and decay resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "reputation_test_" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  try {
    const { time, reputation } = setup();
    reputation.record("a", "invalid-message");
    reputation.record("b", "genesis-mismatch");
    reputation.record("c", "useful-block");
    await kv.set(["test", "reputation"], reputation.snapshot());
    time.advance(10 * MINUTE);

    const stored = (await kv.get(["test", "reputation"])).value;
    const restored = new Reputation({ time });
    deepEqual(restored.restore(stored), { restored: 3, skipped: 0 });
    near(restored.score("a"), -50);
    near(restored.score("c"), 5);
    ok(restored.mustViolation("b"));
    deepEqual(restored.ranked(), reputation.ranked());
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`Reputation.restore()` skips malformed entries and snapshots without throwing", () => {
  const { time, reputation } = setup();
  const now = time.now();
  const result = reputation.restore({
    version: 1,
    peers: [
      { peerId: "ok", score: -40, updatedAt: now, mustViolationUntil: null },
      { peerId: "", score: 1, updatedAt: now, mustViolationUntil: null },
      { peerId: "nan", score: NaN, updatedAt: now, mustViolationUntil: null },
      { peerId: "str", score: "1", updatedAt: now, mustViolationUntil: null },
      { peerId: "future", score: 1, updatedAt: now + 1, mustViolationUntil: null },
      { peerId: "flag", score: 1, updatedAt: now, mustViolationUntil: "soon" },
      null,
      42,
    ],
  });
  deepEqual(result, { restored: 1, skipped: 7 });
  equal(reputation.score("ok"), -40);
  equal(reputation.size, 1);
  deepEqual(reputation.restore(null), { restored: 0, skipped: 1 });
  deepEqual(reputation.restore({ version: 2, peers: [] }), { restored: 0, skipped: 1 });
  deepEqual(reputation.restore(new Uint8Array([1, 2, 3])), { restored: 0, skipped: 1 });
  // An out-of-range stored score is clamped, not trusted.
  reputation.restore({
    version: 1,
    peers: [{ peerId: "huge", score: 1e9, updatedAt: now, mustViolationUntil: null }],
  });
  equal(reputation.score("huge"), SCORE_MAX);
});

Deno.test("`Reputation` stays within maxTrackedPeers, dropping the entry nearest 0", () => {
  const { reputation } = setup({ maxTrackedPeers: 3 });
  reputation.record("bad", "invalid-message");
  reputation.record("flagged", "genesis-mismatch");
  reputation.record("meh", "useless-message");
  reputation.record("new", "useful-block");
  equal(reputation.size, 3);
  equal(reputation.score("meh"), 0, "the weakest signal went");
  equal(reputation.score("bad"), -100);
  ok(reputation.mustViolation("flagged"));
  equal(reputation.score("new"), 10);
});

Deno.test("`Reputation` rejects bad options and unknown events", () => {
  throws(() => new Reputation({ disconnectBelow: -1000, banBelow: -500 }), RangeError);
  throws(() => new Reputation({ disconnectBelow: 10 }), RangeError);
  throws(() => new Reputation({ banBelow: -20_000 }), RangeError);
  throws(() => new Reputation({ halfLifeMs: 0 }), RangeError);
  throws(() => new Reputation({ deltas: { timeout: NaN } }), RangeError);
  const reputation = new Reputation({ time: new FakeTimeSource(0) });
  throws(() => reputation.record("p", "nonsense" as ReputationEventKind), RangeError);
  throws(() => reputation.record("p", "timeout", { delta: Infinity }), RangeError);
  equal(reputation.size, 0);
});

Deno.test("`Reputation` applies per-kind delta overrides", () => {
  const { reputation } = setup({ deltas: { timeout: -50 } });
  equal(reputation.record("p", "timeout"), -50);
  equal(reputation.record("p", "useful-block"), -40);
});
