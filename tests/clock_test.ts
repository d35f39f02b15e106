import { equal, ok, rejects, throws } from "node:assert/strict";
import { Clock, InvalidClockError, MAINNET_BLOCK_DELAY_MS } from "../src/clock/clock.ts";
import { FakeTimeSource } from "../src/clock/time_source.ts";

const GENESIS = 1_598_306_400; // mainnet genesis, 2020-08-24T22:00:00Z

Deno.test("`Clock.epochAt()` counts 30 s epochs from genesis, negative before it", () => {
  const clock = new Clock({ genesisTime: GENESIS, timeSource: new FakeTimeSource(0) });
  equal(clock.blockDelayMs, MAINNET_BLOCK_DELAY_MS);
  equal(clock.epochAt(GENESIS * 1000), 0);
  equal(clock.epochAt(GENESIS * 1000 + 29_999), 0);
  equal(clock.epochAt(GENESIS * 1000 + 30_000), 1);
  equal(clock.epochAt(GENESIS * 1000 - 1), -1);
  // Mainnet epoch 1,000,000 started at genesis + 30,000,000 s.
  equal(clock.epochAt((GENESIS + 30_000_000) * 1000), 1_000_000);
});

Deno.test("`Clock.epochStart()` is the inverse of `epochAt()` for a devnet delay", () => {
  const clock = new Clock({
    genesisTime: 1000,
    blockDelayMs: 4000,
    timeSource: new FakeTimeSource(0),
  });
  for (const epoch of [0, 1, 7, 123_456]) {
    equal(clock.epochStart(epoch), 1000 + epoch * 4);
    equal(clock.epochAt(clock.epochStart(epoch) * 1000), epoch);
  }
});

Deno.test("`Clock.now()` is the time source plus the configured offset", () => {
  const time = new FakeTimeSource(1_000_000);
  const clock = new Clock({ genesisTime: 0, offsetMs: -2500, timeSource: time });
  equal(clock.now(), 997_500);
  time.advance(500);
  equal(clock.now(), 998_000);
});

Deno.test("`Clock.isTooFarInFuture()` accepts timestamps within the drift bound only", () => {
  const time = new FakeTimeSource(100_000_000);
  const clock = new Clock({ genesisTime: 0, maxDriftMs: 1000, timeSource: time });
  const nowSeconds = 100_000;
  equal(clock.isTooFarInFuture(nowSeconds), false);
  equal(clock.isTooFarInFuture(nowSeconds + 1), false); // exactly at the bound
  equal(clock.isTooFarInFuture(nowSeconds + 2), true);
  equal(clock.isTooFarInFuture(nowSeconds - 3600), false);
});

Deno.test("`new Clock()` rejects fractional genesis times and sub-second block delays", () => {
  throws(() => new Clock({ genesisTime: 1.5 }), InvalidClockError);
  throws(() => new Clock({ genesisTime: -1 }), InvalidClockError);
  throws(() => new Clock({ genesisTime: 0, blockDelayMs: 500 }), InvalidClockError);
  throws(() => new Clock({ genesisTime: 0, blockDelayMs: 1500 }), InvalidClockError);
});

Deno.test("`Clock.waitForEpoch()` wakes when the fake time reaches the epoch", async () => {
  const time = new FakeTimeSource(10_000);
  const clock = new Clock({ genesisTime: 10, blockDelayMs: 5000, timeSource: time });
  let woke = false;
  const waiting = clock.waitForEpoch(2).then(() => woke = true);
  equal(time.pendingSleeps, 1);
  time.advance(9_999);
  await Promise.resolve();
  equal(woke, false);
  time.advance(1);
  await waiting;
  ok(woke);
  // An epoch already started resolves at once.
  await clock.waitForEpoch(1);
  equal(time.pendingSleeps, 0);
});

Deno.test("`Clock.waitForEpoch()` rejects with the signal's reason on abort and leaves no sleeper", async () => {
  const time = new FakeTimeSource(0);
  const clock = new Clock({ genesisTime: 0, blockDelayMs: 1000, timeSource: time });
  const controller = new AbortController();
  const waiting = clock.waitForEpoch(100, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await rejects(waiting, /stop/);
  equal(time.pendingSleeps, 0);
});

Deno.test("`systemTime.sleep()` clears its timer on abort (no leaked timer)", async () => {
  const { systemTime } = await import("../src/clock/time_source.ts");
  const controller = new AbortController();
  const sleeping = systemTime.sleep(60_000, { signal: controller.signal });
  controller.abort(new Error("cancelled"));
  await rejects(sleeping, /cancelled/);
  await systemTime.sleep(1);
});
