/**
 * `filnode wallet new|list|sign|verify|import`: Filecoin wallet keys in the node's KeyStore.
 *
 * There is deliberately no `export`: private keys never leave the keystore. `import` reads the
 * Lotus `wallet export` format from stdin when no argument (or `-`) is given, so the secret stays
 * out of shell history and `ps` output. `verify` needs no keystore (and so no passphrase): a
 * Filecoin signature carries enough to recover its signer's address.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import type { Command, CommandContext, CommandGroup } from "./command.ts";
import { Address, Protocol } from "../crypto/address.ts";
import { decodeSignature, encodeSignature, SigType, verifySignature } from "../crypto/signature.ts";
import { UsageError, UserError } from "../errors.ts";
import type { KeyInfo, KeyStore } from "../repo/keystore.ts";

/** `wallet verify` found the signature does not match the address and data. */
export class SignatureInvalidError extends UserError {
  constructor() {
    super("signature invalid");
  }
}

/** Opens the node's keystore (prompting for or reading the passphrase as main.ts decides). */
export type OpenKeyStore = (ctx: CommandContext) => Promise<KeyStore>;

/** Parse a hex argument (optional `0x`), or throw a UsageError naming the argument. */
function parseHex(argName: string, text: string): Uint8Array {
  const hex = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  try {
    return hexToBytes(hex);
  } catch {
    throw new UsageError(`${argName} is not valid hex (an even number of 0-9a-f digits)`);
  }
}

/** Parse a wallet address argument: only f1/t1 (secp256k1) addresses hold wallet keys here. */
function parseWalletAddress(argName: string, text: string): Address {
  let address: Address;
  try {
    address = Address.fromString(text);
  } catch (err) {
    throw new UsageError(`${argName} is not a valid address: ${(err as Error).message}`);
  }
  if (address.protocol === Protocol.BLS) {
    throw new UsageError(`${argName}: BLS (f3) wallets are not supported yet`);
  }
  if (address.protocol !== Protocol.SECP256K1) {
    throw new UsageError(`${argName} must be a secp256k1 (f1) wallet address`);
  }
  return address;
}

function walletRow(info: KeyInfo): { address: string; type: string; name: string } {
  return { address: info.address ?? "", type: info.type, name: info.name };
}

/** Build the `wallet` command group around a function that opens the node's keystore. */
export function walletCommands(openKeyStore: OpenKeyStore): CommandGroup {
  const create: Command = {
    name: "new",
    summary: "Generate a new wallet key and print its address",
    args: "[secp256k1]",
    help: "Only secp256k1 (f1) wallets are supported for now; BLS (f3) will follow.",
    arity: [0, 1],
    async run(ctx, args) {
      const type = args.positionals[0] ?? "secp256k1";
      if (type === "bls") throw new UsageError("BLS wallets are not supported yet");
      if (type !== "secp256k1") {
        throw new UsageError(`unknown wallet type ${JSON.stringify(type)} (want secp256k1)`);
      }
      const ks = await openKeyStore(ctx);
      const info = await ks.generate("secp256k1", { signal: ctx.signal });
      ctx.print({ address: info.address, type: info.type }, () => info.address!);
    },
  };

  const list: Command = {
    name: "list",
    summary: "List wallet addresses and their key types",
    help: "Damaged key files are reported on stderr and skipped.",
    arity: [0, 0],
    async run(ctx) {
      const ks = await openKeyStore(ctx);
      const keys = await ks.list({
        signal: ctx.signal,
        onCorrupt: (err) => ctx.log(`warning: ${err.message}`),
      });
      const rows = keys.filter((k) => k.address !== undefined).map(walletRow);
      ctx.print(rows, () => rows.map((r) => `${r.address}  ${r.type}`).join("\n"));
    },
  };

  const sign: Command = {
    name: "sign",
    summary: "Sign hex data with a wallet key; prints the Lotus serialized signature as hex",
    args: "ADDRESS HEXDATA",
    help: "Output is the signature type byte (01 = secp256k1) followed by r || s || v, as " +
      "Lotus `wallet sign` prints it. The signature covers blake2b-256(HEXDATA).",
    arity: [2, 2],
    async run(ctx, args) {
      const [addressArg, dataArg] = args.positionals;
      const address = parseWalletAddress("ADDRESS", addressArg);
      const data = parseHex("HEXDATA", dataArg);
      const ks = await openKeyStore(ctx);
      const raw = await ks.sign(address.toString(ks.network), data, { signal: ctx.signal });
      const hex = bytesToHex(encodeSignature({ type: SigType.SECP256K1, data: raw }));
      ctx.print({ address: address.toString(), type: "secp256k1", signature: hex }, () => hex);
    },
  };

  const verify: Command = {
    name: "verify",
    summary: "Check a Lotus serialized signature of hex data against an address",
    args: "ADDRESS HEXDATA HEXSIG",
    help: "Prints `valid` and exits 0, or fails with `signature invalid`. Needs no keystore.",
    arity: [3, 3],
    run(ctx, args) {
      const [addressArg, dataArg, sigArg] = args.positionals;
      const address = parseWalletAddress("ADDRESS", addressArg);
      const data = parseHex("HEXDATA", dataArg);
      const sigBytes = parseHex("HEXSIG", sigArg);
      if (sigBytes.length === 0) throw new UsageError("HEXSIG is empty");
      const signature = decodeSignature(sigBytes);
      if (!verifySignature(signature, data, address)) throw new SignatureInvalidError();
      ctx.print({ valid: true }, () => "valid");
      return Promise.resolve();
    },
  };

  const importCmd: Command = {
    name: "import",
    summary: "Import a key in Lotus `wallet export` format (hex); prints its address",
    args: "[HEX|-]",
    help: "With no argument or `-`, the key is read from stdin, which keeps it out of shell " +
      "history and process listings.",
    arity: [0, 1],
    async run(ctx, args) {
      const arg = args.positionals[0];
      let text: string;
      if (arg === undefined || arg === "-") {
        const bytes = await ctx.readStdin();
        text = new TextDecoder().decode(bytes);
        bytes.fill(0);
      } else {
        text = arg;
      }
      text = text.trim();
      if (text === "") throw new UsageError("HEX is empty: give a Lotus key export");
      if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2 !== 0) {
        throw new UsageError("HEX is not valid hex (expected Lotus `wallet export` output)");
      }
      const ks = await openKeyStore(ctx);
      const info = await ks.importLotus(text, { signal: ctx.signal });
      ctx.print({ address: info.address, type: info.type }, () => info.address!);
    },
  };

  return {
    name: "wallet",
    summary: "Manage wallet keys: create, list, import, sign and verify",
    commands: [create, list, sign, verify, importCmd],
  };
}
