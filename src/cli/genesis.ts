/**
 * `filnode genesis new`: write a devnet genesis as a CAR file (roots: the genesis CID; blocks:
 * everything genesis needs), for `filnode init --genesis FILE.car` on every node of the devnet.
 * Works offline and needs no root.
 */
import { type Address, parseAddress } from "../crypto/address.ts";
import { buildGenesis, type GenesisAccount } from "../chain/genesis.ts";
import { UsageError } from "../errors.ts";
import { writeCarFile } from "../repo/car_file.ts";
import type { Command, CommandGroup } from "./command.ts";

/** attoFIL per FIL. */
const ATTO_PER_FIL = 10n ** 18n;

/** "1.5" FIL as attoFIL; at most 18 decimals. @throws UsageError. */
export function parseFil(text: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,18}))?$/.exec(text);
  if (!m) throw new UsageError(`not an amount of FIL: ${JSON.stringify(text)} (e.g. 1000 or 0.5)`);
  return BigInt(m[1]) * ATTO_PER_FIL + BigInt((m[2] ?? "").padEnd(18, "0") || "0");
}

function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}

function address(text: string, what: string): Address {
  try {
    return parseAddress(text);
  } catch (err) {
    throw new UsageError(`${what}: ${(err as Error).message}`);
  }
}

function wholeNumber(value: unknown, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} needs a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

const newGenesis: Command = {
  name: "new",
  summary: "write a new devnet genesis to a CAR file",
  options: {
    network: { type: "string" },
    timestamp: { type: "string" },
    "block-delay": { type: "string" },
    account: { type: "string", multiple: true },
    miner: { type: "string", multiple: true },
    out: { type: "string" },
  },
  help: `Options:
  --network NAME        network name (required): gossip topics and the DHT prefix use it
  --timestamp T         genesis time in unix seconds (default 0); the same inputs give the same genesis
  --block-delay S       seconds between epochs (default 30)
  --account ADDR=FIL    an account funded at genesis (repeatable), e.g. t1abc...=1000
  --miner ADDR          a miner actor present at genesis (repeatable)
  --out FILE.car        where to write the CAR (required); grant --allow-write for it
Then on each node: filnode init --genesis FILE.car`,
  arity: [0, 0],
  async run(ctx, args) {
    const network = args.values.network;
    const out = args.values.out;
    if (typeof network !== "string") throw new UsageError("--network NAME is required");
    if (typeof out !== "string") throw new UsageError("--out FILE.car is required");
    const accounts: GenesisAccount[] = strings(args.values.account).map((spec) => {
      const eq = spec.lastIndexOf("=");
      if (eq < 1) throw new UsageError(`--account needs ADDR=FIL, got ${JSON.stringify(spec)}`);
      return {
        address: address(spec.slice(0, eq), "--account"),
        balance: parseFil(spec.slice(eq + 1)),
      };
    });
    const genesis = buildGenesis({
      networkName: network,
      timestamp: wholeNumber(args.values.timestamp, "--timestamp", 0, 0),
      blockDelay: wholeNumber(args.values["block-delay"], "--block-delay", 30, 1),
      accounts,
      miners: strings(args.values.miner).map((m) => address(m, "--miner")),
    });
    const written = await writeCarFile(out, [genesis.cid], genesis.blocks, { signal: ctx.signal });
    ctx.print(
      { genesis: genesis.cid.toString(), network, file: out, blocks: written.blocks },
      () => `genesis ${genesis.cid} (network ${network}) written to ${out}`,
    );
  },
};

/** The `genesis` command group. */
export const genesisCommands: CommandGroup = {
  name: "genesis",
  summary: "make devnet genesis files",
  commands: [newGenesis],
};
