/**
 * `filnode repo fsck`: the whole root's integrity check, as the spec asks of a node after a crash.
 *
 * Two kinds of finding are told apart:
 * - leftovers of interrupted writes (orphan chunks, partial temp files): invisible to readers, and
 *   removed by `--repair` or at the next daemon start;
 * - damage (unreadable blocks, blocks whose bytes do not match their CID, corrupt key files): data a
 *   reader would trip over. A root is clean when it has no damage.
 */
import type { AbortOptions } from "../abort.ts";
import { DiskFileStore } from "../filestore/disk_file_store.ts";
import { loadConfig } from "../repo/config.ts";
import { fsckIpldStore, type FsckReport } from "../repo/ipld_store_fsck.ts";
import { KeyStore } from "../repo/keystore.ts";
import { KvIpldStore } from "../repo/kv_ipld_store.ts";
import { checkGenesisPointer } from "../chain/genesis.ts";
import { fsckChain } from "../chain/chain_fsck.ts";
import { repoLayout } from "../repo/layout.ts";
import { assertRepo } from "../repo/repo.ts";
import { RepoLock } from "../repo/repo_lock.ts";
import { openStoreKv } from "../repo/store_kv.ts";

export interface RepoFsckOptions extends AbortOptions {
  /** Remove leftovers and unreadable records. Takes the root's lock: no daemon may run. */
  repair?: boolean;
  /** Also rehash every block (reads the whole store). */
  deep?: boolean;
}

export interface RepoFsckReport {
  readonly store: FsckReport;
  /**
   * Which blocks `store.blocks` counts: "chunked" for the plain check (it proves chunked blocks'
   * records whole without reading block bytes, and reads no inline block at all), "all" for
   * `--deep` (every block read and rehashed).
   */
  readonly blocksChecked: "chunked" | "all";
  /** Partial FileStore writes found (and removed when repairing). */
  readonly partialFiles: number;
  readonly keys: number;
  /** Key files that do not parse, with the reason. */
  readonly corruptKeys: string[];
  /** Pointers (genesis, chain head and its ancestry) that name something not stored. */
  readonly pointerProblems: string[];
  readonly configWarnings: string[];
  /** No damage: every stored record reads back as written. */
  readonly clean: boolean;
  /** Leftovers of interrupted writes (not damage). */
  readonly leftovers: number;
}

export async function fsckRepo(
  root: string,
  options: RepoFsckOptions = {},
): Promise<RepoFsckReport> {
  const { signal, repair = false, deep = false } = options;
  await assertRepo(root);
  const layout = repoLayout(root);
  const lock = repair ? await RepoLock.acquire(layout.lock, root) : undefined;
  try {
    const { config, warnings } = await loadConfig(layout.config, { signal });
    const kv = await openStoreKv(root, config);
    let store: FsckReport;
    const pointerProblems: string[] = [];
    try {
      store = await fsckIpldStore(kv, { repair, deep, signal });
      // Mutable pointers must never be ahead of what was stored.
      const ipld = new KvIpldStore(kv, { maxBlockSize: config.Store.MaxBlockSize });
      const genesis = await checkGenesisPointer(kv, ipld, { repair });
      if (genesis) pointerProblems.push(genesis);
      // The head must name a stored, accepted tipset (deep: its whole ancestry to genesis).
      const chain = await fsckChain(kv, ipld, { deep, repair, signal });
      pointerProblems.push(...chain.problems);
    } finally {
      kv.close();
    }
    const files = await DiskFileStore.open(layout.files, { signal });
    const partialFiles = repair
      ? await files.cleanTemp({ signal })
      : await files.countTemp({ signal });

    const keystore = await KeyStore.open(layout.keystore, {
      network: config.Keystore.AddressPrefix,
      // Listing reads public parts only; no passphrase is needed to check structure.
      inspectOnly: true,
      signal,
    });
    const corruptKeys: string[] = [];
    const keys = await keystore.list({ onCorrupt: (err) => corruptKeys.push(err.message), signal });

    return {
      store,
      blocksChecked: deep ? "all" : "chunked",
      partialFiles,
      keys: keys.length,
      corruptKeys,
      pointerProblems,
      configWarnings: warnings,
      clean: store.brokenBlocks.length === 0 && store.hashMismatches.length === 0 &&
        corruptKeys.length === 0 && pointerProblems.length === 0,
      leftovers: store.orphanChunks + partialFiles,
    };
  } finally {
    lock?.release();
  }
}
