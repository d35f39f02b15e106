/**
 * Where everything lives inside a node root. The one place that knows the folder layout, so a
 * migration changes one file.
 *
 * ```
 * <root>/config.toml      user config (TOML)
 * <root>/version          repo format version
 * <root>/repo.lock        held (flock) by the running daemon
 * <root>/keystore/        one encrypted file per key, owner-only
 * <root>/kv/store.sqlite  Deno KV: blocks and mutable pointers (default store location)
 * <root>/files/           FileStore; `files/.tmp/` holds writes in progress
 * ```
 */
import { join } from "node:path";

export const REPO_VERSION = 1;

export interface RepoLayout {
  readonly root: string;
  readonly config: string;
  readonly version: string;
  readonly lock: string;
  readonly keystore: string;
  readonly kvDir: string;
  readonly kv: string;
  readonly files: string;
}

export function repoLayout(root: string): RepoLayout {
  return {
    root,
    config: join(root, "config.toml"),
    version: join(root, "version"),
    lock: join(root, "repo.lock"),
    keystore: join(root, "keystore"),
    kvDir: join(root, "kv"),
    kv: join(root, "kv", "store.sqlite"),
    files: join(root, "files"),
  };
}
