/**
 * The chain store as the syncer calls it: every failure comes out as a SyncStoreError (a
 * DiskFullError when the disk is full), so a local failure is never taken for a peer's fault
 * and the syncer knows to retry rather than drop the target.
 *
 * @module
 */
import type { SyncChainStore } from "./sync_deps.ts";
import { asStoreError } from "./sync_errors.ts";

/** `store` with its failures typed; `path` (the KV path) goes into DiskFullError's message. */
export function guardStore(store: SyncChainStore, path: string | undefined): SyncChainStore {
  const guard = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw asStoreError(err, path, what);
    }
  };
  return {
    get heaviest() {
      return store.heaviest;
    },
    get weight() {
      return store.weight;
    },
    getTipSet: (cids, options) => guard("read tipset", () => store.getTipSet(cids, options)),
    acceptedWeight: (key, options) =>
      guard("read accepted weight", () => store.acceptedWeight(key, options)),
    putTipSets: (entries, options) =>
      guard("store tipsets", () => store.putTipSets(entries, options)),
    setHead: (tipset, weight, options) =>
      guard("move head", () => store.setHead(tipset, weight, options)),
  };
}
