/**
 * `fsckIpldStore`: integrity check (and repair) of a `KvIpldStore`'s key space.
 *
 * The cheap pass runs at every daemon start, so it touches only what crashes can break: chunked
 * writes. It lists the chunk manifests (one small record per block over 64 KiB, never the
 * chunks or the inline blocks), reads the header each manifest names, and proves each live
 * block's chunks present and unchanged with check-only atomic commits on their versionstamps,
 * which read no chunk bytes. Orphans (a crash between the chunk commits and the header commit,
 * or between a delete's two commits) are the only thing it lists chunks for.
 *
 * The deep pass (`deep: true`) also reads every block, rehashes it, and lists every chunk key to
 * catch chunks no manifest accounts for. It reads the whole store.
 *
 * @module
 */
import { CorruptRecordError } from "../errors.ts";
import { CID, verifyBlock } from "../ipld/block.ts";
import {
  type ChunkedHeader,
  type ChunkManifest,
  cidOfBlockKey,
  isChunkedHeader,
  isChunkManifest,
  KvBlockKeys,
  readChunked,
} from "./kv_ipld_store.ts";
import { toHex } from "../hex.ts";

/** Deno KV limits used here: 100 checks and 1000 mutations per atomic, 10 keys per getMany. */
const KV_MAX_CHECKS = 100;
const KV_MAX_MUTATIONS = 1000;
const KV_MAX_GET_MANY = 10;
/** List page size: chunk pages are 64 KiB values each, so keep pages modest. */
const LIST_BATCH = 100;

export interface FsckOptions {
  /** Delete orphan chunks, broken blocks and (deep) hash mismatches. Default false: report only. */
  repair?: boolean;
  /** Also read and rehash every block and list every chunk. Default false (the cheap pass). */
  deep?: boolean;
  signal?: AbortSignal;
  /** Key space of the store, as given to `KvIpldStore`; defaults to `["blocks"]`. */
  keyPrefix?: Deno.KvKey;
}

export interface FsckReport {
  /** Blocks examined: the chunked blocks in the cheap pass, every block in the deep pass. */
  blocks: number;
  /** Chunked blocks examined (those over 64 KiB). */
  chunkedBlocks: number;
  /** Chunk records no live header references (found; deleted too when repairing). */
  orphanChunks: number;
  /** CIDs whose record is unreadable: missing or bad chunks, or a value of the wrong type. */
  brokenBlocks: string[];
  /** CIDs whose bytes do not hash to the CID (deep pass only). */
  hashMismatches: string[];
  /** Records removed by repair: each orphan chunk, broken block and mismatched block counts one. */
  repaired: number;
}

/**
 * Check the block store in `kv` and, with `repair`, remove what cannot be read. Never throws for
 * a damaged store: damage goes into the report. Throws only on abort or a KV failure.
 */
export async function fsckIpldStore(kv: Deno.Kv, options: FsckOptions = {}): Promise<FsckReport> {
  options.signal?.throwIfAborted();
  const run = new FsckRun(kv, new KvBlockKeys(options.keyPrefix ?? ["blocks"]), options);
  await run.cheap();
  if (options.deep) await run.deep();
  return run.report;
}

/** A live chunked block whose chunk presence is still to be proven. */
interface LiveChunked {
  cid: CID;
  header: ChunkedHeader;
  headerStamp: string;
}

class FsckRun {
  readonly report: FsckReport = {
    blocks: 0,
    chunkedBlocks: 0,
    orphanChunks: 0,
    brokenBlocks: [],
    hashMismatches: [],
    repaired: 0,
  };
  /** Hex write ids that have a manifest, for the deep chunk scan. */
  readonly #manifestIds = new Set<string>();
  /** Hex write ids some header references (deep pass), also not orphans. */
  readonly #headerIds = new Set<string>();
  /** CIDs already reported, so the deep pass does not report them twice. */
  readonly #reported = new Set<string>();
  readonly #repair: boolean;
  readonly #signal?: AbortSignal;

  constructor(readonly kv: Deno.Kv, readonly keys: KvBlockKeys, options: FsckOptions) {
    this.#repair = options.repair ?? false;
    this.#signal = options.signal;
  }

  async cheap(): Promise<void> {
    let page: Deno.KvEntry<unknown>[] = [];
    for await (const entry of this.kv.list({ prefix: this.keys.manifests }, { batchSize: 500 })) {
      page.push(entry);
      if (page.length === KV_MAX_GET_MANY) {
        await this.#manifestPage(page);
        page = [];
      }
    }
    if (page.length > 0) await this.#manifestPage(page);
  }

  async #manifestPage(page: Deno.KvEntry<unknown>[]): Promise<void> {
    this.#signal?.throwIfAborted();
    const live: LiveChunked[] = [];
    const lookups: { id: Uint8Array; manifest: Deno.KvEntry<unknown>; cid?: CID }[] = [];
    for (const entry of page) {
      const id = entry.key[this.keys.manifests.length];
      if (!(id instanceof Uint8Array) || entry.key.length !== this.keys.manifests.length + 1) {
        continue; // not ours: the layout never writes such a key
      }
      this.#manifestIds.add(toHex(id));
      let cid: CID | undefined;
      if (isChunkManifest(entry.value) && !entry.value.dead) cid = decodeCid(entry.value.cid);
      lookups.push({ id, manifest: entry, cid });
    }
    const withCid = lookups.filter((l) => l.cid !== undefined);
    const headers = withCid.length === 0
      ? []
      : await this.kv.getMany(withCid.map((l) => this.keys.block(l.cid!)));
    const headerOf = new Map(withCid.map((l, i) => [l, headers[i]]));
    for (const l of lookups) {
      const header = headerOf.get(l);
      if (l.cid === undefined || header === undefined || header.versionstamp === null) {
        await this.#orphan(l.id, l.manifest, undefined);
        continue;
      }
      const value = header.value;
      if (isChunkedHeader(value) && sameBytes(value.id, l.id)) {
        live.push({ cid: l.cid, header: value, headerStamp: header.versionstamp });
      } else if (value instanceof Uint8Array || isChunkedHeader(value)) {
        await this.#orphan(l.id, l.manifest, header); // the block is stored another way
      } else {
        await this.#broken(l.cid, header); // the block key holds garbage
        await this.#orphan(l.id, l.manifest, undefined);
      }
    }
    this.report.blocks += live.length;
    this.report.chunkedBlocks += live.length;
    await this.#proveChunks(live);
  }

  /** Check-only commits on the chunks' versionstamps: pass means every chunk is there, intact. */
  async #proveChunks(live: LiveChunked[]): Promise<void> {
    let group: LiveChunked[] = [];
    let checks = 0;
    const flush = async () => {
      if (group.length === 0) return;
      if (!(await this.#checkAll(group))) {
        // Some block in the group failed: find which, one by one.
        for (const block of group) {
          if (block.header.chunks > KV_MAX_CHECKS || !(await this.#checkAll([block]))) {
            await this.#brokenChunked(block);
          }
        }
      }
      group = [];
      checks = 0;
    };
    for (const block of live) {
      if (block.header.chunks > KV_MAX_CHECKS) {
        // Too many chunks for one check-only commit (blocks over 6 MiB): read them instead.
        await this.#readOrBreak(block);
        continue;
      }
      if (checks + block.header.chunks > KV_MAX_CHECKS) await flush();
      group.push(block);
      checks += block.header.chunks;
    }
    await flush();
  }

  async #checkAll(group: LiveChunked[]): Promise<boolean> {
    const op = this.kv.atomic();
    for (const { header, headerStamp } of group) {
      for (let i = 0; i < header.chunks; i++) {
        op.check({
          key: this.keys.chunk(header.id, i),
          versionstamp: header.stamps[i] || headerStamp,
        });
      }
    }
    return (await op.commit()).ok;
  }

  async #readOrBreak(block: LiveChunked): Promise<void> {
    try {
      await readChunked(this.kv, this.keys, block.cid, block.header, block.headerStamp);
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
      await this.#brokenChunked(block);
    }
  }

  /** A header whose chunks are missing or changed: report; repair removes header, then chunks. */
  async #brokenChunked(block: LiveChunked): Promise<void> {
    const name = block.cid.toString();
    this.#reported.add(name);
    this.report.brokenBlocks.push(name);
    if (!this.#repair) return;
    const key = this.keys.block(block.cid);
    const res = await this.kv.atomic().check({ key, versionstamp: block.headerStamp }).delete(key)
      .commit();
    if (!res.ok) return; // changed meanwhile: leave it to the next run
    this.report.repaired++;
    await this.#deleteChunks(block.header.id);
    await this.kv.delete(this.keys.manifest(block.header.id));
  }

  /** A block key holding a value of the wrong type: report; repair deletes it. */
  async #broken(cid: CID, entry: Deno.KvEntryMaybe<unknown>): Promise<void> {
    const name = cid.toString();
    if (this.#reported.has(name)) return;
    this.#reported.add(name);
    this.report.brokenBlocks.push(name);
    if (!this.#repair || entry.versionstamp === null) return;
    const key = this.keys.block(cid);
    const res = await this.kv.atomic().check({ key, versionstamp: entry.versionstamp }).delete(key)
      .commit();
    if (res.ok) this.report.repaired++;
  }

  /**
   * Write `id` is not referenced by its block's header: count its chunks and, when repairing,
   * mark the manifest dead (guarded by the header's versionstamp, so a put that committed its
   * header meanwhile wins, and a put about to commit fails its manifest check), then delete the
   * chunks, then the manifest.
   */
  async #orphan(
    id: Uint8Array,
    manifest: Deno.KvEntry<unknown>,
    header: Deno.KvEntryMaybe<unknown> | undefined,
  ): Promise<void> {
    const chunkKeys: Deno.KvKey[] = [];
    for await (const entry of this.kv.list({ prefix: this.keys.chunksOf(id) }, { batchSize: 50 })) {
      chunkKeys.push(entry.key);
    }
    if (!this.#repair) {
      this.report.orphanChunks += chunkKeys.length;
      return;
    }
    const op = this.kv.atomic().check(manifest);
    if (header !== undefined) op.check(header);
    else if (isChunkManifest(manifest.value) && !manifest.value.dead) {
      const cid = decodeCid(manifest.value.cid);
      if (cid) op.check({ key: this.keys.block(cid), versionstamp: null });
    }
    const dead: ChunkManifest | unknown = isChunkManifest(manifest.value)
      ? { ...manifest.value, dead: true }
      : manifest.value;
    const res = await op.set(manifest.key, dead).commit();
    if (!res.ok) return; // a writer got there first: not an orphan after all
    this.report.orphanChunks += chunkKeys.length;
    await this.#deleteKeys(chunkKeys);
    this.report.repaired += chunkKeys.length;
    await this.kv.delete(manifest.key);
  }

  async #deleteChunks(id: Uint8Array): Promise<void> {
    const chunkKeys: Deno.KvKey[] = [];
    for await (const entry of this.kv.list({ prefix: this.keys.chunksOf(id) }, { batchSize: 50 })) {
      chunkKeys.push(entry.key);
    }
    await this.#deleteKeys(chunkKeys);
  }

  async #deleteKeys(keys: Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += KV_MAX_MUTATIONS) {
      this.#signal?.throwIfAborted();
      const op = this.kv.atomic();
      for (const key of keys.slice(i, i + KV_MAX_MUTATIONS)) op.delete(key);
      await op.commit();
    }
  }

  /** Read and rehash every block; then find chunks no manifest accounts for. */
  async deep(): Promise<void> {
    this.report.blocks = 0;
    const it = this.kv.list({ prefix: this.keys.blocks }, { batchSize: LIST_BATCH });
    for await (const entry of it) {
      this.#signal?.throwIfAborted();
      const cid = cidOfBlockKey(this.keys, entry.key);
      if (cid === undefined) {
        // Not a CID: nothing can ever ask for it. Report by key, delete when repairing.
        this.report.brokenBlocks.push(`key:${keyHex(entry.key)}`);
        if (this.#repair) {
          await this.kv.delete(entry.key);
          this.report.repaired++;
        }
        continue;
      }
      this.report.blocks++;
      const name = cid.toString();
      if (this.#reported.has(name)) continue;
      let bytes: Uint8Array | undefined;
      if (entry.value instanceof Uint8Array) bytes = entry.value;
      else if (isChunkedHeader(entry.value)) {
        this.#headerIds.add(toHex(entry.value.id));
        if (!this.#manifestIds.has(toHex(entry.value.id)) && this.#repair) {
          // A header whose manifest went missing: recreate it so later runs can track the write.
          const manifest: ChunkManifest = {
            cid: cid.bytes,
            size: entry.value.size,
            chunks: entry.value.chunks,
            created: Date.now(),
          };
          await this.kv.set(this.keys.manifest(entry.value.id), manifest);
          this.#manifestIds.add(toHex(entry.value.id));
        }
        try {
          bytes = await readChunked(this.kv, this.keys, cid, entry.value, entry.versionstamp);
        } catch (err) {
          if (!(err instanceof CorruptRecordError)) throw err;
          await this.#brokenChunked({ cid, header: entry.value, headerStamp: entry.versionstamp });
          continue;
        }
        if (bytes === undefined) continue; // deleted under us
      } else {
        await this.#broken(cid, entry);
        continue;
      }
      if (!verifyBlock(cid, bytes)) {
        this.report.hashMismatches.push(name);
        this.#reported.add(name);
        if (this.#repair) {
          const key = this.keys.block(cid);
          const res = await this.kv.atomic().check(entry).delete(key).commit();
          if (res.ok) {
            this.report.repaired++;
            if (isChunkedHeader(entry.value)) {
              await this.#deleteChunks(entry.value.id);
              await this.kv.delete(this.keys.manifest(entry.value.id));
            }
          }
        }
      }
    }
    await this.#deepChunks();
  }

  /** Chunks whose write id has no manifest: invisible to the cheap pass, orphans all the same. */
  async #deepChunks(): Promise<void> {
    const stray: Deno.KvKey[] = [];
    const it = this.kv.list({ prefix: this.keys.chunks }, { batchSize: LIST_BATCH });
    for await (const entry of it) {
      const id = entry.key[this.keys.chunks.length];
      if (id instanceof Uint8Array) {
        const name = toHex(id);
        if (this.#manifestIds.has(name) || this.#headerIds.has(name)) continue;
      }
      stray.push(entry.key);
    }
    this.report.orphanChunks += stray.length;
    if (this.#repair) {
      await this.#deleteKeys(stray);
      this.report.repaired += stray.length;
    }
  }
}

function decodeCid(bytes: Uint8Array): CID | undefined {
  try {
    return CID.decode(bytes);
  } catch {
    return undefined;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function keyHex(key: Deno.KvKey): string {
  return key.map((p) => p instanceof Uint8Array ? toHex(p) : String(p)).join("/");
}
