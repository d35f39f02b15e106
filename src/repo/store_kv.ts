/**
 * Opens the node's Deno KV: a SQLite file under the root by default, or a KV Connect URL
 * (`Store.Path = "https://..."`) for operators who outgrow one disk. Same code path either way:
 * `Deno.openKv` takes both.
 */
import { type Config, resolveStorePath } from "./config.ts";
import { assertPathsInsideRoot } from "./root_confinement.ts";

/**
 * Opens the store. A store path under the root that resolves outside it through a symlink is
 * refused (`PathOutsideRootError`): the grants would let SQLite write there. SQLite's `-wal` and
 * `-shm` files beside it are checked too.
 */
export async function openStoreKv(root: string, config: Config): Promise<Deno.Kv> {
  const path = resolveStorePath(root, config);
  if (!/^https?:\/\//i.test(path)) {
    await assertPathsInsideRoot(root, [path, `${path}-wal`, `${path}-shm`]);
  }
  return await Deno.openKv(path);
}
