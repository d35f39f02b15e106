/**
 * The sync slice of the control API: Lotus's `Filecoin.SyncState` with its JSON shape, so
 * `lotus sync status`-style clients read our progress, plus `Filnode.SyncStatus` (our own, simpler
 * shape) that `filnode sync status | wait` prints.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { Network } from "../crypto/address.ts";
import type { ChainStore } from "../chain/chain_store.ts";
import type { SyncStage as OurSyncStage, SyncStatus } from "../sync/syncer.ts";
import { type TipSetJson, tipSetToJson } from "./chain_json.ts";
import { defineMethod, type MethodTable } from "./rpc.ts";

export const SyncMethod = {
  SyncState: "Filecoin.SyncState",
  Status: "Filnode.SyncStatus",
} as const;

/** Lotus `api.SyncStateStage` values. */
export const SyncStage = {
  Idle: 0,
  Headers: 1,
  PersistHeaders: 2,
  Messages: 3,
  SyncComplete: 4,
  SyncErrored: 5,
  FetchingMessages: 6,
} as const;

/** Lotus `api.ActiveSync`. */
export interface ActiveSyncJson {
  WorkerID: number;
  Base: TipSetJson | null;
  Target: TipSetJson | null;
  Stage: number;
  Height: number;
  Start: string;
  End: string;
  Message: string;
}

/** Lotus `api.SyncState`. */
export interface SyncStateJson {
  ActiveSyncs: ActiveSyncJson[];
  VMApplied: number;
}

/** `Filnode.SyncStatus`: what `filnode sync status` prints. */
export interface SyncStatusJson {
  /** `failed`: a heavier chain is known, the last attempt failed, a retry is scheduled. */
  Stage: OurSyncStage;
  Phase: string | null;
  HeadHeight: number;
  TargetHeight: number | null;
  Height: number;
  Message: string | null;
  /** With Stage `failed`: why (a full disk names the store's path), else null. */
  Error: string | null;
  /** With Stage `failed`: when the syncer tries again (ISO 8601), else null. */
  RetryAt: string | null;
}

/** Go's zero time, as Lotus prints an unset Start/End. */
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

export interface SyncApiMethodsOptions {
  /** The head (for its height) and tipsets by key (for Lotus's Base and Target). */
  chain: Pick<ChainStore, "heaviest" | "getTipSet">;
  status: () => SyncStatus;
  network?: Network;
}

export function syncApiMethods({ chain, status, network }: SyncApiMethodsOptions): MethodTable {
  const none = [] as const;
  return {
    [SyncMethod.SyncState]: defineMethod(none, async (_, o): Promise<SyncStateJson> => {
      const s = status();
      const tipset = async (cids: readonly CID[] | undefined) => {
        if (!cids) return null;
        const t = await chain.getTipSet(cids, o);
        return t ? tipSetToJson(t, { network }) : null;
      };
      return {
        ActiveSyncs: [{
          WorkerID: 0,
          Base: await tipset(s.base?.cids),
          Target: await tipset(s.target?.cids),
          Stage: lotusStage(s),
          Height: s.height,
          Start: s.startedAt === undefined ? GO_ZERO_TIME : new Date(s.startedAt).toISOString(),
          End: s.endedAt === undefined ? GO_ZERO_TIME : new Date(s.endedAt).toISOString(),
          Message: s.message ?? "",
        }],
        VMApplied: 0,
      };
    }),
    [SyncMethod.Status]: defineMethod(none, (): Promise<SyncStatusJson> => {
      const s = status();
      return Promise.resolve({
        Stage: s.stage,
        Phase: s.phase ?? null,
        HeadHeight: chain.heaviest.height,
        TargetHeight: s.target?.height ?? null,
        Height: s.height,
        Message: s.message ?? null,
        Error: s.stage === "failed" ? s.error ?? s.message ?? "sync failed" : null,
        RetryAt: s.stage === "failed" && s.retryAt !== undefined
          ? new Date(s.retryAt).toISOString()
          : null,
      });
    }),
  };
}

/** Our status as Lotus's stage number. */
export function lotusStage(s: SyncStatus): number {
  if (s.stage === "idle") return SyncStage.Idle;
  if (s.stage === "failed") return SyncStage.SyncErrored;
  switch (s.phase) {
    case "headers":
      return SyncStage.Headers;
    case "messages":
      return SyncStage.Messages;
    case "error":
      return SyncStage.SyncErrored;
    default:
      return SyncStage.SyncComplete;
  }
}
