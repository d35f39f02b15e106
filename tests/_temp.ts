/**
 * Temp folders for tests: made fresh for one test, removed afterwards whatever the test did, so
 * every test leaves the disk as it found it.
 *
 * @module
 */

/**
 * Runs `fn` with a new temp folder whose name starts with `prefix`, then removes the folder and
 * everything in it, whether `fn` returned or threw. Returns what `fn` returned.
 *
 * @example
 * ```ts ignore
 * await withTempDir("filnode-node-", async (base) => {
 *   await initRepo(join(base, "root"), { insecureKeystore: true });
 * });
 * ```
 */
export async function withTempDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
