/**
 * Where the CLI gets the keystore passphrase: `$FILNODE_PASSPHRASE` (for services and scripts),
 * else a prompt on the terminal with echo off. With neither, a clear error.
 */
import { UserError } from "../errors.ts";
import type { CommandContext } from "./command.ts";

export const PASSPHRASE_ENV = "FILNODE_PASSPHRASE";

export class PassphraseUnavailableError extends UserError {
  constructor() {
    super(
      `the keystore is encrypted: set $${PASSPHRASE_ENV} or run on a terminal to be asked for the passphrase`,
    );
  }
}

/** Reads the passphrase from the environment or the terminal; `confirm` asks twice (for init). */
export async function readPassphrase(
  ctx: CommandContext,
  options: { confirm?: boolean } = {},
): Promise<string> {
  const fromEnv = ctx.env(PASSPHRASE_ENV);
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!Deno.stdin.isTerminal()) throw new PassphraseUnavailableError();
  const first = await promptHidden("Keystore passphrase: ");
  if (first === "") throw new UserError("the passphrase must not be empty");
  if (options.confirm && await promptHidden("Repeat passphrase: ") !== first) {
    throw new UserError("the passphrases do not match");
  }
  return first;
}

/** One line from the terminal with echo off; Ctrl-C aborts. */
async function promptHidden(question: string): Promise<string> {
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  try {
    const buf = new Uint8Array(64);
    outer: while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) break outer;
        if (b === 0x03) throw new UserError("cancelled");
        if (b === 0x7f || b === 0x08) bytes.pop();
        else bytes.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
