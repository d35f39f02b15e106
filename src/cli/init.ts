/** `filnode init`: make a node root (config, keystore with the libp2p identity, store folders). */
import { decodeGenesisState, importGenesis, InvalidGenesisError } from "../chain/genesis.ts";
import { deserializeBlockHeader } from "../chain/types/mod.ts";
import type { Block, CID } from "../ipld/block.ts";
import { readCarFile } from "../repo/car_file.ts";
import type { ConfigOverrides } from "../repo/config.ts";
import { KvIpldStore } from "../repo/kv_ipld_store.ts";
import { initRepo } from "../repo/repo.ts";
import type { Command, CommandContext, ParsedArgs } from "./command.ts";
import { readPassphrase } from "./passphrase.ts";

/** What `--devnet` means: a throwaway local network with test addresses and short epochs. */
export const DEVNET_CONFIG: ConfigOverrides = {
  "Chain.Network": "devnet",
  "Keystore.AddressPrefix": "t",
  "Network.AllowPrivateAddresses": true,
  // Several devnet nodes share one machine: each takes a free API port, written to <root>/api.
  "API.ListenAddress": "127.0.0.1:0",
  "Network.MinPeers": 4,
  "Network.MaxPeers": 50,
};

export const INIT_OPTIONS = {
  devnet: { type: "boolean" },
  network: { type: "string" },
  genesis: { type: "string" },
  "insecure-keystore": { type: "boolean" },
} as const;

export const INIT_HELP = `Options:
  --devnet             a local devnet root: test (t) addresses and an unencrypted keystore
  --insecure-keystore  keep keys unencrypted at rest (throwaway nodes only)
  --network NAME       network name (Chain.Network); devnets of different names have different genesis
  --genesis FILE.car   join the network of this genesis (from \`filnode genesis new\`); without it the
                       root uses the devnet genesis its config describes
The keystore passphrase comes from $FILNODE_PASSPHRASE, else it is asked for on the terminal.`;

/** Initialises `ctx.root` as the flags say; shared by `init` and `daemon` (which auto-inits). */
export async function initFromFlags(ctx: CommandContext, args: ParsedArgs): Promise<void> {
  const devnet = args.values.devnet === true;
  const insecure = devnet || args.values["insecure-keystore"] === true;
  const genesis = typeof args.values.genesis === "string"
    ? await readGenesisCar(args.values.genesis, ctx.signal)
    : undefined;
  await initRepo(ctx.root, {
    insecureKeystore: insecure,
    passphrase: insecure ? undefined : await readPassphrase(ctx, { confirm: true }),
    config: {
      ...(devnet ? DEVNET_CONFIG : {}),
      ...(typeof args.values.network === "string" ? { "Chain.Network": args.values.network } : {}),
      // The genesis names the network; config says the same, so nothing disagrees.
      ...(genesis ? { "Chain.Network": genesis.networkName } : {}),
    },
    prepareStore: genesis &&
      (async (kv, config) => {
        const ipld = new KvIpldStore(kv, { maxBlockSize: config.Store.MaxBlockSize });
        await importGenesis(kv, ipld, genesis.root, genesis.blocks, { signal: ctx.signal });
      }),
    signal: ctx.signal,
  });
}

/** Most blocks a genesis CAR may hold: a devnet genesis has four. */
const MAX_GENESIS_BLOCKS = 10_000;

/** A genesis CAR read whole (it is small), with the network name its state gives. */
async function readGenesisCar(
  path: string,
  signal: AbortSignal,
): Promise<{ root: CID; blocks: Block[]; networkName: string }> {
  const car = await readCarFile(path, { signal });
  const blocks: Block[] = [];
  try {
    if (car.roots.length !== 1) {
      throw new InvalidGenesisError(`${path}: a genesis CAR has one root, not ${car.roots.length}`);
    }
    for await (const block of car.blocks) {
      blocks.push(block);
      if (blocks.length > MAX_GENESIS_BLOCKS) {
        throw new InvalidGenesisError(`${path}: more than ${MAX_GENESIS_BLOCKS} blocks`);
      }
    }
  } finally {
    car.close();
  }
  const root = car.roots[0];
  // Checked fully (hashes, header shape) by importGenesis; here only the network name is read.
  const header = blocks.find((b) => b.cid.equals(root));
  if (!header) throw new InvalidGenesisError(`${path}: the root block ${root} is missing`);
  const stateRoot = deserializeBlockHeader(header.bytes).parentStateRoot;
  const state = blocks.find((b) => b.cid.equals(stateRoot));
  if (!state) throw new InvalidGenesisError(`${path}: the genesis state ${stateRoot} is missing`);
  return { root, blocks, networkName: decodeGenesisState(state.bytes).networkName };
}

export const initCommand: Command = {
  name: "init",
  summary: "create a node root",
  help: INIT_HELP,
  options: INIT_OPTIONS,
  async run(ctx, args) {
    await initFromFlags(ctx, args);
    ctx.print({ root: ctx.root }, () => `initialised filnode root at ${ctx.root}`);
  },
};
