/** `filnode repo fsck`: check (and repair) the node root's integrity. */
import { UserError } from "../errors.ts";
import { fsckRepo, type RepoFsckReport } from "./repo_fsck.ts";
import type { CommandGroup } from "./command.ts";

export class RepoDamagedError extends UserError {}

export const repoCommands: CommandGroup = {
  name: "repo",
  summary: "inspect and repair the node root",
  commands: [{
    name: "fsck",
    summary: "check the store, files and keystore; exit 1 if anything is damaged",
    help: `Options:
  --deep    also rehash every stored block (reads the whole store)
  --repair  remove leftovers of interrupted writes and unreadable records (no daemon may run)`,
    options: { deep: { type: "boolean" }, repair: { type: "boolean" } },
    async run(ctx, args) {
      const report = await fsckRepo(ctx.root, {
        deep: args.values.deep === true,
        repair: args.values.repair === true,
        signal: ctx.signal,
      });
      const repaired = args.values.repair === true;
      ctx.print(report, () =>
        [
          blocksLine(report),
          `unreadable blocks: ${report.store.brokenBlocks.length}${
            list(report.store.brokenBlocks)
          }`,
          ...(args.values.deep
            ? [
              `hash mismatches: ${report.store.hashMismatches.length}${
                list(report.store.hashMismatches)
              }`,
            ]
            : []),
          `pointers: ${report.pointerProblems.length ? report.pointerProblems.join("; ") : "ok"}`,
          `keys: ${report.keys}, corrupt key files: ${report.corruptKeys.length}${
            list(report.corruptKeys)
          }`,
          `leftovers of interrupted writes: ${report.store.orphanChunks} orphan chunk(s), ${report.partialFiles} partial file(s)` +
          (report.leftovers > 0
            ? (repaired ? " (removed)" : " (removed at next daemon start or with --repair)")
            : ""),
          ...report.configWarnings.map((w) => `config warning: ${w}`),
          report.clean
            ? "status: clean"
            : repaired
            ? "status: damage found and removed"
            : "status: DAMAGED",
        ].join("\n"));
      if (!report.clean && !repaired) {
        throw new RepoDamagedError(
          "the repo has damaged records; run `filnode repo fsck --repair` with the daemon stopped",
        );
      }
    },
  }],
};

/**
 * The plain check reads no block bytes: it proves each chunked block's chunks present and
 * unchanged, and leaves blocks stored inline (up to 64 KiB, most of a chain) to `--deep`. Saying
 * so keeps "0" on a full store from reading as "empty store".
 */
function blocksLine(report: RepoFsckReport): string {
  const { blocks, chunkedBlocks } = report.store;
  return report.blocksChecked === "all"
    ? `blocks checked: ${blocks}, each read and rehashed (${chunkedBlocks} chunked)`
    : `blocks checked: ${chunkedBlocks} chunked (records whole, not rehashed); blocks stored ` +
      `inline (up to 64 KiB) are checked only with --deep, which reads and rehashes every block`;
}

function list(items: readonly string[]): string {
  return items.length
    ? `\n  ${items.slice(0, 20).join("\n  ")}${items.length > 20 ? "\n  ..." : ""}`
    : "";
}
