import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { compareRank, type Direction, PeerSlots, type SlotPeer } from "../src/net/peer_slots.ts";

/** `n` connected peers `p0…`, scores 0…n-1 unless `score` says otherwise. */
function peers(
  n: number,
  options: { direction?: Direction; score?: (i: number) => number } = {},
): SlotPeer[] {
  return Array.from({ length: n }, (_, i) => ({
    peerId: `p${String(i).padStart(3, "0")}`,
    score: options.score?.(i) ?? i,
    direction: options.direction ?? "outbound",
  }));
}

Deno.test("`PeerSlots` defaults: 50 slots, floor 25, 3 inbound-only, rotate 5, fill 3", () => {
  const slots = new PeerSlots();
  equal(slots.maxPeers, 50);
  equal(slots.minPeers, 25);
  equal(slots.inboundReserved, 3); // ceil(5% of 50)
  equal(slots.outboundLimit, 47);
  equal(slots.rotateCount, 5);
  equal(slots.fillCount, 3);
});

Deno.test("`PeerSlots.admit()` refuses outbound dials once the inbound reserve is reached", () => {
  const slots = new PeerSlots();
  deepEqual(slots.admit({ peerId: "new", score: 0, direction: "outbound" }, peers(46)), {
    accept: true,
  });
  const refused = slots.admit({ peerId: "new", score: 999, direction: "outbound" }, peers(47));
  equal(refused.accept, false);
  ok(
    !refused.accept &&
      /outbound slots full: 47 of 50 used, 3 kept for inbound/.test(refused.reason),
  );
  // Inbound may still use the reserve.
  for (const n of [47, 48, 49]) {
    deepEqual(slots.admit({ peerId: "new", score: 0, direction: "inbound" }, peers(n)), {
      accept: true,
    });
  }
});

Deno.test("`PeerSlots.admit()` replaces the lowest-ranked peer when full, only for a higher rank", () => {
  const slots = new PeerSlots();
  const full = peers(50, { score: (i) => i - 10 }); // lowest: p000 at -10
  deepEqual(slots.admit({ peerId: "new", score: 0, direction: "inbound" }, full), {
    accept: true,
    evict: "p000",
  });
  // Equal score: not higher, refused (no churn between equals).
  const refused = slots.admit({ peerId: "new", score: -10, direction: "inbound" }, full);
  equal(refused.accept, false);
  ok(!refused.accept && /all 50 slots taken/.test(refused.reason));
  equal(slots.admit({ peerId: "new", score: -11, direction: "inbound" }, full).accept, false);
  // Outbound never replaces: the reserve would be eaten.
  equal(slots.admit({ peerId: "new", score: 500, direction: "outbound" }, full).accept, false);
});

Deno.test("`PeerSlots.admit()` evicts a MUST violator first and refuses flagged candidates", () => {
  const slots = new PeerSlots({ maxPeers: 4, minPeers: 2 });
  const connected: SlotPeer[] = [
    { peerId: "a", score: -300, direction: "inbound" },
    { peerId: "b", score: 900, direction: "outbound", mustViolation: true },
    { peerId: "c", score: 10, direction: "outbound" },
    { peerId: "d", score: 20, direction: "inbound" },
  ];
  deepEqual(slots.admit({ peerId: "e", score: -400, direction: "inbound" }, connected), {
    accept: true,
    evict: "b",
  });
  const flagged = slots.admit(
    { peerId: "e", score: 100, direction: "inbound", mustViolation: true },
    connected.slice(0, 1),
  );
  equal(flagged.accept, false);
});

Deno.test("`PeerSlots.admit()` at equal score prefers keeping an outbound peer", () => {
  const slots = new PeerSlots({ maxPeers: 2, minPeers: 1, inboundReserve: 0 });
  const inboundLow: SlotPeer[] = [
    { peerId: "x", score: 0, direction: "inbound" },
    { peerId: "y", score: 5, direction: "outbound" },
  ];
  // An inbound peer at score 0 does not outrank another inbound peer at 0 …
  equal(slots.admit({ peerId: "n", score: 0, direction: "inbound" }, inboundLow).accept, false);
  // … and an outbound-held slot at equal score is not given to an inbound newcomer either.
  const outboundLow: SlotPeer[] = [
    { peerId: "x", score: 0, direction: "outbound" },
    { peerId: "y", score: 5, direction: "outbound" },
  ];
  equal(slots.admit({ peerId: "n", score: 0, direction: "inbound" }, outboundLow).accept, false);
  ok(compareRank(inboundLow[0], outboundLow[0]) < 0, "inbound ranks below outbound at a tie");
});

Deno.test("`PeerSlots.admit()` counts a peer already connected only once", () => {
  const slots = new PeerSlots({ maxPeers: 2, minPeers: 1 });
  const connected = peers(2);
  deepEqual(slots.admit({ peerId: "p000", score: 0, direction: "inbound" }, connected), {
    accept: true,
  });
  // Duplicate entries of one peer do not use two slots.
  const dup = [connected[0], connected[0]];
  deepEqual(slots.admit({ peerId: "z", score: 0, direction: "inbound" }, dup), { accept: true });
});

Deno.test("`PeerSlots.prunePlan()` drops the lowest 10% and asks for 5% new, within the reserve", () => {
  const slots = new PeerSlots();
  const plan = slots.prunePlan(peers(50));
  deepEqual(plan.drop, ["p000", "p001", "p002", "p003", "p004"]);
  ok([...plan.reasons.values()].every((r) => r === "low-rank"));
  equal(plan.fill, 2, "45 left: a third dial would eat the inbound reserve");
  const roomy = slots.prunePlan(peers(40));
  deepEqual(roomy.drop, ["p000", "p001", "p002", "p003", "p004"]);
  equal(roomy.fill, 3);
});

Deno.test("`PeerSlots.prunePlan()` never goes below minPeers because of reputation", () => {
  const slots = new PeerSlots();
  const bad = (i: number) => -900 + i;
  deepEqual(slots.prunePlan(peers(27, { score: bad })).drop, ["p000", "p001"]);
  const atFloor = slots.prunePlan(peers(25, { score: bad }));
  deepEqual(atFloor.drop, []);
  equal(atFloor.fill, 3);
  const below = slots.prunePlan(peers(10));
  deepEqual(below.drop, []);
  equal(below.fill, 15, "fill reaches the floor when far below it");
});

Deno.test("`PeerSlots.prunePlan()` always drops MUST violators, even below the floor", () => {
  const slots = new PeerSlots();
  const connected = peers(20);
  connected[7] = { ...connected[7], score: 500, mustViolation: true };
  connected[12] = { ...connected[12], mustViolation: true };
  const plan = slots.prunePlan(connected);
  deepEqual(plan.drop, ["p007", "p012"]);
  equal(plan.reasons.get("p007"), "must-violation");
  equal(plan.fill, 7); // back up to the floor: 25 - 18
});

Deno.test("`PeerSlots.prunePlan()` trims peers over capacity, then rotates, then fills", () => {
  const slots = new PeerSlots();
  const plan = slots.prunePlan(peers(53));
  deepEqual(plan.drop.slice(0, 3), ["p000", "p001", "p002"]);
  deepEqual(plan.drop.map((id) => plan.reasons.get(id)), [
    ...Array(3).fill("over-capacity"),
    ...Array(5).fill("low-rank"),
  ]);
  equal(plan.drop.length, 8);
  equal(plan.fill, 2, "45 left: fill is capped at the 47 outbound slots");
});

Deno.test("`PeerSlots.prunePlan()` counts a peer with two connections once", () => {
  const slots = new PeerSlots({ maxPeers: 4, minPeers: 3 });
  const connected = peers(4);
  const plan = slots.prunePlan([...connected, connected[0]]);
  deepEqual(plan.drop, ["p000"]);
});

Deno.test("`PeerSlots` rejects nonsensical options", () => {
  throws(() => new PeerSlots({ maxPeers: 0 }), RangeError);
  throws(() => new PeerSlots({ maxPeers: 10, minPeers: 11 }), RangeError);
  throws(() => new PeerSlots({ minPeers: 2.5 }), RangeError);
  throws(() => new PeerSlots({ inboundReserve: 1 }), RangeError);
  throws(() => new PeerSlots({ pruneShare: -0.1 }), RangeError);
  // A tiny table still leaves one outbound slot.
  equal(new PeerSlots({ maxPeers: 1, minPeers: 1 }).outboundLimit, 1);
});
