/**
 * The daemon's exclusive claim on a node root.
 *
 * An OS file lock (flock) on `<root>/repo.lock`: the kernel drops it when the holder dies, so a
 * lock left by a killed process is recovered by the next start without any staleness guessing.
 * The holder writes its pid into the file only so the refusal message can name it.
 */
import { UserError } from "../errors.ts";

export class RepoLockedError extends UserError {
  constructor(readonly root: string, readonly holderPid: number | undefined) {
    super(
      `node root ${root} is in use by another filnode daemon` +
        (holderPid ? ` (pid ${holderPid})` : "") + "; stop it first or use another --root",
    );
  }
}

export class RepoLock {
  #file: Deno.FsFile | undefined;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Takes the lock at `path` or throws `RepoLockedError` at once (never waits). */
  static async acquire(path: string, root: string): Promise<RepoLock> {
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    let locked = false;
    try {
      locked = await file.tryLock(true);
      if (!locked) throw new RepoLockedError(root, await readHolderPid(file));
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      return new RepoLock(file);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Releases the lock; a second call does nothing. */
  release(): void {
    const file = this.#file;
    this.#file = undefined;
    if (!file) return;
    try {
      file.unlockSync();
    } finally {
      file.close();
    }
  }
}

async function readHolderPid(file: Deno.FsFile): Promise<number | undefined> {
  const buf = new Uint8Array(32);
  await file.seek(0, Deno.SeekMode.Start);
  const n = await file.read(buf);
  const pid = Number.parseInt(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
