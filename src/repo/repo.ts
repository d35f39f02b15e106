/**
 * Creating and recognising a node root (`filnode init`), as Lotus's `repo` package does: config,
 * keystore with the node's libp2p identity, store and file folders, and a format version.
 */
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import { type Config, type ConfigOverrides, loadConfig, writeDefaultConfig } from "./config.ts";
import { exists, writeFileAtomic } from "./fs_atomic.ts";
import { KeyStore, LIBP2P_HOST_KEY } from "./keystore.ts";
import { REPO_VERSION, repoLayout } from "./layout.ts";
import { assertPathsInsideRoot } from "./root_confinement.ts";
import { openStoreKv } from "./store_kv.ts";

export class RepoNotInitializedError extends UserError {
  constructor(readonly root: string) {
    super(`${root} is not a filnode root; run \`filnode init\` first`);
  }
}

export class RepoExistsError extends UserError {
  constructor(readonly root: string) {
    super(`${root} is already a filnode root`);
  }
}

export class RepoVersionError extends UserError {}

export interface InitRepoOptions extends AbortOptions {
  /** Keystore passphrase; required unless `insecureKeystore`. */
  passphrase?: string;
  /** Keys unencrypted at rest: throwaway devnets only. Written into config as Keystore.Insecure. */
  insecureKeystore?: boolean;
  /** Config values to write instead of defaults, by `Section.Key`. */
  config?: ConfigOverrides;
  /**
   * Fills the new store before the root is marked initialised (e.g. imports a genesis), so a
   * crash midway leaves a root that is not one yet, never one missing what init promised.
   */
  prepareStore?: (kv: Deno.Kv, config: Config) => Promise<void>;
}

/**
 * Makes `root` a node root. The version file is written last: a crash midway leaves a folder
 * that `isRepo` rejects and a second `init` may complete (it reuses what is already there).
 */
export async function initRepo(root: string, options: InitRepoOptions = {}): Promise<void> {
  const layout = repoLayout(root);
  if (await exists(layout.version)) throw new RepoExistsError(root);
  // A half-made root may hold links already: refuse them before writing through one.
  await assertLayoutInsideRoot(root);
  for (const dir of [root, layout.kvDir, layout.files]) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const config: ConfigOverrides = {
    ...options.config,
    ...(options.insecureKeystore ? { "Keystore.Insecure": true } : {}),
  };
  await writeDefaultConfig(layout.config, config, { overwrite: true, signal: options.signal });
  const prefix = config["Keystore.AddressPrefix"] === "t" ? "t" : "f";
  const keystore = await exists(layout.keystore)
    ? await KeyStore.open(layout.keystore, { passphrase: options.passphrase, network: prefix })
    : await KeyStore.create(layout.keystore, {
      passphrase: options.passphrase,
      insecure: options.insecureKeystore,
      network: prefix,
    });
  if (!await keystore.has(LIBP2P_HOST_KEY)) await keystore.generate("ed25519");
  if (options.prepareStore) {
    const { config: loaded } = await loadConfig(layout.config, { signal: options.signal });
    const kv = await openStoreKv(root, loaded);
    try {
      await options.prepareStore(kv, loaded);
    } finally {
      kv.close();
    }
  }
  // Atomic: a crash never leaves an empty version file that would make the root unreadable.
  await writeFileAtomic(layout.version, `${REPO_VERSION}\n`);
}

/**
 * Throws `PathOutsideRootError` when a file or folder of the root's layout resolves outside the
 * root through a symlink: Deno's grants are checked on the path, so writes through such a link
 * would leave the root (`Store.Path` is checked where the store opens, in `openStoreKv`).
 */
export async function assertLayoutInsideRoot(root: string): Promise<void> {
  const l = repoLayout(root);
  await assertPathsInsideRoot(root, [
    l.config,
    l.version,
    l.lock,
    l.keystore,
    l.kvDir,
    l.files,
  ]);
}

/**
 * Throws unless `root` is an initialised root of the version this program reads, with no part of
 * its layout leading outside it through a symlink.
 */
export async function assertRepo(root: string): Promise<void> {
  await assertLayoutInsideRoot(root);
  let text: string;
  try {
    text = await Deno.readTextFile(repoLayout(root).version);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new RepoNotInitializedError(root);
    throw err;
  }
  const version = Number.parseInt(text.trim(), 10);
  if (version !== REPO_VERSION) {
    throw new RepoVersionError(
      `${root} has repo version ${
        JSON.stringify(text.trim())
      }; this filnode reads version ${REPO_VERSION}`,
    );
  }
}

/** True when `root` has been initialised. */
export async function isRepo(root: string): Promise<boolean> {
  return await exists(repoLayout(root).version);
}
