/**
 * Broken chain exchange answers between real processes on 127.0.0.1: a fresh daemon syncs from a
 * peer (`fixtures/bad_exchange_peer.ts`) that announces the honest head with a heavier weight and
 * answers its first request honestly (relayed from the honest node), then every other one with a
 * broken answer (garbage, a truncated answer, a well-formed answer of the wrong tipsets, a byte
 * string claiming 1 TiB). Each broken answer is logged, costs the peer an `invalid-message`
 * penalty (-100, `src/chain/sync/chain_sync.ts`), and its batch goes to the honest node: the
 * same sync completes, and the daemon keeps running. Last, malformed requests sent to the daemon
 * are refused (penalised, logged) while it still serves valid ones.
 *
 * `stall` (a request never answered, a `timeout` penalty of -10) runs on a daemon whose
 * `Chain.ExchangeTimeout` is {@link STALL_TIMEOUT_MS}, so a stalled request costs seconds, not the
 * default minute.
 */
import { equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { grow, type Head, head, key, waitForHead } from "./chain_harness.ts";
import { LineProcess } from "./harness.ts";
import { Devnet, type DevnetNode, poll, reputationOf } from "./network_harness.ts";

/** A modest chain: 4 walk-back batches of 500, about a second of sync. */
const LENGTH = 2_000;
/** Extra weight the bad peer claims over the honest head. */
const CLAIMED_EXTRA_WEIGHT = 1_000_000n;
/** The fixture's own bound past the sync's and the greetings' (the test stops it sooner). */
const FIXTURE_SLACK_SECONDS = 30;
const FIXTURE = fileURLToPath(new URL("./fixtures/bad_exchange_peer.ts", import.meta.url));
/** Loopback only, nothing else. */
const FIXTURE_FLAGS = ["--allow-net=127.0.0.1"];
/**
 * A stalled request is given up after this (the daemon's `Chain.ExchangeTimeout`). It bounds the
 * honest node's answers too: a 500-header answer from a daemon on a loaded 2-core machine can
 * take seconds, and one honest answer past this fails the sync, so not tighter than this.
 */
const STALL_TIMEOUT_MS = 10_000;
/** Bound for connecting and greeting on a loaded machine (polls end as soon as it holds). */
const GREET_MS = 60_000;
/** The `invalid-message` penalty, as REPUTATION_EVENTS sets it. */
const INVALID_MESSAGE = -100;
/** The `timeout` penalty. */
const TIMEOUT = -10;
/** The `useful-answer` reward the honestly answered first request may earn. */
const USEFUL_ANSWER = 5;

/** A fixture mode, how the client classes its answers, and what each costs the peer. */
interface Case {
  mode: string;
  kind: "invalid" | "timeout";
  penalty: number;
  /** Requests answered honestly first (the first is held until the honest node is greeted). */
  honest: number;
  /** Time for the whole sync. */
  syncMs: number;
  /** The fresh daemon's `Chain.ExchangeTimeout`, if not the default. */
  exchangeTimeoutMs?: number;
}
const CASES: Case[] = [
  ...["garbage", "truncated", "wrong-chain", "huge-length"].map((mode) => ({
    mode,
    kind: "invalid" as const,
    penalty: INVALID_MESSAGE,
    honest: 1,
    syncMs: 120_000,
  })),
  {
    mode: "stall",
    kind: "timeout",
    penalty: TIMEOUT,
    honest: 3,
    syncMs: 120_000,
    exchangeTimeoutMs: STALL_TIMEOUT_MS,
  },
];

/** The fixture's JSON report lines. */
function reports(proc: LineProcess): Record<string, unknown>[] {
  const out = [];
  for (const text of proc.text("stdout")) {
    try {
      out.push(JSON.parse(text));
    } catch {
      // Not a report line.
    }
  }
  return out;
}

function dump(proc: LineProcess): string {
  return proc.lines.map((l) => `${l.stream === "stderr" ? "E" : "O"}| ${l.text}`).join("\n");
}

/** Waits for the fixture's first report that `match` accepts. */
async function waitForReport(
  proc: LineProcess,
  match: (r: Record<string, unknown>) => boolean,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  return await poll(() => {
    if (proc.exited) throw new Error(`fixture ended: ${dump(proc)}`);
    return Promise.resolve(reports(proc).find(match));
  }, { timeoutMs, intervalMs: 100, describe: () => `fixture output:\n${dump(proc)}` });
}

/** Stops the fixture (SIGTERM) and checks that it ended cleanly. */
async function stopFixture(proc: LineProcess): Promise<void> {
  const status = await proc.stop("SIGTERM");
  equal(status.code, 0, `fixture exit ${JSON.stringify(status)}:\n${dump(proc)}`);
  ok(reports(proc).some((r) => r.done === true), `no done report:\n${dump(proc)}`);
  equal(proc.text("stderr").length, 0, `the fixture wrote to stderr:\n${dump(proc)}`);
  ok(!reports(proc).some((r) => "error" in r), `the fixture met an error:\n${dump(proc)}`);
}

Deno.test("chain exchange: broken answers are penalised, the sync completes from an honest peer", async (t) => {
  const net = await Devnet.create();
  const fixtures: LineProcess[] = [];
  try {
    const honest = await net.addNode({ start: false });
    const grown = await grow(honest, LENGTH); // "head <height> <weight> <cids>"
    const weight = BigInt(grown.split(" ")[2]);
    await honest.start();
    const target: Head = await head(honest);
    equal(target.Height, LENGTH);
    const genesis = (await honest.call<Head>("Filecoin.ChainGetGenesis")).Cids[0]["/"];
    const honestAddr = honest.addr.split("/p2p/")[0];
    let last: DevnetNode | undefined;

    for (const { mode, kind, penalty, honest: honestAnswers, syncMs, exchangeTimeoutMs } of CASES) {
      await t.step(`${mode}: penalised, the sync completes from the honest node`, async () => {
        const started = Date.now();
        // A fresh node that knows no one: the bad peer is the first peer it greets.
        const fresh = await net.addNode(
          exchangeTimeoutMs ? { config: { "Chain.ExchangeTimeout": exchangeTimeoutMs } } : {},
        );
        last = fresh;
        const bad = LineProcess.spawn(FIXTURE, [
          fresh.addr,
          "--genesis",
          genesis,
          "--head",
          target.Cids.map((c) => c["/"]).join(","),
          "--height",
          String(target.Height),
          "--weight",
          String(weight + CLAIMED_EXTRA_WEIGHT),
          "--mode",
          mode,
          "--upstream",
          honest.addr,
          "--honest",
          String(honestAnswers),
          "--hold",
          "--seconds",
          String(Math.ceil((syncMs + 3 * GREET_MS) / 1000) + FIXTURE_SLACK_SECONDS),
        ], { flags: FIXTURE_FLAGS });
        fixtures.push(bad);
        try {
          const badId = (await waitForReport(bad, (r) => typeof r.peerId === "string", GREET_MS))
            .peerId as string;
          // The fresh node syncs towards the bad peer's claim and asks it first; the fixture
          // holds that answer until the honest node is greeted too, so that from the second
          // batch on both are candidates and every broken answer has somewhere to fall back.
          await waitForReport(bad, (r) => r.request === 1 && r.received === true, GREET_MS);
          await fresh.call("Filecoin.NetConnect", [{ ID: honest.peerId, Addrs: [honestAddr] }]);
          // Greeted both ways. hello-ok (+1) is recorded on a node when the other's hello
          // arrives: the fresh node may then ask the honest one, and the honest one serves the
          // fresh one (its chain exchange refuses peers whose hello it has not had yet). Hellos
          // cross independently: on a loaded machine the honest node may read the fresh one's
          // hello well after the fresh node read its own, and a batch sent to it in between was
          // reset, failing the whole sync ("every peer failed") before the honest target took
          // over. So wait on both sides before the bad peer answers anything.
          await poll(
            async () =>
              (((await reputationOf(fresh, honest.peerId)) ?? 0) > 0.5 &&
                ((await reputationOf(honest, fresh.peerId)) ?? 0) > 0.5) || undefined,
            {
              timeoutMs: GREET_MS,
              describe: () =>
                `the fresh and honest nodes never greeted each other:\nfresh:\n` +
                `${fresh.process.text("stderr").join("\n")}\nhonest (tail):\n` +
                honest.process.text("stderr").slice(-20).join("\n"),
            },
          );
          const before = await reputationOf(fresh, badId);
          ok(before !== undefined && before > 0, `the bad peer starts greeted, at ${before}`);
          bad.kill("SIGUSR2");

          // The sync's closing line (or a failed attempt's) is written after its head moved and
          // after the line of every broken answer, on the same stream: wait on it, not on the
          // head (the API can show the head before the test has read those lines).
          await fresh.process.waitForLine(
            "stderr",
            (l) => l.startsWith(`sync: reached height ${LENGTH}`) || l.startsWith("sync to height"),
            syncMs,
          );
          await waitForHead(fresh, target, syncMs);
          const log = fresh.process.text("stderr");
          ok(fresh.running, "the fresh daemon is still running");
          equal(key(await head(fresh)), key(target), "the head is the honest one");
          // Stopped first, so that its report of every answer it sent has been read.
          await stopFixture(bad);

          // The bad peer was asked, more than once, and answered broken after its honest answers.
          const broken = reports(bad).filter((r) => r.answer === mode);
          equal(
            reports(bad).filter((r) => r.answer === "honest").length,
            honestAnswers,
            `the first answers were relayed honestly:\n${dump(bad)}`,
          );
          ok(broken.length >= 1, `the bad peer answered no request broken:\n${dump(bad)}`);
          // Every broken answer was seen as such and logged.
          const unusable = log.filter((l) =>
            l.startsWith(`chain exchange: answer from ${badId} unusable (${kind})`)
          );
          equal(
            unusable.length,
            broken.length,
            `one "unusable (${kind})" line per broken answer; log:\n${log.join("\n")}`,
          );
          // One sync: every broken batch fell back to the honest node, nothing failed.
          ok(
            !log.some((l) => l.startsWith("sync to height")),
            `no sync attempt failed; log:\n${log.join("\n")}`,
          );
          ok(
            log.some((l) => l.startsWith(`sync: reached height ${LENGTH}`)),
            `the sync completed; log:\n${log.join("\n")}`,
          );
          // Penalised: -100 (invalid-message) or -10 (timeout) per broken answer, against at
          // most one reward for the honest answers (one a minute; decay over these seconds is
          // a few percent at most).
          const after = await reputationOf(fresh, badId);
          ok(
            after !== undefined &&
              after < before &&
              after <= before + USEFUL_ANSWER + 0.9 * penalty * broken.length,
            `the bad peer's reputation went from ${before} to ${after} after ${broken.length} ` +
              "broken answers",
          );
          // The honest node was not blamed for anything.
          const honestScore = await reputationOf(fresh, honest.peerId);
          ok(honestScore !== undefined && honestScore > 0, `honest node at ${honestScore}`);
          console.log(
            `${mode}: ${broken.length} broken answers, reputation ${before} -> ${after}, ` +
              `${Date.now() - started} ms`,
          );
        } finally {
          if (bad.exited === undefined) await bad.stop("SIGKILL").catch(() => {});
          // Each mode gets its own fresh node; stop this one unless the last step reuses it.
          if (mode !== CASES[CASES.length - 1].mode) await fresh.stop();
        }
      });
    }

    await t.step(
      "malformed requests are refused without a crash; valid ones still served",
      async () => {
        const node = last;
        ok(node?.running, "the last fresh node is running");
        const sender = LineProcess.spawn(FIXTURE, [
          node.addr,
          "--genesis",
          genesis,
          "--head",
          target.Cids.map((c) => c["/"]).join(","),
          "--bad-requests",
          "--seconds",
          "30",
        ], { flags: FIXTURE_FLAGS });
        fixtures.push(sender);
        try {
          const status = await sender.finished();
          equal(status.code, 0, dump(sender));
          const rs = reports(sender);
          const senderId = rs.find((r) => typeof r.peerId === "string")?.peerId as string;
          const outcome = (kind: string) => rs.find((r) => r.badRequest === kind);
          equal(
            outcome("valid-before")?.status,
            0,
            `a valid request is served Ok:\n${dump(sender)}`,
          );
          equal(outcome("valid-before")?.tipsets, 1);
          for (const kind of ["garbage", "truncated", "huge-length", "wrong-shape"]) {
            equal(outcome(kind)?.outcome, "reset", `${kind} is refused:\n${dump(sender)}`);
          }
          equal(outcome("length-zero")?.status, 204, "a zero length is answered BadRequest");
          equal(outcome("valid-after")?.status, 0, `still served after:\n${dump(sender)}`);
          ok(node.running, "the daemon is still running");
          const log = node.process.text("stderr");
          const refused = log.filter((l) =>
            l.startsWith(`chain exchange: peer ${senderId} malformed`)
          );
          equal(
            refused.length,
            4,
            `one "malformed" line per malformed request; log:\n${log.join("\n")}`,
          );
          const score = await reputationOf(node, senderId);
          // hello-ok (+1), then -100 (malformed-message) per malformed request.
          ok(score !== undefined && score <= 1 + 4 * 0.9 * INVALID_MESSAGE, `sender at ${score}`);
        } finally {
          if (sender.exited === undefined) await sender.stop("SIGKILL").catch(() => {});
        }
      },
    );
  } finally {
    await Promise.allSettled(fixtures.map((f) => f.stop("SIGKILL")));
    await net.stop();
  }
});
