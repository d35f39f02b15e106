/**
 * fsck's chain checks: the head record names a stored tipset that was accepted and is indexed
 * at its height, and (deep mode) every ancestor down to genesis is stored and linked. Each
 * finding is one line for `repo fsck`.
 *
 * Repair is blunt on purpose: a head whose ancestry is damaged cannot be trusted, and the
 * chain can be synced again, so `--repair` removes the head record, the height index and the
 * accepted markers. The next start opens the chain at genesis; the stored blocks stay, so a later
 * `setHead()` re-accepts whatever is still complete.
 *
 * @module
 */
import type { AbortOptions } from "../abort.ts";
import type { IpldStore } from "../ipld/ipld_store.ts";
import { readGenesisPointer } from "./genesis.ts";
import { deserializeBlockHeader, TipSet, TipSetKey } from "./types/mod.ts";

export interface ChainFsckOptions extends AbortOptions {
  /** Walk the whole head chain to genesis, loading every header. */
  deep?: boolean;
  /** Remove the chain's mutable records when damage is found. */
  repair?: boolean;
}

export interface ChainFsckReport {
  /** Damage found, one line each. */
  readonly problems: string[];
  /** Tipsets walked (1 in cheap mode). */
  readonly tipsets: number;
}

const MAX_DELETES_PER_COMMIT = 500;

/** Check the chain's KV records against the stored blocks. */
export async function fsckChain(
  kv: Deno.Kv,
  ipld: IpldStore,
  options: ChainFsckOptions = {},
): Promise<ChainFsckReport> {
  const problems: string[] = [];
  let tipsets = 0;
  const entry = await kv.get<{ key: Uint8Array; height: number; weight: bigint }>([
    "chain",
    "head",
  ]);
  if (entry.value !== null) {
    let genesis;
    try {
      genesis = await readGenesisPointer(kv);
    } catch {
      genesis = undefined; // the genesis check reports it
    }
    const load = async (key: TipSetKey): Promise<TipSet | string> => {
      const headers = [];
      for (const cid of key.cids) {
        if (!await ipld.has(cid, options)) return `block ${cid} of tipset ${key} is missing`;
        try {
          headers.push(deserializeBlockHeader(await ipld.get(cid, options), { maxBytes: 1 << 24 }));
        } catch (err) {
          return `block ${cid} is not a block header (${(err as Error).message})`;
        }
      }
      try {
        return TipSet.fromBlocks(headers);
      } catch (err) {
        return `tipset ${key} does not form a tipset (${(err as Error).message})`;
      }
    };
    let key: TipSetKey | undefined;
    try {
      key = entry.value.key instanceof Uint8Array
        ? TipSetKey.fromBytes(entry.value.key)
        : undefined;
    } catch {
      key = undefined;
    }
    if (!key || key.isEmpty) problems.push("chain head record is damaged");
    else {
      const head = await load(key);
      tipsets++;
      if (typeof head === "string") problems.push(`chain head: ${head}`);
      else {
        if ((await kv.get(["chain", "accepted", key.cid().bytes])).value === null) {
          problems.push(`chain head ${key} has no accepted marker`);
        }
        const indexed = (await kv.get<Uint8Array>(["chain", "height", head.height])).value;
        const reindexing = (await kv.get(["chain", "reindex"])).value !== null;
        if (
          !reindexing &&
          !(indexed instanceof Uint8Array && TipSetKey.fromBytes(indexed).equals(key))
        ) {
          problems.push(`height index at ${head.height} does not name the chain head`);
        }
        if (options.deep) {
          let t: TipSet = head;
          while (t.blocks[0].parents.length > 0) {
            options.signal?.throwIfAborted();
            const parent = await load(t.parents);
            tipsets++;
            if (typeof parent === "string") {
              problems.push(`chain ancestry at height < ${t.height}: ${parent}`);
              break;
            }
            if (parent.height >= t.height) {
              problems.push(`tipset ${t.key} is not above its parent`);
              break;
            }
            t = parent;
          }
          if (problems.length === 0 && genesis && !t.cids[0].equals(genesis)) {
            problems.push(`chain head descends from ${t.cids[0]}, not genesis ${genesis}`);
          }
        }
      }
    }
  }
  if (problems.length > 0 && options.repair) await resetChainRecords(kv);
  return { problems, tipsets };
}

/** Remove head, reindex marker, height index and accepted markers, in bounded commits. */
async function resetChainRecords(kv: Deno.Kv): Promise<void> {
  const keys: Deno.KvKey[] = [];
  for (const prefix of [["chain", "accepted"], ["chain", "height"]]) {
    for await (const e of kv.list({ prefix })) keys.push(e.key);
  }
  // The head goes last: a crash midway leaves a head fsck still reports, so repair runs again.
  keys.push(["chain", "reindex"], ["chain", "head"]);
  for (let i = 0; i < keys.length; i += MAX_DELETES_PER_COMMIT) {
    const atomic = kv.atomic();
    for (const k of keys.slice(i, i + MAX_DELETES_PER_COMMIT)) atomic.delete(k);
    await atomic.commit();
  }
}
