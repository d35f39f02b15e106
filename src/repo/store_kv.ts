/**
 * Opens the node's Deno KV: a SQLite file under the root by default, or a KV Connect URL
 * (`Store.Path = "https://..."`) for operators who outgrow one disk. Same code path either way:
 * `Deno.openKv` takes both.
 */
import { type Config, resolveStorePath } from "./config.ts";

export async function openStoreKv(root: string, config: Config): Promise<Deno.Kv> {
  return await Deno.openKv(resolveStorePath(root, config));
}
