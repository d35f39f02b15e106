/**
 * Chain sync between real daemons on 127.0.0.1: a fresh node catches up with a 10,000-tipset
 * chain from one peer and from three, a node that was offline catches up through hello, a
 * heavier fork replaces the head, a peer serving an invalid block is penalised while the sync
 * completes from an honest one, and SIGKILL at random moments during a long sync never leaves a
 * head whose ancestry is missing.
 *
 * Serving chains are grown with `fixtures/make_chain.ts` (deterministic devnet blocks) in a root
 * before its daemon starts; copies of that root's store give several peers the same chain.
 */
import { equal, ok } from "node:assert/strict";
import { copyStore, grow, head, key, waitForHead } from "./chain_harness.ts";
import { filnode } from "./harness.ts";
import { Devnet, type DevnetNode, poll, reputationOf } from "./network_harness.ts";

const STRESS = Deno.env.get("FILNODE_STRESS") === "1";
/** The long chain the issue asks for. */
const LONG = 10_000;
/** SIGKILLs that must land during one long sync (the issue asks for at least 20). */
const KILLS = STRESS ? 60 : 20;
/**
 * The chain the kill test syncs: long enough that every kill lands before the sync ends (a
 * 10,000-tipset sync takes ~10 s now, so half the kills used to hit a finished node).
 */
const KILL_CHAIN = STRESS ? 60_000 : 20_000;

Deno.test("chain sync between daemons: 10,000 tipsets, three peers, catch-up, fork, bad peer", async (t) => {
  const net = await Devnet.create();
  try {
    // The serving node, with the long chain grown before it starts.
    const source = await net.addNode({ start: false });
    await grow(source, LONG);
    const twins = [await net.addNode({ start: false }), await net.addNode({ start: false })];
    for (const twin of twins) await copyStore(source, twin);
    await source.start();
    const target = await head(source);
    equal(target.Height, LONG);

    await t.step("a fresh node syncs 10,000 tipsets from one peer", async () => {
      const started = Date.now();
      const fresh = await net.addNode({ bootstrappers: [source.addr] });
      await waitForHead(fresh, target, 240_000);
      console.log(`synced ${LONG} tipsets from one peer in ${Date.now() - started} ms`);
      // The operator's view of it: `sync wait` returns, `sync status --json` says in sync.
      const wait = await filnode(fresh.root, ["sync", "wait"]);
      equal(wait.code, 0, wait.stderr);
      ok(wait.stdout.includes(`at height ${LONG}`), wait.stdout);
      const status = await filnode(fresh.root, ["--json", "sync", "status"]);
      equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout);
      equal(parsed.Stage, "in-sync");
      equal(parsed.HeadHeight, LONG);
      const state = await fresh.call<{ ActiveSyncs: { Stage: number; Height: number }[] }>(
        "Filecoin.SyncState",
      );
      equal(state.ActiveSyncs[0].Stage, 4, "Lotus's StageSyncComplete");
    });

    await t.step("a fresh node syncs the same chain from three peers", async () => {
      for (const twin of twins) await twin.start();
      const started = Date.now();
      const fresh = await net.addNode({
        bootstrappers: [source.addr, ...twins.map((n) => n.addr)],
      });
      await waitForHead(fresh, target, 240_000);
      console.log(`synced ${LONG} tipsets from three peers in ${Date.now() - started} ms`);
    });

    let follower: DevnetNode;
    await t.step("a node that was offline catches up through hello", async () => {
      follower = await net.addNode({ bootstrappers: [source.addr] });
      await waitForHead(follower, target, 240_000);
      await follower.stop();
      await source.stop();
      await grow(source, 200);
      await source.start();
      const later = await head(source);
      equal(later.Height, LONG + 200);
      await follower.start();
      await waitForHead(follower, later, 60_000);
    });

    await t.step("a heavier fork replaces the head", async () => {
      // Two blocks per tipset outweigh the main chain's one, from the same base.
      const forker = await net.addNode({ start: false });
      // A live store is not copied: stop, copy, restart (the source's port changes).
      await source.stop();
      await copyStore(source, forker);
      await source.start();
      await grow(forker, 100, ["--blocks", "2", "--salt", "fork"]);
      await forker.start();
      const forkHead = await head(forker);
      await follower.call("Filecoin.NetConnect", [{
        ID: forker.peerId,
        Addrs: [forker.addr.split("/p2p/")[0]],
      }]);
      await waitForHead(follower, forkHead, 60_000);
      await forker.stop();
    });

    await t.step(
      "a peer serving an invalid block is penalised; sync completes from an honest one",
      async () => {
        const liar = await net.addNode({ start: false });
        await source.stop();
        await copyStore(source, liar);
        await source.start();
        // Far heavier than the honest chain (3 blocks per tipset), with a forged block first.
        await grow(liar, 200, ["--blocks", "3", "--salt", "liar", "--corrupt-first"]);
        await liar.start();
        const honest = await head(source);
        const fresh = await net.addNode({ bootstrappers: [liar.addr, source.addr] });
        await waitForHead(fresh, honest, 240_000);
        // The liar's heavier target is tried too (before or after the honest one): its forged
        // block costs it an invalid-message penalty, which the honest prefix it served does not
        // outweigh (answers are rewarded at most once a minute per peer).
        await poll(() =>
          Promise.resolve(
            fresh.process.text("stderr").some((l) =>
              l.startsWith(`sync: peer ${liar.peerId} served an invalid block`)
            ) || undefined,
          ), {
          timeoutMs: 60_000,
          describe: () => `liar never blamed; log:\n${fresh.process.text("stderr").join("\n")}`,
        });
        equal(key(await head(fresh)), key(honest), "the head stayed on the honest chain");
        const score = await reputationOf(fresh, liar.peerId);
        ok(score !== undefined && score < 0, `the liar's reputation is ${score}`);
        ok(
          fresh.process.text("stderr").some((l) => l.includes("invalid block")),
          "the bad block is logged",
        );
      },
    );
  } finally {
    await net.stop();
  }
});

Deno.test(`SIGKILL at random moments during a long sync (${KILLS} kills mid-sync): the node resumes, fsck is clean`, async () => {
  const net = await Devnet.create();
  try {
    const source = await net.addNode({ start: false });
    await grow(source, KILL_CHAIN);
    await source.start();
    const target = await head(source);
    const victim = await net.addNode({ bootstrappers: [source.addr] });
    const heights: number[] = [];
    let highest = 0;
    // Kill until KILLS kills have landed mid-sync (head below the target), at most twice that.
    let midSync = 0;
    for (let i = 0; midSync < KILLS && i < 2 * KILLS; i++) {
      if (i % 2 === 0) {
        // A random moment: mostly the walk back (headers only) or a restart's hello.
        // (A restart costs a Deno start and a hello, ~1-2 s, before syncing resumes.)
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 1_500));
      } else {
        // Wait for the head to pass the highest height seen so far, then kill within 0.5 s:
        // these land in forward validation however fast the machine syncs (a fixed delay
        // killed only during the walk back on a slower CI machine).
        await poll(async () => {
          const h = await head(victim);
          return h.Height > highest || h.Height >= target.Height ? true : undefined;
        }, { timeoutMs: 240_000, describe: () => `head never passed ${highest}` });
        await new Promise((r) => setTimeout(r, Math.random() * 500));
      }
      const h = await head(victim).catch(() => undefined);
      await victim.stop("SIGKILL");
      if (h) {
        heights.push(h.Height);
        highest = Math.max(highest, h.Height);
        if (h.Height < target.Height) midSync++;
      }
      const fsck = await filnode(victim.root, ["repo", "fsck"]);
      equal(fsck.code, 0, `fsck after kill ${i + 1}: ${fsck.stdout}${fsck.stderr}`);
      await victim.start();
    }
    await waitForHead(victim, target, 240_000);
    await victim.stop();
    const deep = await filnode(victim.root, ["repo", "fsck", "--deep"]);
    equal(deep.code, 0, `deep fsck: ${deep.stdout}${deep.stderr}`);
    ok(midSync >= KILLS, `${midSync} of ${heights.length} kills mid-sync (${heights.join(" ")})`);
    ok(
      heights.filter((h) => h > 0 && h < target.Height).length >= KILLS / 4,
      `a quarter of the kills or more in forward validation (heights ${heights.join(" ")})`,
    );
    console.log(`kills at heights ${heights.join(" ")}`);
  } finally {
    await net.stop();
  }
});
