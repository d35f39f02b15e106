/**
 * Opening the pieces of a node root that offline commands need, asking for a passphrase only when
 * the keystore is encrypted.
 */
import { type Config, loadConfig } from "../repo/config.ts";
import { KeyStore } from "../repo/keystore.ts";
import { repoLayout } from "../repo/layout.ts";
import { assertRepo } from "../repo/repo.ts";
import type { CommandContext } from "./command.ts";
import { readPassphrase } from "./passphrase.ts";

/** The root's config, after checking the root is initialised; warnings go to stderr. */
export async function openConfig(ctx: CommandContext): Promise<Config> {
  await assertRepo(ctx.root);
  const { config, warnings } = await loadConfig(repoLayout(ctx.root).config, {
    signal: ctx.signal,
  });
  for (const w of warnings) ctx.log(`warning: ${w}`);
  return config;
}

/** The passphrase for this root's keystore, or undefined for an insecure (devnet) one. */
export async function passphraseFor(
  ctx: CommandContext,
  config: Config,
): Promise<string | undefined> {
  return config.Keystore.Insecure ? undefined : await readPassphrase(ctx);
}

export async function openKeyStore(ctx: CommandContext): Promise<KeyStore> {
  const config = await openConfig(ctx);
  return await KeyStore.open(repoLayout(ctx.root).keystore, {
    passphrase: await passphraseFor(ctx, config),
    network: config.Keystore.AddressPrefix,
    signal: ctx.signal,
  });
}
