/** `filnode init`: make a node root (config, keystore with the libp2p identity, store folders). */
import type { ConfigOverrides } from "../repo/config.ts";
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
  "insecure-keystore": { type: "boolean" },
} as const;

export const INIT_HELP = `Options:
  --devnet             a local devnet root: test (t) addresses and an unencrypted keystore
  --insecure-keystore  keep keys unencrypted at rest (throwaway nodes only)
  --network NAME       network name (Chain.Network); devnets of different names have different genesis
The keystore passphrase comes from $FILNODE_PASSPHRASE, else it is asked for on the terminal.`;

/** Initialises `ctx.root` as the flags say; shared by `init` and `daemon` (which auto-inits). */
export async function initFromFlags(ctx: CommandContext, args: ParsedArgs): Promise<void> {
  const devnet = args.values.devnet === true;
  const insecure = devnet || args.values["insecure-keystore"] === true;
  await initRepo(ctx.root, {
    insecureKeystore: insecure,
    passphrase: insecure ? undefined : await readPassphrase(ctx, { confirm: true }),
    config: {
      ...(devnet ? DEVNET_CONFIG : {}),
      ...(typeof args.values.network === "string" ? { "Chain.Network": args.values.network } : {}),
    },
    signal: ctx.signal,
  });
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
