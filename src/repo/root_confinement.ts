/**
 * Keeping the node's writes inside its root when symlinks say otherwise.
 *
 * Deno checks `--allow-read`/`--allow-write` against the path a call names, not the file it
 * reaches: a symlink inside the root (the store folder, `Store.Path` through a link, the keystore)
 * lets every write through it land outside, where no grant was meant to reach. So each path the
 * node writes under its root is resolved (`realpath`, and dangling links followed by hand, since a
 * create through one makes its target) and refused when it ends up outside the root's own
 * resolved location. The root itself may be a link: what counts is where it resolves.
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/** Links followed in one path before giving up, as the kernel's ELOOP limit does. */
const MAX_LINKS = 40;

/**
 * A path under the root resolves outside it. A `Deno.errors.NotCapable`: the CLI reports it as
 * every refused grant, in one line (exit 1).
 */
export class PathOutsideRootError extends Deno.errors.NotCapable {
  override name = "PathOutsideRootError";
  constructor(readonly path: string, readonly resolved: string, readonly root: string) {
    super(
      `"${path}" resolves to "${resolved}", outside the root ${root}: a symlink leads out of ` +
        `the root, and filnode keeps what it reads and writes inside it; replace the link with ` +
        `a folder or file`,
    );
  }
}

/** A chain of symlinks longer than {@link MAX_LINKS} (or a loop). */
export class SymlinkLoopError extends Deno.errors.NotCapable {
  override name = "SymlinkLoopError";
  constructor(readonly path: string) {
    super(`"${path}": too many levels of symbolic links`);
  }
}

/** True when `path` is `dir` or lies below it (both absolute and normalised). */
export function isWithin(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`));
}

/**
 * Where `path` leads once every symlink on it is followed, whether or not it exists yet: the
 * existing part is resolved by `realpath`, a dangling link by its target, and the part still to
 * be created is appended as written.
 */
export async function resolveThroughLinks(path: string): Promise<string> {
  let current = resolve(path);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const missing: string[] = [];
    let existing = current;
    while (true) {
      try {
        return join(await Deno.realPath(existing), ...missing);
      } catch (err) {
        // Not readable under our grants: it can only be outside the root; say where as far as
        // we can see.
        if (err instanceof Deno.errors.NotCapable) return join(existing, ...missing);
        if (err instanceof Deno.errors.FilesystemLoop) throw new SymlinkLoopError(path);
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      // realpath fails on a dangling link too: follow it by hand.
      const info = await Deno.lstat(existing).catch(() => undefined);
      if (info?.isSymlink) {
        const target = await Deno.readLink(existing);
        current = join(resolve(dirname(existing), target), ...missing);
        break;
      }
      const parent = dirname(existing);
      if (parent === existing) return current; // nothing of it exists: nothing to follow
      missing.unshift(existing.slice(parent.length).replace(/^[\\/]/, ""));
      existing = parent;
    }
  }
  throw new SymlinkLoopError(path);
}

/**
 * Throws {@link PathOutsideRootError} for the first of `paths` that lies under `root` as written
 * but resolves outside it. Paths written outside the root are not judged here: reaching them is
 * the grants' business (an operator may grant a store on another disk).
 */
export async function assertPathsInsideRoot(root: string, paths: readonly string[]): Promise<void> {
  const lexicalRoot = resolve(root);
  const realRoot = await resolveThroughLinks(lexicalRoot);
  for (const path of paths) {
    const lexical = resolve(path);
    if (!isWithin(lexicalRoot, lexical)) continue;
    const real = await resolveThroughLinks(lexical);
    if (!isWithin(realRoot, real)) throw new PathOutsideRootError(path, real, realRoot);
  }
}
