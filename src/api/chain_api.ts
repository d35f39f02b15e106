/**
 * The chain slice of the control API: Lotus's `Chain*` methods with Lotus's JSON shapes
 * (`chain_json.ts`), served from the ChainStore and the IpldStore.
 *
 * | method                              | params                    | result                   |
 * | ----------------------------------- | ------------------------- | ------------------------ |
 * | `Filecoin.ChainHead`                | —                         | `TipSet`                 |
 * | `Filecoin.ChainGetGenesis`          | —                         | `TipSet`                 |
 * | `Filecoin.ChainGetBlock`            | CID                       | `BlockHeader`            |
 * | `Filecoin.ChainGetTipSet`           | TipSetKey                 | `TipSet` (empty: head)   |
 * | `Filecoin.ChainGetTipSetByHeight`   | height, TipSetKey         | `TipSet` (null round: below) |
 * | `Filecoin.ChainGetTipSetAfterHeight`| height, TipSetKey         | `TipSet` (null round: above) |
 * | `Filecoin.ChainReadObj`             | CID                       | base64 bytes             |
 * | `Filecoin.ChainHasObj`              | CID                       | boolean                  |
 *
 * A TipSetKey is `[{"/": cid}, ...]`; `null` or `[]` means the head, as in Lotus.
 *
 * @module
 */
import type { CID } from "multiformats/cid";
import type { Network } from "../crypto/address.ts";
import type { ChainStore } from "../chain/chain_store.ts";
import type { BlockHeader, TipSet } from "../chain/types/mod.ts";
import { NotFoundError, UserError } from "../errors.ts";
import { BlockNotFoundError, type IpldStore } from "../ipld/ipld_store.ts";
import {
  type BlockHeaderJson,
  blockHeaderToJson,
  cidFromJson,
  type TipSetJson,
  tipSetKeyFromJson,
  tipSetToJson,
} from "./chain_json.ts";
import { defineMethod, type MethodTable, type ParamSpec } from "./rpc.ts";

/** The method names, for the CLI and other clients. */
export const ChainMethod = {
  ChainHead: "Filecoin.ChainHead",
  ChainGetGenesis: "Filecoin.ChainGetGenesis",
  ChainGetBlock: "Filecoin.ChainGetBlock",
  ChainGetTipSet: "Filecoin.ChainGetTipSet",
  ChainGetTipSetByHeight: "Filecoin.ChainGetTipSetByHeight",
  ChainGetTipSetAfterHeight: "Filecoin.ChainGetTipSetAfterHeight",
  ChainReadObj: "Filecoin.ChainReadObj",
  ChainHasObj: "Filecoin.ChainHasObj",
} as const;

export interface ChainApiMethodsOptions {
  chain: ChainStore;
  ipld: IpldStore;
  /** Address prefix of printed miners (Keystore.AddressPrefix). */
  network?: Network;
}

const cidParam = (name: string): ParamSpec<CID> => ({ name, decode: cidFromJson });
const keyParam: ParamSpec<CID[]> & { optional: true } = {
  name: "tipSetKey",
  decode: tipSetKeyFromJson,
  optional: true,
};
const heightParam: ParamSpec<number> = {
  name: "height",
  decode: (v) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new TypeError("expected an epoch (a whole number >= 0)");
    }
    return v;
  },
};

/** The `Chain*` method table. */
export function chainApiMethods({ chain, ipld, network }: ChainApiMethodsOptions): MethodTable {
  const none = [] as const;
  const json = (t: TipSet): TipSetJson => tipSetToJson(t, { network });
  const tipSetOf = async (cids: CID[] | undefined, signal?: AbortSignal): Promise<TipSet> => {
    if (!cids || cids.length === 0) return chain.heaviest;
    const t = await chain.getTipSet(cids, { signal });
    if (!t) throw new NotFoundError(`tipset {${cids.join(",")}} not found`);
    return t;
  };
  const byHeight = (next: boolean) =>
    defineMethod([heightParam, keyParam], async ([height, key], o) => {
      const from = await tipSetOf(key, o.signal);
      if (height > from.height) {
        throw new UserError(`looking for tipset with height greater than start point`);
      }
      return json(await chain.getTipSetByHeight(height, { from, next, signal: o.signal }));
    });
  return {
    [ChainMethod.ChainHead]: defineMethod(none, () => Promise.resolve(json(chain.heaviest))),
    [ChainMethod.ChainGetGenesis]: defineMethod(
      none,
      () => Promise.resolve(json(chain.genesisTipSet)),
    ),
    [ChainMethod.ChainGetBlock]: defineMethod(
      [cidParam("blockCid")],
      async ([cid], o): Promise<BlockHeaderJson> => {
        const header: BlockHeader | undefined = await chain.getBlockHeader(cid, o);
        if (!header) throw new NotFoundError(`block ${cid} not found`);
        return blockHeaderToJson(header, { network });
      },
    ),
    [ChainMethod.ChainGetTipSet]: defineMethod(
      [keyParam],
      async ([key], o) => json(await tipSetOf(key, o.signal)),
    ),
    [ChainMethod.ChainGetTipSetByHeight]: byHeight(false),
    [ChainMethod.ChainGetTipSetAfterHeight]: byHeight(true),
    [ChainMethod.ChainReadObj]: defineMethod([cidParam("cid")], async ([cid], o) => {
      try {
        const bytes = await ipld.get(cid, o);
        // A plain Uint8Array (not a Node Buffer, whose toJSON would win): sent as base64.
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (err) {
        if (err instanceof BlockNotFoundError) throw new NotFoundError(`object ${cid} not found`);
        throw err;
      }
    }),
    [ChainMethod.ChainHasObj]: defineMethod([cidParam("cid")], ([cid], o) => ipld.has(cid, o)),
  };
}
