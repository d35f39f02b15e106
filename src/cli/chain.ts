/**
 * `filnode chain head|get|decode-header|export|import`.
 *
 * - `head` and `get` ask the running daemon (`Filecoin.ChainHead`, `Filecoin.ChainGetBlock`).
 * - `decode-header` is offline: it decodes header bytes given as hex (or `-` for stdin).
 * - `export` opens the root's store directly and only reads, so it works with or without a
 *   daemon. `import` moves the head, so it takes the root's lock: stop the daemon first (as
 *   Lotus imports a chain with the daemon down). Both read or write a CAR v1 file outside the
 *   root: grant `--allow-read`/`--allow-write` for that file too.
 */
import { ChainMethod } from "../api/chain_api.ts";
import { type BlockHeaderJson, blockHeaderToJson, type TipSetJson } from "../api/chain_json.ts";
import { exportChainBlocks, importChainBlocks } from "../chain/chain_car.ts";
import { ChainStore } from "../chain/chain_store.ts";
import { devnetGenesisTemplate, loadOrCreateGenesis } from "../chain/genesis.ts";
import {
  blockHeaderCid,
  blockHeaderSigningBytes,
  deserializeBlockHeader,
  type TipSet,
} from "../chain/types/mod.ts";
import { UsageError, UserError } from "../errors.ts";
import { CID } from "../ipld/block.ts";
import { callDaemon } from "./daemon_call.ts";
import { readCarFile, writeCarFile } from "../repo/car_file.ts";
import { KvIpldStore } from "../repo/kv_ipld_store.ts";
import { repoLayout } from "../repo/layout.ts";
import { RepoLock } from "../repo/repo_lock.ts";
import { openStoreKv } from "../repo/store_kv.ts";
import type { Command, CommandContext, CommandGroup } from "./command.ts";
import { openConfig } from "./open.ts";
import { toHex } from "../hex.ts";

/** The root's chain opened in this process; `exclusive` takes the root lock (no daemon). */
async function withChain<T>(
  ctx: CommandContext,
  exclusive: boolean,
  fn: (chain: ChainStore, ipld: KvIpldStore) => Promise<T>,
): Promise<T> {
  const config = await openConfig(ctx);
  const lock = exclusive ? await RepoLock.acquire(repoLayout(ctx.root).lock, ctx.root) : undefined;
  try {
    const kv = await openStoreKv(ctx.root, config);
    try {
      const ipld = new KvIpldStore(kv, { maxBlockSize: config.Store.MaxBlockSize });
      const genesis = await loadOrCreateGenesis(kv, ipld, devnetGenesisTemplate(config), {
        signal: ctx.signal,
      });
      const chain = await ChainStore.open(kv, ipld, genesis, {
        networkName: config.Chain.Network,
        signal: ctx.signal,
      });
      return await fn(chain, ipld);
    } finally {
      kv.close();
    }
  } finally {
    lock?.release();
  }
}

function parseCid(text: string, what: string): CID {
  try {
    return CID.parse(text);
  } catch {
    throw new UsageError(`${what}: not a CID: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

function fromHex(text: string): Uint8Array {
  const clean = text.trim().replace(/^0x/i, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new UsageError("HEX: not an even number of hex digits");
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Human lines for a header: the fields people look at, CIDs in full. */
function headerLines(h: BlockHeaderJson): string[] {
  return [
    `height:        ${h.Height}`,
    `miner:         ${h.Miner}`,
    `timestamp:     ${h.Timestamp} (${new Date(h.Timestamp * 1000).toISOString()})`,
    `parents:       ${(h.Parents ?? []).map((p) => p["/"]).join(", ") || "(none)"}`,
    `parent weight: ${h.ParentWeight}`,
    `state root:    ${h.ParentStateRoot["/"]}`,
    `messages:      ${h.Messages["/"]}`,
    `receipts:      ${h.ParentMessageReceipts["/"]}`,
    `base fee:      ${h.ParentBaseFee}`,
    `win count:     ${h.ElectionProof?.WinCount ?? "-"}`,
    `signed:        ${h.BlockSig ? `yes (type ${h.BlockSig.Type})` : "no"}`,
  ];
}

const head: Command = {
  name: "head",
  summary: "Print the daemon's chain head: height and block CIDs",
  arity: [0, 0],
  async run(ctx) {
    const ts = await callDaemon<TipSetJson>(ctx, ChainMethod.ChainHead);
    ctx.print(ts, () => [`height ${ts.Height}`, ...ts.Cids.map((c) => c["/"])].join("\n"));
  },
};

const get: Command = {
  name: "get",
  summary: "Print a block header the daemon has stored",
  args: "CID",
  arity: [1, 1],
  async run(ctx, args) {
    const cid = parseCid(args.positionals[0], "CID");
    const header = await callDaemon<BlockHeaderJson>(ctx, ChainMethod.ChainGetBlock, [
      { "/": cid.toString() },
    ]);
    ctx.print(header, () => [`cid:           ${cid}`, ...headerLines(header)].join("\n"));
  },
};

const decodeHeader: Command = {
  name: "decode-header",
  summary: "Decode a block header from CBOR hex (offline); '-' reads it from stdin",
  args: "HEX|-",
  help: "Prints the header's fields and CID; --json adds signingBytes (hex), the bytes the " +
    "miner's worker key signs (the header with BlockSig null).",
  arity: [1, 1],
  async run(ctx, args) {
    const arg = args.positionals[0];
    let bytes: Uint8Array;
    if (arg === "-") {
      const input = await ctx.readStdin();
      const text = new TextDecoder().decode(input).trim();
      bytes = /^(0x)?[0-9a-fA-F]*$/.test(text) && text.length > 0 ? fromHex(text) : input;
    } else bytes = fromHex(arg);
    const header = deserializeBlockHeader(bytes);
    const cid = blockHeaderCid(header);
    const json = blockHeaderToJson(header);
    ctx.print(
      { cid: cid.toString(), signingBytes: toHex(blockHeaderSigningBytes(header)), header: json },
      () => [`cid:           ${cid}`, ...headerLines(json)].join("\n"),
    );
  },
};

function parseKey(text: string): CID[] {
  const parts = text.replace(/^\{|\}$/g, "").split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new UsageError("--tipset needs CID[,CID...]");
  return parts.map((p) => parseCid(p, "--tipset"));
}

const exportChain: Command = {
  name: "export",
  summary: "Write the chain (headers, and messages where stored) to a CAR file",
  args: "FILE",
  options: { tipset: { type: "string" }, depth: { type: "string" } },
  help: `Options:
  --tipset CID[,CID...]  start here instead of the head (the tipset's block CIDs, in order)
  --depth N              export N tipsets (default: all, down to genesis)
Reads the root's store directly; works with or without a running daemon.`,
  arity: [1, 1],
  async run(ctx, args) {
    const file = args.positionals[0];
    let depth: number | undefined;
    if (args.values.depth !== undefined) {
      depth = Number(args.values.depth);
      if (!Number.isSafeInteger(depth) || depth < 1) {
        throw new UsageError("--depth needs a whole number >= 1");
      }
    }
    const key = typeof args.values.tipset === "string" ? parseKey(args.values.tipset) : undefined;
    const result = await withChain(ctx, false, async (chain, ipld) => {
      let from: TipSet = chain.heaviest;
      if (key) {
        const t = await chain.getTipSet(key, { signal: ctx.signal });
        if (!t) throw new UserError(`tipset {${key.join(",")}} is not stored`);
        from = t;
      }
      const written = await writeCarFile(
        file,
        from.cids,
        exportChainBlocks(chain, ipld, from, { depth, signal: ctx.signal }),
        { signal: ctx.signal },
      );
      return { file, height: from.height, roots: from.cids.map(String), ...written };
    });
    ctx.print(
      result,
      () => `exported ${result.blocks} blocks from height ${result.height} to ${file}`,
    );
  },
};

const importChain: Command = {
  name: "import",
  summary: "Import a chain CAR; its root tipset becomes the head if it links to our genesis",
  args: "FILE",
  help: "Every block is checked against its CID. Takes the root's lock: stop the daemon first.",
  arity: [1, 1],
  async run(ctx, args) {
    const file = args.positionals[0];
    const result = await withChain(ctx, true, async (chain, ipld) => {
      const car = await readCarFile(file, { signal: ctx.signal });
      try {
        const r = await importChainBlocks(chain, ipld, car.roots, car.blocks, {
          signal: ctx.signal,
        });
        return {
          file,
          blocks: r.blocks,
          height: r.tipset.height,
          headMoved: r.headMoved,
          ...(r.reason ? { reason: r.reason } : {}),
          head: { height: chain.head().height, cids: chain.head().cids.map(String) },
        };
      } finally {
        car.close();
      }
    });
    ctx.print(
      result,
      () =>
        result.headMoved
          ? `imported ${result.blocks} blocks; head is now at height ${result.height}`
          : `imported ${result.blocks} blocks; head unchanged (${result.reason})`,
    );
  },
};

/** The `chain` command group. */
export const chainCommands: CommandGroup = {
  name: "chain",
  summary: "Inspect, export and import the chain",
  commands: [head, get, decodeHeader, exportChain, importChain],
};
