/**
 * Crash safety with real processes: a writer doing heavy IpldStore and FileStore writes is SIGKILLed
 * at random moments. After each kill, `repo fsck` must find no damage, every write acknowledged
 * before the kill must read back intact, and no partial file may be visible.
 *
 * 50 trials here; `deno task stress` runs 300 (FILNODE_STRESS=1).
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { filnode, FilnodeProcess, PROJECT_DIR, startTaskFlags } from "./harness.ts";

const STRESS = Deno.env.get("FILNODE_STRESS") === "1";
const TRIALS = Number(Deno.env.get("FILNODE_CRASH_TRIALS") ?? (STRESS ? 300 : 50));
/** Kill moments are drawn uniformly from this window after the writer reports ready. */
const MAX_KILL_DELAY_MS = 1500;
/** Earlier blocks re-read per trial, to catch a crash that damages older data. */
const EARLIER_SAMPLE = 200;

const WRITER = join(PROJECT_DIR, "tests/e2e/fixtures/crash_writer.ts");
const VERIFIER = join(PROJECT_DIR, "tests/e2e/fixtures/crash_verify.ts");

function sample<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, () => items[Math.floor(Math.random() * items.length)]);
}

Deno.test(`SIGKILL at random moments during heavy writes loses no acknowledged write (${TRIALS} trials)`, async () => {
  const base = await Deno.makeTempDir({ prefix: "filnode-crash-" });
  try {
    const root = join(base, "root");
    const init = await filnode(root, ["init", "--devnet"]);
    equal(init.code, 0, init.stderr);
    const flags = await startTaskFlags(root);

    const earlierBlocks: string[] = [];
    const knownFiles: string[] = [];
    let repairedTotal = 0;
    let unackedFiles = 0;
    /** Where each kill landed: the last write begun and not acknowledged. */
    const landed: Record<string, number> = {};
    for (let trial = 0; trial < TRIALS; trial++) {
      const writer = FilnodeProcess.spawn([root, String(trial)], { flags, script: WRITER });
      await writer.waitForLine((l) => l === "ready");
      await new Promise((r) => setTimeout(r, Math.random() * MAX_KILL_DELAY_MS));
      writer.kill("SIGKILL");
      const end = await writer.finished();
      ok(
        end.signal === "SIGKILL" || end.code === 0,
        `writer failed before the kill:\n${end.stderr}`,
      );

      const lastBegin = writer.lines.findLastIndex((l) => l.startsWith("begin "));
      const lastAck = writer.lines.findLastIndex((l) => l.startsWith("ack "));
      const where = lastBegin > lastAck ? writer.lines[lastBegin].slice(6) : "between writes";
      landed[where] = (landed[where] ?? 0) + 1;
      const blocks = writer.lines.filter((l) => l.startsWith("ack block")).flatMap((l) =>
        l.split(" ").slice(2)
      );
      const files = writer.lines.filter((l) => l.startsWith("ack file ")).map((l) => l.slice(9));

      const fsck = await filnode(root, ["--json", "repo", "fsck"]);
      equal(fsck.code, 0, `trial ${trial}: fsck after kill:\n${fsck.stdout}\n${fsck.stderr}`);
      equal(JSON.parse(fsck.stdout).clean, true, `trial ${trial}: ${fsck.stdout}`);

      const input = JSON.stringify({
        blocks: [...blocks, ...sample(earlierBlocks, EARLIER_SAMPLE)],
        files,
        known: knownFiles,
      });
      const verify = await filnode(root, [], {
        flags: [...flags],
        script: VERIFIER,
        args: [root],
        stdin: new TextEncoder().encode(input),
      });
      equal(verify.code, 0, `trial ${trial}: verifier failed:\n${verify.stderr}`);
      const result = JSON.parse(verify.stdout);
      deepStrictEqual(result.problems, [], `trial ${trial}`);
      repairedTotal += result.repaired;
      unackedFiles += result.files - knownFiles.length - files.length;

      earlierBlocks.push(...blocks);
      knownFiles.push(...files);
    }

    // After the verifier's start-up repair, nothing is left over at all.
    const final = await filnode(root, ["--json", "repo", "fsck", "--deep"]);
    equal(final.code, 0, final.stderr);
    const report = JSON.parse(final.stdout);
    equal(report.clean, true);
    equal(report.leftovers, 0);
    console.log(
      `${TRIALS} kills: ${earlierBlocks.length} acknowledged blocks and ${knownFiles.length} files intact; ` +
        `${repairedTotal} leftover records of interrupted writes repaired; ` +
        `${unackedFiles} whole files renamed but not yet acknowledged; kills landed: ${
          JSON.stringify(landed)
        }`,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
