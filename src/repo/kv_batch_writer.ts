/**
 * `BatchWriter`: packs block writes into Deno KV atomic commits up to KV's limits, for
 * `KvIpldStore.put` and `putMany`. A chunked block is written as: chunks under a fresh random
 * `writeId` (the manifest rides in the commit that carries chunk 0), then the header in a later
 * (or the same) commit, guarded by checks that the block key is unchanged and that the manifest
 * was not reaped meanwhile. Until the header commit, the chunks are invisible orphans; a crash
 * leaves only those, and the manifest lets `fsckIpldStore` find them without listing (and so
 * reading) every chunk.
 *
 * @module
 */
import type { CID } from "../ipld/block.ts";
import {
  CHUNK_BYTES,
  type ChunkedHeader,
  type ChunkManifest,
  encodedKeyBytes,
  isChunkedHeader,
  KV_MAX_CHECKS,
  KV_MAX_COMMIT_BYTES,
  KV_MAX_COMMIT_KEY_BYTES,
  KV_MAX_MUTATIONS,
  type KvBlockKeys,
  newWriteId,
} from "./kv_block_layout.ts";

/** Rounds of a chunked put that lost a race (its manifest was reaped by fsck) before giving up. */
export const PUT_ATTEMPTS = 3;
/** Upper bound of a V8-serialized manifest (a CID, three numbers and field names). */
const SERIALIZED_RECORD_BYTES = 256;

/** A chunked block on its way in: its chunks may span several commits before its header. */
interface PendingChunked {
  cid: CID;
  bytes: Uint8Array;
  key: Deno.KvKey;
  id: Uint8Array;
  chunks: number;
  /** Versionstamp the block key had when we looked (`null`: absent); the header checks it. */
  observed: string | null;
  stamps: string[];
  /** Versionstamp of the commit that wrote the manifest, once committed. */
  manifestStamp?: string;
}

interface Mutation {
  key: Deno.KvKey;
  value: unknown;
  /** Chunk `index` of `write`, whose stamp is recorded after the commit. */
  write?: PendingChunked;
  index?: number;
  /** This mutation is the manifest of `write`. */
  manifest?: boolean;
}

/**
 * Packs sets into atomic commits up to Deno KV's limits. Inline blocks are plain sets; a chunked
 * block contributes its manifest and chunks, then its header (with its checks) once every chunk
 * is committed or in the commit being built.
 */
export class BatchWriter {
  #mutations: Mutation[] = [];
  #headers: PendingChunked[] = [];
  #checks = 0;
  #bytes = 0;
  #keyBytes = 0;
  #chunkedCids = new Set<string>();

  constructor(
    readonly kv: Deno.Kv,
    readonly keys: KvBlockKeys,
    readonly signal?: AbortSignal,
  ) {}

  /** Add an inline block; returns a promise only when a commit had to be flushed first. */
  addInline(cid: CID, bytes: Uint8Array): Promise<void> | undefined {
    const keyBytes = this.keys.blockKeyBytes(cid);
    const size = bytes.length + 2 * keyBytes;
    const m: Mutation = { key: this.keys.block(cid), value: bytes };
    if (this.#fits(1, 0, size, keyBytes)) {
      this.#mutations.push(m);
      this.#bytes += size;
      this.#keyBytes += keyBytes;
      return undefined;
    }
    return this.#add([m]);
  }

  async addChunked(cid: CID, bytes: Uint8Array): Promise<void> {
    const key = this.keys.block(cid);
    const name = cid.toString();
    if (this.#chunkedCids.has(name)) return; // twice in one putMany: the first write suffices
    this.#chunkedCids.add(name);
    const current = await this.kv.get(key);
    if (isChunkedHeader(current.value)) return; // already stored: idempotent
    // Absent, or a corrupt record the header commit will replace (fsck reaps its chunks).
    const write: PendingChunked = {
      cid,
      bytes,
      key,
      id: newWriteId(),
      chunks: Math.ceil(bytes.length / CHUNK_BYTES),
      observed: current.versionstamp,
      stamps: [],
    };
    await this.#writeChunks(write);
  }

  async #writeChunks(write: PendingChunked): Promise<void> {
    const manifest: ChunkManifest = {
      cid: write.cid.bytes,
      size: write.bytes.length,
      chunks: write.chunks,
      created: Date.now(),
    };
    await this.#add([
      { key: this.keys.manifest(write.id), value: manifest, write, manifest: true },
      { key: this.keys.chunk(write.id, 0), value: this.#chunk(write, 0), write, index: 0 },
    ]);
    for (let i = 1; i < write.chunks; i++) {
      await this.#add([
        { key: this.keys.chunk(write.id, i), value: this.#chunk(write, i), write, index: i },
      ]);
    }
    await this.#addHeader(write);
  }

  async finish(): Promise<void> {
    if (this.#mutations.length > 0) await this.#flush();
  }

  #chunk(write: PendingChunked, index: number): Uint8Array {
    return write.bytes.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES);
  }

  /** Add `list` to one commit, flushing first when it would not fit. */
  async #add(list: Mutation[]): Promise<void> {
    let keyBytes = 0;
    let bytes = 0;
    for (const x of list) {
      keyBytes += encodedKeyBytes(x.key);
      // Bytes are stored raw; anything else (a manifest) is V8-serialized: a generous bound.
      bytes += x.value instanceof Uint8Array ? x.value.length : SERIALIZED_RECORD_BYTES;
    }
    bytes += 2 * keyBytes;
    if (!this.#fits(list.length, 0, bytes, keyBytes)) await this.#flush();
    this.#mutations.push(...list);
    this.#bytes += bytes;
    this.#keyBytes += keyBytes;
  }

  async #addHeader(write: PendingChunked): Promise<void> {
    // Checks: the block key still holds what we saw, and (once committed) the manifest is ours.
    const checkKeys = encodedKeyBytes(write.key) * 2 +
      encodedKeyBytes(this.keys.manifest(write.id));
    const bytes = 2 * checkKeys + 96 + 24 * write.chunks;
    if (!this.#fits(1, 2, bytes, checkKeys)) await this.#flush();
    this.#headers.push(write);
    this.#checks += 2;
    this.#bytes += bytes;
    this.#keyBytes += checkKeys;
  }

  #fits(mutations: number, checks: number, bytes: number, keyBytes: number): boolean {
    return this.#mutations.length + this.#headers.length + mutations <= KV_MAX_MUTATIONS &&
      this.#checks + checks <= KV_MAX_CHECKS &&
      this.#bytes + bytes <= KV_MAX_COMMIT_BYTES &&
      this.#keyBytes + keyBytes <= KV_MAX_COMMIT_KEY_BYTES;
  }

  async #flush(): Promise<void> {
    this.signal?.throwIfAborted();
    const mutations = this.#mutations;
    const headers = this.#headers;
    this.#mutations = [];
    this.#headers = [];
    this.#checks = 0;
    this.#bytes = 0;
    this.#keyBytes = 0;
    if (mutations.length === 0 && headers.length === 0) return;

    const op = this.kv.atomic();
    for (const m of mutations) op.set(m.key, m.value);
    const inThisCommit = new Set(mutations.map((m) => m.write).filter((w) => w !== undefined));
    for (const w of headers) {
      op.check({ key: w.key, versionstamp: w.observed });
      if (w.manifestStamp !== undefined) {
        op.check({ key: this.keys.manifest(w.id), versionstamp: w.manifestStamp });
      }
      op.set(w.key, this.#header(w, inThisCommit.has(w)));
    }
    const res = await op.commit();
    if (res.ok) {
      this.#recordStamps(mutations, res.versionstamp);
      return;
    }
    // A header lost a race (same CID stored meanwhile, or fsck reaped our manifest). Commit the
    // data alone, then settle each header on its own.
    const dataOnly = this.kv.atomic();
    for (const m of mutations) dataOnly.set(m.key, m.value);
    this.#recordStamps(mutations, await commitOrThrow(dataOnly));
    for (const w of headers) await this.#settleHeader(w);
  }

  #recordStamps(mutations: Mutation[], versionstamp: string): void {
    for (const m of mutations) {
      if (m.write === undefined) continue;
      if (m.manifest) m.write.manifestStamp = versionstamp;
      else m.write.stamps[m.index!] = versionstamp;
    }
  }

  #header(w: PendingChunked, sameCommit: boolean): ChunkedHeader {
    const stamps: string[] = [];
    // A chunk without a recorded stamp is in the header's own commit: `""` stands for it.
    for (let i = 0; i < w.chunks; i++) stamps.push(sameCommit ? w.stamps[i] ?? "" : w.stamps[i]);
    return { size: w.bytes.length, chunks: w.chunks, id: w.id, stamps };
  }

  /** Commit one header alone, resolving the race it lost; rewrite the block if it was reaped. */
  async #settleHeader(w: PendingChunked): Promise<void> {
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      this.signal?.throwIfAborted();
      const res = await this.kv.atomic()
        .check({ key: w.key, versionstamp: w.observed })
        .check({ key: this.keys.manifest(w.id), versionstamp: w.manifestStamp! })
        .set(w.key, this.#header(w, false))
        .commit();
      if (res.ok) return;
      const [current, manifest] = await this.kv.getMany([w.key, this.keys.manifest(w.id)]);
      if (isChunkedHeader(current.value)) {
        // Someone else stored this block: ours is a duplicate, drop it.
        await deleteWrite(this.kv, this.keys, w.id, w.chunks);
        return;
      }
      w.observed = current.versionstamp;
      if (manifest.versionstamp !== w.manifestStamp) {
        // fsck reaped our chunks: start over under a fresh write id.
        await deleteWrite(this.kv, this.keys, w.id, w.chunks);
        const again = new BatchWriter(this.kv, this.keys, this.signal);
        await again.addChunked(w.cid, w.bytes);
        await again.finish();
        return;
      }
    }
    throw new Error(`block ${w.cid}: put kept racing concurrent writes`);
  }
}

/** Delete the chunks and manifest of write `id`, in as few commits as the limits allow. */
export async function deleteWrite(
  kv: Deno.Kv,
  keys: KvBlockKeys,
  id: Uint8Array,
  chunks: number,
): Promise<void> {
  const all: Deno.KvKey[] = [];
  for (let i = 0; i < chunks; i++) all.push(keys.chunk(id, i));
  all.push(keys.manifest(id)); // last: while a chunk may remain, its manifest stays findable
  for (let i = 0; i < all.length; i += KV_MAX_MUTATIONS) {
    const op = kv.atomic();
    for (const key of all.slice(i, i + KV_MAX_MUTATIONS)) op.delete(key);
    await commitOrThrow(op);
  }
}

export async function commitOrThrow(op: Deno.AtomicOperation): Promise<string> {
  const res = await op.commit();
  if (!res.ok) throw new Error("Deno KV commit without checks failed unexpectedly");
  return res.versionstamp;
}
