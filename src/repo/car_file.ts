/**
 * CAR v1 files on disk (`@ipld/car`): the exchange format of `genesis new`, `init --genesis`
 * and `chain export/import`. Here because only `repo/`, `filestore/` and `net/` touch the disk.
 *
 * Both directions stream: reading yields one block at a time from the file, and writing goes to
 * a temp file beside the target that is fsynced and renamed into place, so a crash never leaves
 * a half-written CAR under the target's name. Blocks read are not verified here; callers check
 * each against its CID before trusting it.
 *
 * @example
 * ```ts ignore
 * import { readCarFile, writeCarFile } from "./car_file.ts";
 * await writeCarFile("/tmp/g.car", [genesis.cid], genesis.blocks);
 * const car = await readCarFile("/tmp/g.car");
 * try { for await (const block of car.blocks) console.log(block.cid); } finally { car.close(); }
 * ```
 *
 * @module
 */
import { CarBlockIterator, CarWriter } from "@ipld/car";
import { basename, dirname, join } from "node:path";
import type { AbortOptions } from "../abort.ts";
import { NotFoundError, UserError } from "../errors.ts";
import { type Block, CID } from "../ipld/block.ts";

type CarRoots = Parameters<typeof CarWriter.create>[0];
type CarBlock = Parameters<CarWriter["put"]>[0];

/** A file that is not a CAR v1 we can read. */
export class InvalidCarError extends UserError {}

/**
 * The CAR's folder is not writable under the process's grants. Named after the file asked for:
 * Deno's own error names the hidden temp file beside it, which the user never mentioned. A
 * `Deno.errors.NotCapable`, so the CLI reports it as every refused grant is reported.
 */
export class CarNotWritableError extends Deno.errors.NotCapable {
  override name = "CarNotWritableError";
  constructor(readonly path: string) {
    super(
      `Requires write access to "${path}" and its folder (the CAR is written to a temp file ` +
        `beside it, then renamed): grant --allow-write=${dirname(path)}`,
    );
  }
}

/** An open CAR file: its roots and a one-pass stream of its blocks. Close it when done. */
export interface CarFileReader {
  readonly roots: readonly CID[];
  readonly blocks: AsyncIterable<Block>;
  close(): void;
}

/** Open `path` for reading. @throws NotFoundError, InvalidCarError. */
export async function readCarFile(
  path: string,
  options: AbortOptions = {},
): Promise<CarFileReader> {
  options.signal?.throwIfAborted();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new NotFoundError(`no such file: ${path}`);
    throw err;
  }
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      try {
        file.close();
      } catch {
        // already closed by the stream ending
      }
    }
  };
  try {
    const iterator = await CarBlockIterator.fromIterable(file.readable);
    const roots = (await iterator.getRoots()).map((c) => CID.decode(c.bytes));
    return { roots, blocks: carBlocks(iterator, path, close, options), close };
  } catch (err) {
    close();
    if (err instanceof UserError) throw err;
    throw new InvalidCarError(`${path} is not a CAR v1 file: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The blocks of an open CAR, as our CIDs; closes the file when done or on error. */
async function* carBlocks(
  iterator: CarBlockIterator,
  path: string,
  close: () => void,
  options: AbortOptions,
): AsyncGenerator<Block> {
  try {
    for await (const block of iterator) {
      options.signal?.throwIfAborted();
      yield { cid: CID.decode(block.cid.bytes), bytes: block.bytes };
    }
  } catch (err) {
    if (err instanceof UserError || (err as Error)?.name === "AbortError") throw err;
    throw new InvalidCarError(`${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    close();
  }
}

/**
 * Write `blocks` as a CAR v1 with `roots` to `path`, atomically (temp file, fsync, rename).
 * Returns how many blocks and bytes were written.
 */
export async function writeCarFile(
  path: string,
  roots: readonly CID[],
  blocks: Iterable<Block> | AsyncIterable<Block>,
  options: AbortOptions = {},
): Promise<{ blocks: number; bytes: number }> {
  options.signal?.throwIfAborted();
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) throw new CarNotWritableError(path);
    throw err;
  }
  let count = 0;
  let bytes = 0;
  try {
    // @ipld/car carries multiformats 14; our CIDs (13) have the same runtime shape (`bytes`,
    // `asCID`), which is all the writer reads, so only the types need a bridge.
    const { writer, out } = CarWriter.create([...roots] as unknown as CarRoots);
    const pump = (async () => {
      for await (const chunk of out) {
        bytes += chunk.length;
        let offset = 0;
        while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
      }
    })();
    try {
      for await (const block of blocks) {
        options.signal?.throwIfAborted();
        await writer.put(block as unknown as CarBlock);
        count++;
      }
    } finally {
      await writer.close();
      await pump;
    }
    await file.sync();
    file.close();
    await Deno.rename(temp, path);
  } catch (err) {
    try {
      file.close();
    } catch {
      // closed already
    }
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
  return { blocks: count, bytes };
}
